package changelog

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHasStoreState: only a checkpoint or data under the store's own name,
// in any task, counts; other stores' state (even one whose name extends
// this one's) does not.
func TestHasStoreState(t *testing.T) {
	for _, kind := range []struct {
		name     string
		inMemory bool
	}{{"pebble", false}, {"memory", true}} {
		t.Run(kind.name, func(t *testing.T) {
			dir := t.TempDir()
			e := engineOf(kind.inMemory, "app")(t, dir)
			if e.HasStoreState("a") {
				t.Fatal("HasStoreState on an empty engine")
			}
			// Data of store "ab" in task 0_0, a checkpoint only of store
			// "a" in task 0_1, data of "c" in task 0_1.
			ab := open(t, e, task0, "ab")
			_ = ab.Put([]byte("k"), []byte("v"))
			commit(t, ab)
			c := open(t, e, task1, "c")
			_ = c.Put([]byte("k"), []byte("v"))
			commit(t, c)
			for _, name := range []string{"a", "b", "zz"} {
				if e.HasStoreState(name) {
					t.Fatalf("HasStoreState(%q) with state of stores ab and c only", name)
				}
			}
			if !e.HasStoreState("ab") || !e.HasStoreState("c") {
				t.Fatal("HasStoreState false for stores with data")
			}
			a := open(t, e, task1, "a")
			if err := a.Restore(nil, 7); err != nil {
				t.Fatal(err)
			}
			if !e.HasStoreState("a") {
				t.Fatal("HasStoreState false for a store with a checkpoint")
			}
			if e.HasStoreState("b") {
				t.Fatal("HasStoreState(b) true")
			}
			if kind.inMemory {
				return
			}
			// After a restart too.
			_ = e.Close()
			e2 := engineOf(false, "app")(t, dir)
			if !e2.HasStoreState("a") || !e2.HasStoreState("ab") || e2.HasStoreState("b") {
				t.Fatal("HasStoreState wrong after a restart")
			}
			// Another application's database is not this one's state.
			other := engineOf(false, "other")(t, dir)
			_ = e2.Close()
			if other.HasStoreState("a") {
				t.Fatal("HasStoreState true over another application's database")
			}
		})
	}
}

// TestProviderWipesByErrorNotByPath: corrupt state in a directory whose
// path contains "lock" is wiped and opened afresh; a directory locked by
// another open engine is never wiped.
func TestProviderWipesByErrorNotByPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "srv", "clock")
	if err := os.MkdirAll(filepath.Join(dir, "pebble"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pebble", "CURRENT"), []byte("garbage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	e := engineOf(false, "app")(t, dir)
	raw, err := e.OpenOrWipe(task0, "kv", slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatalf("Open over corrupt state in %s = %v, want it wiped and opened", dir, err)
	}
	if err := raw.Put([]byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := raw.Flush(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "wiping") {
		t.Fatalf("no log line about the wipe: %s", logs.String())
	}

	// e holds the directory: a second engine must fail with ErrLocked and
	// wipe nothing.
	logs.Reset()
	e2 := engineOf(false, "app")(t, dir)
	if _, err := e2.OpenOrWipe(task0, "other", slog.New(slog.NewTextHandler(&logs, nil))); !errors.Is(err, ErrLocked) {
		t.Fatalf("Open of a locked directory = %v, want ErrLocked", err)
	}
	if strings.Contains(logs.String(), "wiping") {
		t.Fatalf("a locked directory was wiped: %s", logs.String())
	}
	if v, ok, err := raw.Get([]byte("k")); err != nil || !ok || string(v) != "v" {
		t.Fatalf("the holder's state after the failed Open: %q %v %v", v, ok, err)
	}
	_ = raw.Close()
	_ = e.Close()
	e3 := engineOf(false, "app")(t, dir)
	s := open(t, e3, task0, "kv")
	if got := all(t, s); got != "k=v" {
		t.Fatalf("state after reopening: %q, want k=v", got)
	}
}
