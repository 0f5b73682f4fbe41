package samsa_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/changelog"
	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// countTwiceTopology is countTopology plus a second store, "seen", that
// counts the same records into out2: the topology of an application that
// added a store.
func countTwiceTopology(in, out, out2 string) *topology.Topology {
	top := countTopology(in, out)
	topology.AddProcessor(top, "seen-count", countInto("seen"), "src")
	topology.AddKeyValueStore(top, topology.KeyValueStore[string, int64]{Name: "seen", Key: serde.String, Value: serde.JSON[int64]()}, "seen-count")
	topology.AddSink(top, "seen-sink", topology.Sink[string, string]{Topic: out2, Key: serde.String, Value: serde.String}, "seen-count")
	return top
}

// TestAddStoreToExistingApp: a store added to an application that already
// has local state starts empty with a new changelog; only the deleted
// changelog of a store that has local state fails the start.
func TestAddStoreToExistingApp(t *testing.T) {
	t.Run("embedded", func(t *testing.T) { runAddStore(t, testkit.EmbeddedCluster(t)) })
	t.Run("real", func(t *testing.T) { runAddStore(t, testkit.RealCluster(t)) })
}

func runAddStore(t *testing.T, c *testkit.Cluster) {
	const keys = 10
	in, out, out2 := c.Topic(t, "addstore-in", 2), c.Topic(t, "addstore-out", 2), c.Topic(t, "addstore-out2", 2)
	appID := testkit.UniqueName("addstore-app")
	dir := t.TempDir()
	cfg := func() samsa.Config {
		return samsa.Config{ApplicationID: appID, Bootstrap: c.Bootstrap, StateDir: dir, CommitInterval: 100 * time.Millisecond,
			Logger: testkit.Logger(t, slog.LevelInfo)}
	}
	produceKeys(t, c, in, 100, keys)
	first, err := samsa.New(countTopology(in, out), cfg())
	if err != nil {
		t.Fatal(err)
	}
	runUntil(t, first, 100)

	// Same state directory, one more store.
	produceKeys(t, c, in, 100, keys)
	second, err := samsa.New(countTwiceTopology(in, out, out2), cfg())
	if err != nil {
		t.Fatal(err)
	}
	runUntil(t, second, 100)
	for k, n := range lastCounts(t, c, out) {
		if n != 20 {
			t.Errorf("store counts, key %s: %d, want 20 (kept its state)", k, n)
		}
	}
	seen := lastCounts(t, c, out2)
	if len(seen) != keys {
		t.Errorf("store seen counted %d keys, want %d", len(seen), keys)
	}
	for k, n := range seen {
		if n != 10 {
			t.Errorf("store seen, key %s: %d, want 10 (started empty)", k, n)
		}
	}

	// The changelog of a store with local state deleted: the start fails
	// and names it.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	gone := topology.ChangelogTopic(appID, "counts")
	if _, err := c.Admin().DeleteTopic(ctx, gone); err != nil {
		t.Fatal(err)
	}
	third, err := samsa.New(countTwiceTopology(in, out, out2), cfg())
	if err != nil {
		t.Fatal(err)
	}
	err = third.Run(ctx)
	if !errors.Is(err, samsa.ErrInternalTopic) || !strings.Contains(err.Error(), "does not exist but local state does") || !strings.Contains(err.Error(), strconv.Quote(gone)) ||
		!strings.Contains(err.Error(), "samsa reset --application-id "+appID) {
		t.Fatalf("Run = %v, want ErrInternalTopic naming %q and the samsa reset command", err, gone)
	}
	if strings.Contains(err.Error(), topology.ChangelogTopic(appID, "seen")) {
		t.Fatalf("Run = %v: the changelog of store seen exists", err)
	}
}

// TestCorruptStateInLockNamedDir: unusable local state is wiped and rebuilt
// from the changelog whatever the state directory is called (here a path
// containing "lock").
func TestCorruptStateInLockNamedDir(t *testing.T) {
	t.Run("embedded", func(t *testing.T) { runCorruptLockNamed(t, testkit.EmbeddedCluster(t)) })
	t.Run("real", func(t *testing.T) { runCorruptLockNamed(t, testkit.RealCluster(t)) })
}

func runCorruptLockNamed(t *testing.T, c *testkit.Cluster) {
	const keys = 10
	in, out := c.Topic(t, "clock-in", 1), c.Topic(t, "clock-out", 1)
	appID := testkit.UniqueName("clock-app")
	dir := filepath.Join(t.TempDir(), "srv", "clock")
	newApp := func() *samsa.App {
		app, err := samsa.New(countTopology(in, out), samsa.Config{ApplicationID: appID, Bootstrap: c.Bootstrap, StateDir: dir,
			CommitInterval: 100 * time.Millisecond, Logger: testkit.Logger(t, slog.LevelInfo)})
		if err != nil {
			t.Fatal(err)
		}
		return app
	}
	produceKeys(t, c, in, 100, keys)
	runUntil(t, newApp(), 100)

	// Damage the database: garbage in its manifests.
	manifests, err := filepath.Glob(filepath.Join(dir, "pebble", "MANIFEST-*"))
	if err != nil || len(manifests) == 0 {
		t.Fatalf("no Pebble manifest in %s: %v", dir, err)
	}
	for _, m := range manifests {
		if err := os.WriteFile(m, []byte("garbage"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	produceKeys(t, c, in, 100, keys)
	second := newApp()
	runUntil(t, second, 100)
	if second.Restored() < keys {
		t.Fatalf("restored %d records: the state was not rebuilt from the changelog", second.Restored())
	}
	for k, n := range lastCounts(t, c, out) {
		if n != 20 {
			t.Errorf("key %s: %d, want 20", k, n)
		}
	}
}

// TestLockedStateIsNotWiped: a state directory held by another open engine
// fails the start with changelog.ErrLocked and keeps its state.
func TestLockedStateIsNotWiped(t *testing.T) {
	c := testkit.EmbeddedCluster(t)
	in, out := c.Topic(t, "locked-in", 1), c.Topic(t, "locked-out", 1)
	appID := testkit.UniqueName("locked-app")
	dir := filepath.Join(t.TempDir(), "locked")
	cfg := samsa.Config{ApplicationID: appID, Bootstrap: c.Bootstrap, StateDir: dir, CommitInterval: 100 * time.Millisecond,
		Logger: testkit.Logger(t, slog.LevelInfo)}
	produceKeys(t, c, in, 100, 10)
	app, err := samsa.New(countTopology(in, out), cfg)
	if err != nil {
		t.Fatal(err)
	}
	runUntil(t, app, 100)

	holder, err := changelog.NewEngine(changelog.Options{Dir: dir, ApplicationID: appID})
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	task := processor.TaskID{Subtopology: 0, Partition: 0}
	s, err := holder.Open(task, "counts")
	if err != nil {
		t.Fatal(err)
	}
	before, ok, err := s.Checkpoint()
	if err != nil || !ok {
		t.Fatalf("checkpoint after the first run: %d %v %v", before, ok, err)
	}

	produceKeys(t, c, in, 100, 10)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	app, err = samsa.New(countTopology(in, out), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Run(ctx); !errors.Is(err, changelog.ErrLocked) {
		t.Fatalf("Run over a locked state directory = %v, want changelog.ErrLocked", err)
	}
	after, ok, err := s.Checkpoint()
	if err != nil || !ok || after != before {
		t.Fatalf("checkpoint after the failed run: %d %v %v, want %d", after, ok, err, before)
	}
	if n, err := s.ApproximateCount(); err != nil || n == 0 {
		t.Fatalf("the locked state lost its data: %d keys, %v", n, err)
	}
}
