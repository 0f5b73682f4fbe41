package changelog

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// engines returns constructors of both engines over the same directory.
func engines(t *testing.T) map[string]func(dir string) *Engine {
	mk := func(mem bool) func(dir string) *Engine {
		return func(dir string) *Engine {
			e, err := NewEngine(Options{Dir: dir, ApplicationID: "app", InMemory: mem, Logger: quiet, CacheSize: 8 << 20})
			if err != nil {
				t.Fatal(err)
			}
			return e
		}
	}
	return map[string]func(string) *Engine{"pebble": mk(false), "memory": mk(true)}
}

func collect(t *testing.T, s *Store, from, to []byte) string {
	t.Helper()
	var parts []string
	for kv, err := range s.Range(from, to) {
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, string(kv.Key)+"="+string(kv.Value))
	}
	return strings.Join(parts, ",")
}

var task0 = processor.TaskID{Subtopology: 0, Partition: 0}

// TestConformance runs the same checks against both engines.
func TestConformance(t *testing.T) {
	for name, mk := range engines(t) {
		t.Run(name, func(t *testing.T) {
			e := mk(t.TempDir())
			defer e.Close()
			s, err := e.Open(task0, "kv")
			if err != nil {
				t.Fatal(err)
			}
			kv := processor.NewKeyValueStore(s, serde.String, serde.String)

			// Read your own writes before commit.
			for _, k := range []string{"b", "a", "c", "ab", "d"} {
				if err := kv.Put(k, "v"+k); err != nil {
					t.Fatal(err)
				}
			}
			if v, ok, _ := kv.Get("ab"); !ok || v != "vab" {
				t.Fatalf("Get(ab) = %q %v", v, ok)
			}
			if got := collect(t, s, nil, nil); got != "a=va,ab=vab,b=vb,c=vc,d=vd" {
				t.Fatalf("All before commit = %s", got)
			}
			s.AckOffset(41)
			if err := s.Commit(); err != nil {
				t.Fatal(err)
			}
			if off, ok, _ := s.Checkpoint(); !ok || off != 42 {
				t.Fatalf("checkpoint = %d %v, want 42", off, ok)
			}
			// Buffer over committed data: update, delete, insert.
			_ = kv.Put("b", "vb2")
			if _, _, err := kv.Delete("c"); err != nil {
				t.Fatal(err)
			}
			_ = kv.Put("bb", "vbb")
			if got := collect(t, s, []byte("ab"), []byte("c")); got != "ab=vab,b=vb2,bb=vbb" {
				t.Fatalf("Range(ab..c) merged = %s", got)
			}
			if old, existed, _ := kv.PutIfAbsent("a", "zzz"); !existed || old != "va" {
				t.Fatalf("PutIfAbsent(a) = %q %v", old, existed)
			}
			if v, existed, _ := kv.PutIfAbsent("e", "ve"); existed || v != "ve" {
				t.Fatalf("PutIfAbsent(e) = %q %v", v, existed)
			}
			var pre []string
			for kv, err := range kv.PrefixScan([]byte("a")) {
				if err != nil {
					t.Fatal(err)
				}
				pre = append(pre, kv.Key)
			}
			if strings.Join(pre, ",") != "a,ab" {
				t.Fatalf("PrefixScan(a) = %v", pre)
			}
			// Abort drops the buffer.
			s.Abort()
			if got := collect(t, s, nil, nil); got != "a=va,ab=vab,b=vb,c=vc,d=vd" {
				t.Fatalf("after abort = %s", got)
			}
			if n, _ := kv.ApproximateCount(); n != 5 {
				t.Fatalf("count = %d", n)
			}
			// Early stop of an iterator.
			for range s.Range(nil, nil) {
				break
			}
			// Stores of one task do not see each other.
			other, err := e.Open(task0, "kv2")
			if err != nil {
				t.Fatal(err)
			}
			if got := collect(t, other, nil, nil); got != "" {
				t.Fatalf("other store sees %s", got)
			}
			if _, ok, _ := other.Checkpoint(); ok {
				t.Fatal("fresh store has a checkpoint")
			}
			// Restore applies in order, with the checkpoint.
			if err := other.Restore([]Record{{Key: []byte("x"), Value: []byte("1")}, {Key: []byte("y"), Value: []byte("2")}, {Key: []byte("x"), Value: nil}}, 7); err != nil {
				t.Fatal(err)
			}
			if got := collect(t, other, nil, nil); got != "y=2" {
				t.Fatalf("restored = %s", got)
			}
			if off, ok, _ := other.Checkpoint(); !ok || off != 7 {
				t.Fatalf("restored checkpoint = %d", off)
			}
			// Reopen in the same process: committed state survives.
			_ = s.Close()
			_ = other.Close()
			s2, err := e.Open(task0, "kv")
			if err != nil {
				t.Fatal(err)
			}
			if got := collect(t, s2, nil, nil); got != "a=va,ab=vab,b=vb,c=vc,d=vd" {
				t.Fatalf("reopened = %s", got)
			}
			_ = s2.Close()
		})
	}
}

func TestPebbleForeignApplicationIsDetected(t *testing.T) {
	dir := t.TempDir()
	e, _ := NewEngine(Options{Dir: dir, ApplicationID: "one", Logger: quiet})
	s, err := e.Open(task0, "kv")
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	_ = e.Close()
	e2, _ := NewEngine(Options{Dir: dir, ApplicationID: "two", Logger: quiet})
	defer e2.Close()
	if _, err := e2.Open(task0, "kv"); !errors.Is(err, ErrForeignState) || !strings.Contains(err.Error(), `"one"`) {
		t.Fatalf("Open = %v, want ErrForeignState naming the owner", err)
	}
	if err := e2.Wipe(task0); err != nil {
		t.Fatal(err)
	}
	if _, err := e2.Open(task0, "kv"); err != nil {
		t.Fatalf("after wipe: %v", err)
	}
}

func TestPebbleCorruptStateIsDetected(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, task0.String()), 0o755); err != nil {
		t.Fatal(err)
	}
	// A file where Pebble expects its CURRENT/manifest: garbage.
	if err := os.WriteFile(filepath.Join(dir, task0.String(), "CURRENT"), []byte("garbage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e, _ := NewEngine(Options{Dir: dir, ApplicationID: "app", Logger: quiet})
	defer e.Close()
	if _, err := e.Open(task0, "kv"); !errors.Is(err, ErrCorruptState) {
		t.Fatalf("Open = %v, want ErrCorruptState", err)
	}
}

// TestPebbleCrashKeepsLastCommit kills a writer process with SIGKILL between
// commits and checks that reopening yields exactly the committed state.
func TestPebbleCrashKeepsLastCommit(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "CHANGELOG_CRASH_DIR="+dir)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != -1 {
		t.Fatalf("helper did not die by signal: %v\n%s", err, out)
	}
	e, _ := NewEngine(Options{Dir: dir, ApplicationID: "app", Logger: quiet})
	defer e.Close()
	s, err := e.Open(task0, "kv")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n := 0
	for kv, err := range s.Range(nil, nil) {
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(kv.Key), "committed-") {
			t.Fatalf("uncommitted key %q survived the crash", kv.Key)
		}
		n++
	}
	if off, ok, _ := s.Checkpoint(); n != 1000 || !ok || off != 1000 {
		t.Fatalf("after crash: %d keys, checkpoint %d %v; want 1000 keys at 1000", n, off, ok)
	}
}

// TestMain runs crashWriter instead of the tests in the child process of
// TestPebbleCrashKeepsLastCommit.
func TestMain(m *testing.M) {
	if dir := os.Getenv("CHANGELOG_CRASH_DIR"); dir != "" {
		crashWriter(dir)
	}
	os.Exit(m.Run())
}

// crashWriter commits 1000 keys, buffers 500 more and kills itself.
func crashWriter(dir string) {
	e, _ := NewEngine(Options{Dir: dir, ApplicationID: "app", Logger: quiet})
	s, err := e.Open(task0, "kv")
	if err != nil {
		panic(err)
	}
	for i := range 1000 {
		_ = s.Put([]byte(fmt.Sprintf("committed-%04d", i)), []byte("v"))
	}
	s.AckOffset(999)
	if err := s.Commit(); err != nil {
		panic(err)
	}
	for i := range 500 {
		_ = s.Put([]byte(fmt.Sprintf("pending-%04d", i)), []byte("v"))
	}
	p, _ := os.FindProcess(os.Getpid())
	_ = p.Kill() // SIGKILL: no deferred function, no flush
	select {}
}
