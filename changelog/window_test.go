package changelog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streams/samsa/internal/stores"
	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
)

func ms(n int64) time.Time { return time.UnixMilli(n) }

// fetch renders the windows of key in [from, to] as "start=value,…".
func fetch(t *testing.T, ws processor.WindowStore[string, int64], key string, from, to int64) string {
	t.Helper()
	var got []string
	for w, err := range ws.Fetch(key, ms(from), ms(to)) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d=%d", w.Start.UnixMilli(), w.Value))
	}
	return strings.Join(got, ",")
}

// windowKey is the layout processor documents: [8 segment][4 len][key][8 start].
func windowKey(seg int64, key string, start int64) []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(seg))
	b = binary.BigEndian.AppendUint32(b, uint32(len(key)))
	return binary.BigEndian.AppendUint64(append(b, key...), uint64(start))
}

func testWindowStore(t *testing.T, mk newEngine) {
	e := mk(t, t.TempDir())
	raw := open(t, e, task0, "windows")
	// Retention 1 s in 3 segments: 500 ms each.
	ws := stores.WrapWindowStore(raw.Windows(time.Second, 3), serde.String, serde.Int64)
	for _, p := range []struct {
		k  string
		at int64
		v  int64
	}{{"a", 100, 1}, {"b", 100, 2}, {"a", 600, 3}, {"a", 300, 4}, {"ab", 300, 5}, {"b", 250, 6}} {
		if err := ws.Put(p.k, p.v, ms(p.at)); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string) {
		t.Helper()
		if got := fetch(t, ws, "a", 0, 1000); got != "100=1,300=4,600=3" {
			t.Fatalf("%s: Fetch(a) = %s (by start, across segments; key a must not see key ab)", when, got)
		}
		if got := fetch(t, ws, "a", 300, 600); got != "300=4,600=3" {
			t.Fatalf("%s: Fetch(a, 300, 600) = %s (bounds inclusive)", when, got)
		}
		if got := fetch(t, ws, "a", 0, 1<<50); got != "100=1,300=4,600=3" {
			t.Fatalf("%s: Fetch(a, 0, far future) = %s", when, got)
		}
		var all []string
		for kv, err := range ws.FetchAll(ms(200), ms(700)) {
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, fmt.Sprintf("%s@%d", kv.Key, kv.Start.UnixMilli()))
		}
		// In time order (by start, then key), not in the store's order
		// (by key, then start, within a segment).
		if strings.Join(all, ",") != "b@250,a@300,ab@300,a@600" {
			t.Fatalf("%s: FetchAll(200, 700) = %v, want time order", when, all)
		}
		// Bounds before the epoch (a zero time.Time) select from the start.
		if got := fetch(t, ws, "a", -1000, 300); got != "100=1,300=4" {
			t.Fatalf("%s: Fetch(a, before the epoch, 300) = %s", when, got)
		}
		var fromZero int
		for _, err := range ws.FetchAll(time.Time{}, ms(1<<50)) {
			if err != nil {
				t.Fatal(err)
			}
			fromZero++
		}
		if fromZero != 6 {
			t.Fatalf("%s: FetchAll(zero time, far future) gave %d windows, want 6", when, fromZero)
		}
	}
	check("buffered")
	commit(t, raw)
	check("committed")
	// Delete removes one window.
	if err := ws.Put("c", 7, ms(400)); err != nil {
		t.Fatal(err)
	}
	if err := ws.Delete("c", ms(400)); err != nil {
		t.Fatal(err)
	}
	if got := fetch(t, ws, "c", 0, 1000); got != "" {
		t.Fatalf("after Delete: Fetch(c) = %s", got)
	}

	// Time moves on: the segments behind the retention are dropped.
	if err := ws.Put("a", 9, ms(2500)); err != nil {
		t.Fatal(err)
	}
	if got := fetch(t, ws, "a", 0, 3000); got != "2500=9" {
		t.Fatalf("after expiry Fetch(a) = %s, want only the new window", got)
	}
	commit(t, raw)
	if n := count(t, raw); n != 1 {
		t.Fatalf("%d entries left after expiry, want 1", n)
	}
	// A late write behind the retention is ignored.
	if err := ws.Put("a", 1, ms(100)); err != nil {
		t.Fatal(err)
	}
	if got := fetch(t, ws, "a", 0, 200); got != "" {
		t.Fatalf("an expired window came back: %s", got)
	}
	// Before the epoch: an error, not a silent clash with time 0.
	if err := ws.Put("a", 1, ms(-5)); !errors.Is(err, processor.ErrBeforeEpoch) {
		t.Fatalf("Put before the epoch = %v", err)
	}
	// Bytes level: a nil value deletes.
	bw := raw.Windows(time.Second, 3)
	if err := bw.Put([]byte("a"), nil, ms(2500)); err != nil {
		t.Fatal(err)
	}
	if got := fetch(t, ws, "a", 0, 3000); got != "" {
		t.Fatalf("after a nil Put: %s", got)
	}
}

// testWindowStoreAbort: an aborted transaction takes the window store's
// notion of time back with it, so that replaying the same records gives
// the same result (no record is judged late because of an aborted one).
func testWindowStoreAbort(t *testing.T, mk newEngine) {
	e := mk(t, t.TempDir())
	raw := open(t, e, task0, "windows")
	ws := stores.WrapWindowStore(raw.Windows(time.Second, 3), serde.String, serde.Int64)
	_ = ws.Put("a", 1, ms(100))
	commit(t, raw)
	_ = ws.Put("a", 2, ms(5000)) // drops the segment of 100 in the buffer
	if got := fetch(t, ws, "a", 0, 6000); got != "5000=2" {
		t.Fatalf("before abort: %s", got)
	}
	raw.Abort()
	if err := ws.Put("a", 3, ms(200)); err != nil {
		t.Fatal(err)
	}
	if got := fetch(t, ws, "a", 0, 6000); got != "100=1,200=3" {
		t.Fatalf("after abort: %s, want the committed window and the replayed one", got)
	}
	commit(t, raw)
	if got := fetch(t, ws, "a", 0, 6000); got != "100=1,200=3" {
		t.Fatalf("after commit: %s", got)
	}
}

// testWindowStoreReopen: a window store opened over existing data (after a
// restart or a restore) finds its time again: it scans every segment and
// expires what is old.
func testWindowStoreReopen(t *testing.T, mk newEngine) {
	e := mk(t, t.TempDir())
	raw := open(t, e, task0, "windows")
	ws := stores.WrapWindowStore(raw.Windows(time.Second, 3), serde.String, serde.Int64)
	for _, at := range []int64{100, 600, 1200} {
		_ = ws.Put("a", at, ms(at))
	}
	commit(t, raw)
	_ = raw.Close()

	raw = open(t, e, task0, "windows")
	ws = stores.WrapWindowStore(raw.Windows(time.Second, 3), serde.String, serde.Int64)
	if got := fetch(t, ws, "a", 0, 5000); got != "100=100,600=600,1200=1200" {
		t.Fatalf("reopened: %s", got)
	}
	_ = ws.Put("a", 2600, ms(2600))
	if got := fetch(t, ws, "a", 0, 5000); got != "2600=2600" {
		t.Fatalf("after expiry: %s", got)
	}
	commit(t, raw)
	// A changelog restore brings back an expired window (the topic keeps
	// it a day longer): a fresh wrapper drops it before anyone reads it.
	if err := raw.Restore([]Record{{Key: windowKey(0, "a", 100), Value: []byte{0, 0, 0, 0, 0, 0, 0, 1}}}, 10); err != nil {
		t.Fatal(err)
	}
	_ = raw.Close()
	raw = open(t, e, task0, "windows")
	ws = stores.WrapWindowStore(raw.Windows(time.Second, 3), serde.String, serde.Int64)
	if got := fetch(t, ws, "a", 0, 5000); got != "2600=2600" {
		t.Fatalf("restored expired window visible: %s", got)
	}
	// A restore under a wrapper in use (a standby catching up): the
	// wrapper reads its time again, sees the new window and expires the
	// old one.
	if err := raw.Restore([]Record{{Key: windowKey(8, "a", 4000), Value: []byte{0, 0, 0, 0, 0, 0, 0, 1}}}, 11); err != nil {
		t.Fatal(err)
	}
	if got := fetch(t, ws, "a", 0, 5000); got != "4000=1" {
		t.Fatalf("after a restore under the wrapper: %s", got)
	}
}

func testSessionStore(t *testing.T, mk newEngine) {
	e := mk(t, t.TempDir())
	raw := open(t, e, task0, "sessions")
	// Retention 10 h in 3 segments: 5 h each.
	ss := stores.WrapSessionStore(raw.Sessions(10*time.Hour, 3), serde.String, serde.Int64)
	late := (6 * time.Hour).Milliseconds()
	for _, s := range []processor.Session[string]{
		{Key: "u", Start: ms(0), End: ms(10)},
		{Key: "u", Start: ms(50), End: ms(70)},
		{Key: "u", Start: ms(late), End: ms(late + 1)}, // next segment
		{Key: "v", Start: ms(0), End: ms(100)},
		{Key: "uu", Start: ms(0), End: ms(100)},
	} {
		if err := ss.Put(s, s.End.UnixMilli()); err != nil {
			t.Fatal(err)
		}
	}
	find := func(ss processor.SessionStore[string, int64], earliestEnd, latestStart int64) string {
		t.Helper()
		var got []string
		for kv, err := range ss.FindSessions("u", ms(earliestEnd), ms(latestStart)) {
			if err != nil {
				t.Fatal(err)
			}
			if kv.Key.Key != "u" || kv.Value != kv.Key.End.UnixMilli() {
				t.Fatalf("wrong session %+v = %d", kv.Key, kv.Value)
			}
			got = append(got, fmt.Sprintf("%d-%d", kv.Key.Start.UnixMilli(), kv.Key.End.UnixMilli()))
		}
		return strings.Join(got, ",")
	}
	lateS := fmt.Sprintf("%d-%d", late, late+1)
	if got := find(ss, 5, 60); got != "0-10,50-70" {
		t.Fatalf("FindSessions(u, end>=5, start<=60) = %s", got)
	}
	if got := find(ss, 0, late); got != "0-10,50-70,"+lateS {
		t.Fatalf("FindSessions(u, all) = %s", got)
	}
	if got := find(ss, 11, 40); got != "" {
		t.Fatalf("FindSessions(u, end>=11, start<=40) = %s", got)
	}
	commit(t, raw)
	// Reopened: sessions in later segments are still found.
	_ = raw.Close()
	raw = open(t, e, task0, "sessions")
	ss = stores.WrapSessionStore(raw.Sessions(10*time.Hour, 3), serde.String, serde.Int64)
	if got := find(ss, 5, late); got != "0-10,50-70,"+lateS {
		t.Fatalf("reopened FindSessions = %s", got)
	}
	if err := ss.Remove(processor.Session[string]{Key: "u", Start: ms(0), End: ms(10)}); err != nil {
		t.Fatal(err)
	}
	if got := find(ss, 0, late); got != "50-70,"+lateS {
		t.Fatalf("after Remove: %s", got)
	}
	if err := ss.Put(processor.Session[string]{Key: "u", Start: ms(9), End: ms(5)}, 1); err == nil {
		t.Fatal("a session ending before it starts was accepted")
	}
	// Expiry by session end.
	far := (30 * time.Hour).Milliseconds()
	_ = ss.Put(processor.Session[string]{Key: "u", Start: ms(far), End: ms(far)}, far)
	if got := find(ss, 0, far); got != fmt.Sprintf("%d-%d", far, far) {
		t.Fatalf("after expiry: %s", got)
	}
}
