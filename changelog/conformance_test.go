package changelog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/samsa-streams/samsa/internal/engine"
	"github.com/samsa-streams/samsa/internal/stores"
	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var (
	task0 = processor.TaskID{Subtopology: 0, Partition: 0}
	task1 = processor.TaskID{Subtopology: 0, Partition: 1}
)

// newEngine makes an engine of either kind over dir.
type newEngine func(t *testing.T, dir string) *Engine

func engineOf(inMemory bool, appID string) newEngine {
	return func(t *testing.T, dir string) *Engine {
		t.Helper()
		e, err := NewEngine(Options{Dir: dir, ApplicationID: appID, InMemory: inMemory, Logger: quiet, CacheSize: 8 << 20, MemTableSize: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.Close() })
		return e
	}
}

// TestConformance runs the one suite against both engines.
func TestConformance(t *testing.T) {
	t.Run("pebble", func(t *testing.T) { runConformance(t, engineOf(false, "app")) })
	t.Run("memory", func(t *testing.T) { runConformance(t, engineOf(true, "app")) })
}

// runConformance checks everything a store promises, against the engine
// that mk makes.
func runConformance(t *testing.T, mk newEngine) {
	t.Run("KeyValue", func(t *testing.T) { testKeyValue(t, mk) })
	t.Run("ReadYourWrites", func(t *testing.T) { testReadYourWrites(t, mk) })
	t.Run("IterateWhileWriting", func(t *testing.T) { testIterateWhileWriting(t, mk) })
	t.Run("CommitWithOffsets", func(t *testing.T) { testCommitWithOffsets(t, mk) })
	t.Run("Abort", func(t *testing.T) { testAbort(t, mk) })
	t.Run("Reopen", func(t *testing.T) { testReopen(t, mk) })
	t.Run("NewEngine", func(t *testing.T) { testNewEngine(t, mk) })
	t.Run("Isolation", func(t *testing.T) { testIsolation(t, mk) })
	t.Run("DropRange", func(t *testing.T) { testDropRange(t, mk) })
	t.Run("Restore", func(t *testing.T) { testRestore(t, mk) })
	t.Run("CommitAll", func(t *testing.T) { testCommitAll(t, mk) })
	t.Run("Wipe", func(t *testing.T) { testWipe(t, mk) })
	t.Run("Provider", func(t *testing.T) { testProvider(t, mk) })
	t.Run("WindowStore", func(t *testing.T) { testWindowStore(t, mk) })
	t.Run("WindowStoreAbort", func(t *testing.T) { testWindowStoreAbort(t, mk) })
	t.Run("WindowStoreReopen", func(t *testing.T) { testWindowStoreReopen(t, mk) })
	t.Run("SessionStore", func(t *testing.T) { testSessionStore(t, mk) })
}

func open(t *testing.T, e *Engine, task processor.TaskID, name string) *Store {
	t.Helper()
	s, err := e.Open(task, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func commit(t *testing.T, s *Store) {
	t.Helper()
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
}

// dump renders a sequence of entries as "k=v,k=v".
func dump(t *testing.T, seq func(func(processor.KeyValue[[]byte, []byte], error) bool)) string {
	t.Helper()
	var parts []string
	for kv, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, string(kv.Key)+"="+string(kv.Value))
	}
	return strings.Join(parts, ",")
}

func all(t *testing.T, s *Store) string { t.Helper(); return dump(t, s.Range(nil, nil)) }

func count(t *testing.T, s *Store) int64 {
	t.Helper()
	n, err := s.ApproximateCount()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func checkpoint(t *testing.T, s *Store) string {
	t.Helper()
	off, ok, err := s.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return "none"
	}
	return fmt.Sprint(off)
}

func testKeyValue(t *testing.T, mk newEngine) {
	e := mk(t, t.TempDir())
	s := open(t, e, task0, "kv")
	kv := stores.NewKeyValueStore(s, serde.String, serde.String)
	for _, k := range []string{"b", "a", "c", "ab", "d", ""} {
		if err := kv.Put(k, "v"+k); err != nil {
			t.Fatal(err)
		}
	}
	if v, ok, err := kv.Get("ab"); err != nil || !ok || v != "vab" {
		t.Fatalf("Get(ab) = %q %v %v", v, ok, err)
	}
	if _, ok, _ := kv.Get("zz"); ok {
		t.Fatal("Get(zz) found")
	}
	if old, existed, _ := kv.PutIfAbsent("a", "zzz"); !existed || old != "va" {
		t.Fatalf("PutIfAbsent(a) = %q %v", old, existed)
	}
	if v, existed, _ := kv.PutIfAbsent("e", "ve"); existed || v != "ve" {
		t.Fatalf("PutIfAbsent(e) = %q %v", v, existed)
	}
	if old, existed, _ := kv.Delete("d"); !existed || old != "vd" {
		t.Fatalf("Delete(d) = %q %v", old, existed)
	}
	if _, existed, _ := kv.Delete("d"); existed {
		t.Fatal("Delete(d) twice found it")
	}
	// An empty value is a value, not a delete.
	if err := s.Put([]byte("empty"), []byte{}); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		if got := all(t, s); got != "=v,a=va,ab=vab,b=vb,c=vc,e=ve,empty=" {
			t.Fatalf("%s: All = %s", when, got)
		}
		if got := dump(t, s.Range([]byte("ab"), []byte("c"))); got != "ab=vab,b=vb,c=vc" {
			t.Fatalf("%s: Range(ab, c) = %s (bounds are inclusive)", when, got)
		}
		if got := dump(t, s.Range([]byte("b"), nil)); got != "b=vb,c=vc,e=ve,empty=" {
			t.Fatalf("%s: Range(b, nil) = %s", when, got)
		}
		if got := dump(t, s.Range(nil, []byte("a"))); got != "=v,a=va" {
			t.Fatalf("%s: Range(nil, a) = %s", when, got)
		}
		if got := dump(t, s.PrefixScan([]byte("a"))); got != "a=va,ab=vab" {
			t.Fatalf("%s: PrefixScan(a) = %s", when, got)
		}
		if got := dump(t, s.PrefixScan([]byte("e"))); got != "e=ve,empty=" {
			t.Fatalf("%s: PrefixScan(e) = %s", when, got)
		}
		var keys []string
		for kv, err := range kv.All() {
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, kv.Key)
		}
		if strings.Join(keys, ",") != ",a,ab,b,c,e,empty" {
			t.Fatalf("%s: typed All = %v", when, keys)
		}
		if n := count(t, s); n != 7 {
			t.Fatalf("%s: ApproximateCount = %d, want 7", when, n)
		}
		if v, ok, _ := s.Get([]byte("empty")); !ok || v == nil || len(v) != 0 {
			t.Fatalf("%s: Get(empty) = %q %v", when, v, ok)
		}
		for range s.Range(nil, nil) {
			break // an early stop leaks nothing
		}
	}
	check("buffered")
	commit(t, s)
	check("committed")
	// 0xff keys and prefixes.
	_ = s.Put([]byte{0xff}, []byte("x"))
	_ = s.Put([]byte{0xff, 0xff, 1}, []byte("y"))
	commit(t, s)
	if got := dump(t, s.PrefixScan([]byte{0xff, 0xff})); got != "\xff\xff\x01=y" {
		t.Fatalf("PrefixScan(ff ff) = %q", got)
	}
}

func testReadYourWrites(t *testing.T, mk newEngine) {
	e := mk(t, t.TempDir())
	s := open(t, e, task0, "kv")
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		_ = s.Put([]byte(k), []byte("1"))
	}
	commit(t, s)
	// Over committed data: update, delete, insert before, between, after.
	_ = s.Put([]byte("b"), []byte("2"))
	_ = s.Delete([]byte("c"))
	_ = s.Put([]byte("0"), []byte("2"))
	_ = s.Put([]byte("bb"), []byte("2"))
	_ = s.Put([]byte("z"), []byte("2"))
	_ = s.Delete([]byte("nothing"))
	if got := all(t, s); got != "0=2,a=1,b=2,bb=2,d=1,e=1,z=2" {
		t.Fatalf("merged = %s", got)
	}
	if got := dump(t, s.Range([]byte("b"), []byte("d"))); got != "b=2,bb=2,d=1" {
		t.Fatalf("merged Range(b, d) = %s", got)
	}
	if _, ok, _ := s.Get([]byte("c")); ok {
		t.Fatal("a buffered delete is not seen by Get")
	}
	if v, _, _ := s.Get([]byte("b")); string(v) != "2" {
		t.Fatalf("Get(b) = %s", v)
	}
	if n := count(t, s); n != 7 {
		t.Fatalf("count = %d, want 7", n)
	}
	if s.buf.Len() != 6 || s.PendingBytes() <= 0 {
		t.Fatalf("Pending = %d, %d bytes", s.buf.Len(), s.PendingBytes())
	}
	// Put after delete, delete after put.
	_ = s.Put([]byte("c"), []byte("3"))
	_ = s.Delete([]byte("z"))
	if got := all(t, s); got != "0=2,a=1,b=2,bb=2,c=3,d=1,e=1" {
		t.Fatalf("merged again = %s", got)
	}
	commit(t, s)
	if got := all(t, s); got != "0=2,a=1,b=2,bb=2,c=3,d=1,e=1" {
		t.Fatalf("committed = %s", got)
	}
	if s.buf.Len() != 0 || s.PendingBytes() != 0 {
		t.Fatal("buffer not empty after commit")
	}
	// Writes are reported in order, deletes as nil values; the reported
	// slices are copies.
	var log []string
	s.OnWrite = func(k, v []byte) {
		if v == nil {
			log = append(log, "del "+string(k))
		} else {
			log = append(log, string(k)+"="+string(v))
		}
	}
	kb, vb := []byte("k"), []byte("v")
	_ = s.Put(kb, vb)
	kb[0], vb[0] = 'X', 'X'
	_ = s.Delete([]byte("a"))
	_ = s.Put([]byte("n"), nil) // nil deletes
	if strings.Join(log, ";") != "k=v;del a;del n" {
		t.Fatalf("OnWrite saw %v", log)
	}
	if v, ok, _ := s.Get([]byte("k")); !ok || string(v) != "v" {
		t.Fatal("the store kept the caller's slice instead of a copy")
	}
}

// testIterateWhileWriting: a store written inside its own iteration (the
// classic "update every entry" loop) neither breaks nor repeats entries.
func testIterateWhileWriting(t *testing.T, mk newEngine) {
	e := mk(t, t.TempDir())
	s := open(t, e, task0, "kv")
	for i := range 1000 {
		_ = s.Put(fmt.Appendf(nil, "k%04d", i), []byte("0"))
	}
	if len(all(t, s)) == 0 {
		t.Fatal("empty")
	}
	for round, committed := range []bool{false, true} {
		if committed {
			commit(t, s)
		}
		n := 0
		for kv, err := range s.Range(nil, nil) {
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(kv.Key, []byte("k")) {
				continue
			}
			n++
			_ = s.Put(kv.Key, []byte(fmt.Sprint(round+1)))
			// Writes ahead of the position are seen; that is fine, but
			// they must not be keys the loop then rewrites forever.
			_ = s.Put(append([]byte("z"), kv.Key...), []byte("x"))
		}
		if n != 1000 {
			t.Fatalf("round %d: visited %d entries, want 1000", round, n)
		}
		for kv, err := range s.PrefixScan([]byte("k")) {
			if err != nil || string(kv.Value) != fmt.Sprint(round+1) {
				t.Fatalf("round %d: %s = %s (%v)", round, kv.Key, kv.Value, err)
			}
		}
	}
}

func testCommitWithOffsets(t *testing.T, mk newEngine) {
	e := mk(t, t.TempDir())
	s := open(t, e, task0, "kv")
	if got := checkpoint(t, s); got != "none" {
		t.Fatalf("fresh checkpoint = %s", got)
	}
	_ = s.Put([]byte("a"), []byte("1"))
	s.AckOffset(40)
	s.AckOffset(41)
	s.AckOffset(39) // acks may come out of order
	if got := checkpoint(t, s); got != "none" {
		t.Fatal("checkpoint moved before the commit")
	}
	commit(t, s)
	if got := checkpoint(t, s); got != "42" {
		t.Fatalf("checkpoint = %s, want 42", got)
	}
	// A commit without acks keeps the checkpoint.
	_ = s.Put([]byte("b"), []byte("1"))
	commit(t, s)
	if got := checkpoint(t, s); got != "42" {
		t.Fatalf("checkpoint = %s, want 42 still", got)
	}
	// Acks alone (a store whose writes were all flushed) move it.
	s.AckOffset(50)
	commit(t, s)
	if got := checkpoint(t, s); got != "51" {
		t.Fatalf("checkpoint = %s, want 51", got)
	}
	if got := all(t, s); got != "a=1,b=1" {
		t.Fatalf("state = %s", got)
	}
}

func testAbort(t *testing.T, mk newEngine) {
	e := mk(t, t.TempDir())
	s := open(t, e, task0, "kv")
	_ = s.Put([]byte("a"), []byte("1"))
	_ = s.Put([]byte("b"), []byte("1"))
	s.AckOffset(9)
	commit(t, s)
	_ = s.Put([]byte("a"), []byte("2"))
	_ = s.Delete([]byte("b"))
	_ = s.Put([]byte("c"), []byte("2"))
	_ = s.DropRange([]byte("a"), []byte("b"))
	s.AckOffset(20)
	var events []engine.StoreEvent
	engine.OnStoreEvent(s, func(ev engine.StoreEvent) { events = append(events, ev) })
	s.Abort()
	if got := all(t, s); got != "a=1,b=1" {
		t.Fatalf("after abort = %s", got)
	}
	if s.buf.Len() != 0 {
		t.Fatal("buffer kept after abort")
	}
	// The aborted acks are forgotten: the next commit keeps 10.
	commit(t, s)
	if got := checkpoint(t, s); got != "10" {
		t.Fatalf("checkpoint = %s, want 10", got)
	}
	if err := s.Restore(nil, 11); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(events, []engine.StoreEvent{engine.StoreAborted, engine.StoreCommitted, engine.StoreRestored}) {
		t.Fatalf("OnStoreEvent saw %v", events)
	}
}

func testReopen(t *testing.T, mk newEngine) {
	e := mk(t, t.TempDir())
	s, err := e.Open(task0, "kv")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Open(task0, "kv"); err == nil {
		t.Fatal("a store opened twice")
	}
	_ = s.Put([]byte("a"), []byte("1"))
	s.AckOffset(4)
	commit(t, s)
	_ = s.Put([]byte("b"), []byte("uncommitted"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Put([]byte("x"), []byte("1")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Put on a closed store = %v", err)
	}
	s = open(t, e, task0, "kv")
	if got := all(t, s); got != "a=1" {
		t.Fatalf("reopened = %s", got)
	}
	if got := checkpoint(t, s); got != "5" {
		t.Fatalf("reopened checkpoint = %s", got)
	}
}

// testNewEngine: a new engine over the same directory after the old one
// went away without committing (a crash, as far as the files know). Pebble
// keeps exactly the last commit; memory keeps nothing, so the runtime
// restores from the changelog's start.
func testNewEngine(t *testing.T, mk newEngine) {
	dir := t.TempDir()
	e := mk(t, dir)
	s, _ := e.Open(task0, "kv")
	_ = s.Put([]byte("a"), []byte("1"))
	s.AckOffset(0)
	commit(t, s)
	_ = s.Put([]byte("b"), []byte("uncommitted"))
	_ = e.Close()
	e2 := mk(t, dir)
	s2 := open(t, e2, task0, "kv")
	want, wantCk := "a=1", "1"
	if e2.InMemory() {
		want, wantCk = "", "none"
	}
	if got, ck := all(t, s2), checkpoint(t, s2); got != want || ck != wantCk {
		t.Fatalf("new engine sees %q at checkpoint %s, want %q at %s", got, ck, want, wantCk)
	}
	if _, err := e.Open(task0, "kv"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Open on a closed engine = %v", err)
	}
}

func testIsolation(t *testing.T, mk newEngine) {
	e := mk(t, t.TempDir())
	// Store names that prefix each other, the same name in two tasks.
	a, ab := open(t, e, task0, "a"), open(t, e, task0, "ab")
	a1 := open(t, e, task1, "a")
	_ = a.Put([]byte("k"), []byte("a"))
	_ = ab.Put([]byte("k"), []byte("ab"))
	_ = a1.Put([]byte("k"), []byte("a1"))
	a.AckOffset(1)
	ab.AckOffset(2)
	for _, s := range []*Store{a, ab, a1} {
		commit(t, s)
	}
	for s, want := range map[*Store]string{a: "k=a", ab: "k=ab", a1: "k=a1"} {
		if got := all(t, s); got != want {
			t.Fatalf("%s/%s = %s, want %s", s.task, s.Name(), got, want)
		}
		if n := count(t, s); n != 1 {
			t.Fatalf("%s/%s count = %d", s.task, s.Name(), n)
		}
	}
	if checkpoint(t, a) != "2" || checkpoint(t, ab) != "3" || checkpoint(t, a1) != "none" {
		t.Fatal("checkpoints mixed up between stores")
	}
	if _, err := e.Open(task0, "bad\x00name"); err == nil {
		t.Fatal("a name with a 0 byte was accepted")
	}
}

func testDropRange(t *testing.T, mk newEngine) {
	e := mk(t, t.TempDir())
	s := open(t, e, task0, "kv")
	for _, k := range []string{"a1", "a2", "b1", "b2", "c1"} {
		_ = s.Put([]byte(k), []byte("old"))
	}
	commit(t, s)
	_ = s.Put([]byte("b3"), []byte("buffered"))
	if err := s.DropRange([]byte("a2"), []byte("c")); err != nil {
		t.Fatal(err)
	}
	_ = s.Put([]byte("b9"), []byte("new")) // after the drop: survives it
	check := func(when string) {
		t.Helper()
		if got := all(t, s); got != "a1=old,b9=new,c1=old" {
			t.Fatalf("%s: %s", when, got)
		}
		if _, ok, _ := s.Get([]byte("b1")); ok {
			t.Fatalf("%s: Get sees a dropped key", when)
		}
		if n := count(t, s); n != 3 {
			t.Fatalf("%s: count = %d", when, n)
		}
	}
	check("buffered")
	commit(t, s)
	check("committed")
	// An aborted drop leaves the data.
	_ = s.DropRange([]byte("a"), []byte("z"))
	if got := all(t, s); got != "" {
		t.Fatalf("dropped everything: %s", got)
	}
	s.Abort()
	check("aborted")
}

func testRestore(t *testing.T, mk newEngine) {
	e := mk(t, t.TempDir())
	s := open(t, e, task0, "kv")
	var writes []string
	s.OnWrite = func(k, _ []byte) { writes = append(writes, string(k)) }
	recs := []Record{{Key: []byte("x"), Value: []byte("1")}, {Key: []byte("y"), Value: []byte("2")}, {Key: []byte("x"), Value: nil}, {Key: []byte("z"), Value: []byte{}}}
	if err := s.Restore(recs, 7); err != nil {
		t.Fatal(err)
	}
	if got := all(t, s); got != "y=2,z=" {
		t.Fatalf("restored = %s", got)
	}
	if got := checkpoint(t, s); got != "7" {
		t.Fatalf("checkpoint = %s", got)
	}
	// An empty batch moves the checkpoint (past transaction markers).
	if err := s.Restore(nil, 9); err != nil {
		t.Fatal(err)
	}
	if got := checkpoint(t, s); got != "9" {
		t.Fatalf("checkpoint = %s", got)
	}
	// A batch far larger than one Pebble batch: split, all applied.
	big := make([]Record, 30000)
	val := bytes.Repeat([]byte("v"), 500)
	for i := range big {
		big[i] = Record{Key: fmt.Appendf(nil, "big%05d", i), Value: val}
	}
	if err := s.Restore(big, 30009); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s); n != 30002 {
		t.Fatalf("count = %d, want 30002", n)
	}
	if got := checkpoint(t, s); got != "30009" {
		t.Fatalf("checkpoint = %s", got)
	}
	if len(writes) != 0 {
		t.Fatalf("restore was logged: %v", writes[:1])
	}
	// The caller's slices are not kept.
	big[0].Key[0], big[0].Value[0] = 'X', 'X'
	if v, ok, _ := s.Get([]byte("big00000")); !ok || v[0] != 'v' {
		t.Fatal("restore kept the caller's slices")
	}
}

func testCommitAll(t *testing.T, mk newEngine) {
	e := mk(t, t.TempDir())
	a, b := open(t, e, task0, "a"), open(t, e, task0, "b")
	_ = a.Put([]byte("k"), []byte("1"))
	_ = b.Delete([]byte("k"))
	_ = b.Put([]byte("j"), []byte("2"))
	a.AckOffset(3)
	b.AckOffset(8)
	if err := e.CommitAll(a, b); err != nil {
		t.Fatal(err)
	}
	if all(t, a) != "k=1" || all(t, b) != "j=2" || checkpoint(t, a) != "4" || checkpoint(t, b) != "9" {
		t.Fatal("CommitAll did not commit both stores with their checkpoints")
	}
	if a.buf.Len()+b.buf.Len() != 0 {
		t.Fatal("buffers kept")
	}
	if err := e.CommitAll(); err != nil {
		t.Fatal(err)
	}
}

func testWipe(t *testing.T, mk newEngine) {
	e := mk(t, t.TempDir())
	a, b := open(t, e, task0, "kv"), open(t, e, task1, "kv")
	for _, s := range []*Store{a, b} {
		_ = s.Put([]byte("k"), []byte("v"))
		s.AckOffset(1)
		commit(t, s)
	}
	if err := e.Wipe(task0); err == nil {
		t.Fatal("wiped a task whose store is open")
	}
	_ = a.Close()
	if err := e.Wipe(task0); err != nil {
		t.Fatal(err)
	}
	a = open(t, e, task0, "kv")
	if all(t, a) != "" || checkpoint(t, a) != "none" {
		t.Fatal("task 0 survived its wipe")
	}
	if all(t, b) != "k=v" || checkpoint(t, b) != "2" {
		t.Fatal("wiping task 0 touched task 1")
	}
	if e.InMemory() == e.HasState() {
		t.Fatalf("HasState = %v with task 1's data", e.HasState())
	}
	_ = a.Close()
	_ = b.Close()
	if err := e.WipeAll(); err != nil {
		t.Fatal(err)
	}
	if e.HasState() {
		t.Fatal("HasState after WipeAll")
	}
	b = open(t, e, task1, "kv")
	if all(t, b) != "" {
		t.Fatal("task 1 survived WipeAll")
	}
}

func testProvider(t *testing.T, mk newEngine) {
	e := mk(t, t.TempDir())
	var raw engine.RawStore
	raw, err := e.OpenOrWipe(task1, "counts", quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if err := raw.Put([]byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := raw.Flush(); err != nil {
		t.Fatal(err)
	}
	raw.Abort()
	if v, ok, _ := raw.Get([]byte("k")); !ok || string(v) != "v" {
		t.Fatal("Flush did not commit")
	}
}

// TestPebbleForeignStateIsDetected: another application's directory fails
// with ErrForeignState naming the owner; Wipe clears it; the Provider does
// both on its own (OpenOrWipe).
func TestPebbleForeignStateIsDetected(t *testing.T) {
	dir := t.TempDir()
	one := engineOf(false, "one")(t, dir)
	s := open(t, one, task0, "kv")
	_ = s.Put([]byte("k"), []byte("v"))
	commit(t, s)
	_ = one.Close()

	two := engineOf(false, "two")(t, dir)
	if _, err := two.Open(task0, "kv"); !errors.Is(err, ErrForeignState) || !strings.Contains(err.Error(), `"one"`) {
		t.Fatalf("Open = %v, want ErrForeignState naming the owner", err)
	}
	if !two.HasState() {
		t.Fatal("HasState is false over a foreign database")
	}
	if err := two.Wipe(task1); err != nil { // any task: the whole database goes
		t.Fatal(err)
	}
	s = open(t, two, task0, "kv")
	if all(t, s) != "" {
		t.Fatal("foreign data survived the wipe")
	}
	_ = s.Close()
	_ = two.Close()

	// Through OpenOrWipe: wiped and opened, with a log line.
	var logs bytes.Buffer
	three := engineOf(false, "three")(t, dir)
	raw, err := three.OpenOrWipe(task0, "kv", slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	_ = raw.Close()
	if !strings.Contains(logs.String(), "belongs to another application") {
		t.Fatalf("no log line: %s", logs.String())
	}
}

func TestPebbleCorruptStateIsDetected(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "pebble"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Garbage where Pebble expects the name of its manifest.
	if err := os.WriteFile(filepath.Join(dir, "pebble", "CURRENT"), []byte("garbage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := engineOf(false, "app")(t, dir)
	if _, err := e.Open(task0, "kv"); !errors.Is(err, ErrCorruptState) {
		t.Fatalf("Open = %v, want ErrCorruptState", err)
	}
	if err := e.Wipe(task0); err != nil {
		t.Fatal(err)
	}
	s := open(t, e, task0, "kv")
	_ = s.Close()

	// A malformed checkpoint: the store cannot be trusted.
	db, _ := e.dbLocked()
	if err := db.Set(ckptKey(task1, "kv"), []byte("short"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Open(task1, "kv"); !errors.Is(err, ErrCorruptState) {
		t.Fatalf("Open with a bad checkpoint = %v, want ErrCorruptState", err)
	}
	if err := e.Wipe(task1); err != nil {
		t.Fatal(err)
	}
	s = open(t, e, task1, "kv")
	if checkpoint(t, s) != "none" {
		t.Fatal("bad checkpoint survived the wipe")
	}
}

func TestPebbleBadOptionsFailEarly(t *testing.T) {
	if _, err := NewEngine(Options{Dir: t.TempDir(), ApplicationID: "app", Logger: quiet, MemTableSize: 8 << 30}); err == nil {
		t.Fatal("an 8 GiB memtable was accepted")
	}
}

func TestPebbleLockedStateIsNotCorrupt(t *testing.T) {
	dir := t.TempDir()
	e := engineOf(false, "app")(t, dir)
	open(t, e, task0, "kv")
	other := engineOf(false, "app")(t, dir)
	_, err := other.Open(task0, "kv")
	if !errors.Is(err, ErrLocked) || errors.Is(err, ErrCorruptState) {
		t.Fatalf("Open of a directory in use = %v, want ErrLocked only", err)
	}
}

// TestPebbleOneDatabasePerInstance: many tasks and stores share one
// database (one cache, one set of memtables).
func TestPebbleOneDatabasePerInstance(t *testing.T) {
	dir := t.TempDir()
	e := engineOf(false, "app")(t, dir)
	for p := range int32(32) {
		for _, name := range []string{"a", "b", "c"} {
			s := open(t, e, processor.TaskID{Subtopology: 1, Partition: p}, name)
			_ = s.Put([]byte("k"), []byte(name))
			commit(t, s)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "pebble" {
		t.Fatalf("state directory holds %v, want one database", entries)
	}
	if m := e.db.Metrics(); m.MemTable.Count > 2 {
		t.Fatalf("%d memtables", m.MemTable.Count)
	}
}

// TestPebbleCheckDir: nothing to check in a new directory; a directory in
// use is ErrLocked; another application's is ErrForeignState; its own,
// unused, is fine and stays locked until Close.
func TestPebbleCheckDir(t *testing.T) {
	dir := t.TempDir()
	if err := engineOf(false, "app")(t, filepath.Join(dir, "new")).CheckDir(); err != nil {
		t.Fatalf("CheckDir of an empty directory = %v", err)
	}
	e := engineOf(false, "app")(t, dir)
	s := open(t, e, task0, "kv")
	_ = s.Put([]byte("k"), []byte("v"))
	commit(t, s)
	if err := engineOf(false, "app")(t, dir).CheckDir(); !errors.Is(err, ErrLocked) {
		t.Fatalf("CheckDir of a directory in use = %v, want ErrLocked", err)
	}
	_ = s.Close()
	_ = e.Close()
	if err := engineOf(false, "other")(t, dir).CheckDir(); !errors.Is(err, ErrForeignState) {
		t.Fatalf("CheckDir of another application's directory = %v, want ErrForeignState", err)
	}
	mine := engineOf(false, "app")(t, dir)
	if err := mine.CheckDir(); err != nil {
		t.Fatalf("CheckDir of the application's own directory = %v", err)
	}
	if err := engineOf(false, "app")(t, dir).CheckDir(); !errors.Is(err, ErrLocked) {
		t.Fatalf("CheckDir while another engine checked it = %v, want ErrLocked", err)
	}
	if err := mine.WipeAll(); err != nil {
		t.Fatal(err)
	}
}

// TestPebbleDiskBytes: a store's estimated size on disk grows once its data
// leaves the memtable, and is that store's only: another store of the same
// database stays near zero; a store in memory says 0.
func TestPebbleDiskBytes(t *testing.T) {
	e := engineOf(false, "app")(t, t.TempDir()) // 1 MiB memtables
	big, small := open(t, e, task0, "big"), open(t, e, task0, "small")
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 8 {
		for i := range 1000 {
			val := make([]byte, 1000) // random: incompressible
			for j := range val {
				val[j] = byte(rng.UintN(256))
			}
			if err := big.Put([]byte(fmt.Sprintf("key-%d-%06d", round, i)), val); err != nil {
				t.Fatal(err)
			}
		}
		commit(t, big)
	}
	_ = small.Put([]byte("k"), []byte("v"))
	commit(t, small)
	nb, err := big.DiskBytes()
	if err != nil {
		t.Fatal(err)
	}
	ns, err := small.DiskBytes()
	if err != nil {
		t.Fatal(err)
	}
	if nb < 1<<20 || ns > 64<<10 {
		t.Fatalf("DiskBytes: big %d (want at least 1 MiB of its 8 MB flushed), small %d (want near 0)", nb, ns)
	}
	m := engineOf(true, "app")(t, t.TempDir())
	if n, err := open(t, m, task0, "mem").DiskBytes(); err != nil || n != 0 {
		t.Fatalf("in memory: %d, %v", n, err)
	}
}
