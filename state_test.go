package samsa_test

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// countTopology counts records per key in the store "counts" and emits the
// running count.
func countTopology(in, out string) *topology.Topology {
	top := topology.New()
	topology.AddSource(top, "src", topology.Source[string, string]{Topics: []string{in}, Key: serde.String, Value: serde.String})
	topology.AddProcessor(top, "count", countInto("counts"), "src")
	topology.AddKeyValueStore(top, topology.KeyValueStore[string, int64]{Name: "counts", Key: serde.String, Value: serde.JSON[int64]()}, "count")
	topology.AddSink(top, "sink", topology.Sink[string, string]{Topic: out, Key: serde.String, Value: serde.String}, "count")
	return top
}

// countInto counts records per key in a store and forwards the running count.
func countInto(store string) processor.Supplier[string, string, string, string] {
	return processor.Func[string, string, string, string](func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
		s, err := processor.GetKeyValueStore[string, int64](ctx, store)
		if err != nil {
			return err
		}
		n, _, err := s.Get(r.Key)
		if err != nil {
			return err
		}
		n++
		if err := s.Put(r.Key, n); err != nil {
			return err
		}
		ctx.Forward(processor.WithValue(r, strconv.FormatInt(n, 10)))
		return nil
	}).Supplier()
}

func produceKeys(t *testing.T, c *testkit.Cluster, topic string, n, keys int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Key: []byte("key-" + strconv.Itoa(i%keys)), Value: []byte("x")}
	}
	if err := c.Produce(ctx, false, recs...); err != nil {
		t.Fatal(err)
	}
}

// lastCounts reads the output and returns the last count per key.
func lastCounts(t *testing.T, c *testkit.Cluster, topic string) map[string]int64 {
	t.Helper()
	last := map[string]int64{}
	for _, r := range readAll(t, c, topic) {
		n, _ := strconv.ParseInt(string(r.Value), 10, 64)
		last[string(r.Key)] = n
	}
	return last
}

// readAll reads a topic with read_committed, partition by partition.
func readAll(t *testing.T, c *testkit.Cluster, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	got, err := c.ReadTopic(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	parts := slices.Sorted(maps.Keys(got))
	var out []*kgo.Record
	for _, p := range parts {
		out = append(out, got[p]...)
	}
	return out
}

func runUntil(t *testing.T, app *samsa.App, processed int64) {
	t.Helper()
	run := testkit.Start(t, app)
	run.WaitFor(t, 90*time.Second, "input processed", func() bool { return app.Processed() >= processed })
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}
}

func TestRestoreFromChangelog(t *testing.T) {
	t.Run("embedded", func(t *testing.T) { runRestore(t, testkit.EmbeddedCluster(t), samsa.AtLeastOnce) })
	t.Run("real", func(t *testing.T) { runRestore(t, testkit.RealCluster(t), samsa.AtLeastOnce) })
	t.Run("embedded-eos", func(t *testing.T) { runRestore(t, testkit.EmbeddedCluster(t), samsa.ExactlyOnce) })
	t.Run("real-eos", func(t *testing.T) { runRestore(t, testkit.RealCluster(t), samsa.ExactlyOnce) })
}

// runRestore: count, delete the state directory, count more: the counts
// continue where they were (restored from the changelog); a restart with the
// state directory intact restores nothing.
func runRestore(t *testing.T, c *testkit.Cluster, g samsa.Guarantee) {
	const keys = 50
	in, out := c.Topic(t, "count-in", 2), c.Topic(t, "count-out", 2)
	appID := testkit.UniqueName("count-app")
	dir := t.TempDir()
	var mu sync.Mutex
	var reports []samsa.RestoreProgress
	newApp := func() *samsa.App {
		app, err := samsa.New(countTopology(in, out), samsa.Config{
			ApplicationID: appID, Bootstrap: c.Bootstrap, StateDir: dir, CommitInterval: 100 * time.Millisecond, Guarantee: g,
			Logger:          testkit.Logger(t, slog.LevelInfo),
			RestoreListener: func(p samsa.RestoreProgress) { mu.Lock(); reports = append(reports, p); mu.Unlock() },
		})
		if err != nil {
			t.Fatal(err)
		}
		return app
	}

	produceKeys(t, c, in, 1000, keys)
	first := newApp()
	runUntil(t, first, 1000)
	if n := first.Restored(); n != 0 {
		t.Fatalf("first run restored %d records from an empty changelog", n)
	}

	// Lose the local state: the next run restores it from the changelog.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	produceKeys(t, c, in, 1000, keys)
	second := newApp()
	runUntil(t, second, 1000)
	if n := second.Restored(); n < keys || n > 1000 {
		t.Fatalf("second run restored %d records, want between %d (compacted) and 1000", n, keys)
	}
	for k, n := range lastCounts(t, c, out) {
		if n != 40 {
			t.Errorf("key %s: count %d after restore, want 40 (2000 records / 50 keys)", k, n)
		}
	}
	mu.Lock()
	finished := 0
	for _, r := range reports {
		if r.Finished && r.Store == "counts" && strings.HasSuffix(r.Topic, "-counts-changelog") {
			finished++
		}
	}
	mu.Unlock()
	if finished < 2 {
		t.Errorf("restore listener saw %d finished stores, want one per task (2)", finished)
	}

	// Restart with the state intact: nothing to restore.
	produceKeys(t, c, in, 100, keys)
	third := newApp()
	runUntil(t, third, 100)
	if n := third.Restored(); n != 0 {
		t.Errorf("restart with intact state restored %d records, want 0", n)
	}
}

func TestChangelogValidation(t *testing.T) {
	c := testkit.EmbeddedCluster(t)
	ctx := context.Background()
	in, out := c.Topic(t, "in", 2), c.Topic(t, "out", 2)

	// Wrong partition count.
	appID := testkit.UniqueName("app")
	if err := c.CreateTopic(ctx, topology.ChangelogTopic(appID, "counts"), 3, nil); err != nil {
		t.Fatal(err)
	}
	app, _ := samsa.New(countTopology(in, out), samsa.Config{ApplicationID: appID, Bootstrap: c.Bootstrap, StateDir: t.TempDir(), Logger: testkit.Logger(t, slog.LevelInfo)})
	err := app.Run(ctx)
	if !errors.Is(err, samsa.ErrInternalTopic) || !strings.Contains(err.Error(), appID+"-counts-changelog") || !strings.Contains(err.Error(), "has 3 partitions") {
		t.Fatalf("Run = %v, want ErrChangelog naming the topic and its partitions", err)
	}

	// Wrong cleanup policy.
	appID = testkit.UniqueName("app")
	del := "delete"
	if err := c.CreateTopic(ctx, topology.ChangelogTopic(appID, "counts"), 2, map[string]*string{"cleanup.policy": &del}); err != nil {
		t.Fatal(err)
	}
	app, _ = samsa.New(countTopology(in, out), samsa.Config{ApplicationID: appID, Bootstrap: c.Bootstrap, StateDir: t.TempDir(), Logger: testkit.Logger(t, slog.LevelInfo)})
	err = app.Run(ctx)
	if !errors.Is(err, samsa.ErrInternalTopic) || !strings.Contains(err.Error(), "cleanup.policy=delete") {
		t.Fatalf("Run = %v, want ErrChangelog naming the cleanup policy", err)
	}

	// Deleted changelog while local state exists.
	appID = testkit.UniqueName("app")
	dir := t.TempDir()
	produceKeys(t, c, in, 10, 5)
	app, _ = samsa.New(countTopology(in, out), samsa.Config{ApplicationID: appID, Bootstrap: c.Bootstrap, StateDir: dir, Logger: testkit.Logger(t, slog.LevelInfo)})
	runUntil(t, app, 10)
	if _, err := c.Admin().DeleteTopic(ctx, topology.ChangelogTopic(appID, "counts")); err != nil {
		t.Fatal(err)
	}
	app, _ = samsa.New(countTopology(in, out), samsa.Config{ApplicationID: appID, Bootstrap: c.Bootstrap, StateDir: dir, Logger: testkit.Logger(t, slog.LevelInfo)})
	err = app.Run(ctx)
	if !errors.Is(err, samsa.ErrInternalTopic) || !strings.Contains(err.Error(), "does not exist but local state does") {
		t.Fatalf("Run = %v, want ErrChangelog about the deleted topic", err)
	}
}

type countSum struct {
	Count int64 `json:"c"`
	Sum   int64 `json:"s"`
}

func TestRepartitionThenAggregate(t *testing.T) {
	c := testkit.NewCluster(t)
	in, out := c.Topic(t, "rp-in", 3), c.Topic(t, "rp-out", 3)
	appID := testkit.UniqueName("rp-app")
	top := topology.New()
	s := topology.StreamOf(top, serde.String, serde.String, in)
	byGroup := topology.GroupBy(s, "by-group", func(k, _ string) string { return "g" + strconv.Itoa(len(k)%4) }, serde.String, serde.String)
	topology.Aggregate(byGroup, "group-sums", func() countSum { return countSum{} },
		func(_ string, v string, a countSum) countSum {
			n, _ := strconv.ParseInt(v, 10, 64)
			return countSum{Count: a.Count + 1, Sum: a.Sum + n}
		}, serde.String, serde.JSON[countSum]()).
		To(out, serde.String, serde.JSON[countSum]())

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	want := map[string]countSum{}
	var recs []*kgo.Record
	for i := range 2000 {
		k := strings.Repeat("k", 1+i%9)
		g := "g" + strconv.Itoa(len(k)%4)
		want[g] = countSum{Count: want[g].Count + 1, Sum: want[g].Sum + int64(i)}
		recs = append(recs, &kgo.Record{Topic: in, Key: []byte(k), Value: []byte(strconv.Itoa(i))})
	}
	if err := c.Produce(ctx, false, recs...); err != nil {
		t.Fatal(err)
	}
	// The record cache off: every update is emitted, to be counted.
	app, err := samsa.New(top, samsa.Config{ApplicationID: appID, Bootstrap: c.Bootstrap, StateDir: t.TempDir(),
		Guarantee: samsa.ExactlyOnce, Logger: testkit.Logger(t, slog.LevelInfo), CacheMaxBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	// 2000 inputs are processed twice: once before and once after the
	// repartition topic.
	runUntil(t, app, 4000)
	got, err := c.ReadTopic(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	last := map[string]countSum{}
	updates := 0
	for _, rs := range got {
		for _, r := range rs {
			cs, err := serde.JSON[countSum]().Deserialize(out, r.Value)
			if err != nil {
				t.Fatal(err)
			}
			last[string(r.Key)] = cs
			updates++
		}
	}
	if updates != 2000 {
		t.Errorf("%d aggregate updates, want one per input (2000)", updates)
	}
	for g, w := range want {
		if last[g] != w {
			t.Errorf("group %s = %+v, want %+v", g, last[g], w)
		}
	}
	d, _ := top.Describe()
	if !strings.Contains(d.String(), "Sub-topology: 1") {
		t.Errorf("the repartition should split the topology in two:\n%s", d)
	}
}

// TestWindowStoreInTheApp counts per key and 1-minute window in a window
// store; its changelog is compact,delete with the retention plus a day.
func TestWindowStoreInTheApp(t *testing.T) {
	c := testkit.NewCluster(t)
	in, out := c.Topic(t, "win-in", 1), c.Topic(t, "win-out", 1)
	appID := testkit.UniqueName("win-app")
	top := topology.New()
	topology.AddSource(top, "src", topology.Source[string, string]{Topics: []string{in}, Key: serde.String, Value: serde.String})
	topology.AddProcessor(top, "window-count", processor.Func[string, string, string, int64](func(ctx processor.Context[string, int64], r processor.Record[string, string]) error {
		ws, err := processor.GetWindowStore[string, int64](ctx, "per-minute")
		if err != nil {
			return err
		}
		start := r.Timestamp.Truncate(time.Minute)
		var n int64
		for w, err := range ws.Fetch(r.Key, start, start) {
			if err != nil {
				return err
			}
			n = w.Value
		}
		n++
		if err := ws.Put(r.Key, n, start); err != nil {
			return err
		}
		ctx.Forward(processor.WithValue(r, n))
		return nil
	}).Supplier(), "src")
	topology.AddWindowStore(top, topology.WindowStore[string, int64]{Name: "per-minute", Key: serde.String, Value: serde.Int64, Retention: time.Hour}, "window-count")
	topology.AddSink(top, "sink", topology.Sink[string, int64]{Topic: out, Key: serde.String, Value: serde.Int64}, "window-count")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base := time.Now().Add(-time.Hour).Truncate(time.Minute)
	var recs []*kgo.Record
	for i := range 30 {
		recs = append(recs, &kgo.Record{Topic: in, Key: []byte("k"), Value: []byte("x"), Timestamp: base.Add(time.Duration(i) * 10 * time.Second)})
	}
	if err := c.Produce(ctx, true, recs...); err != nil {
		t.Fatal(err)
	}
	app, err := samsa.New(top, samsa.Config{ApplicationID: appID, Bootstrap: c.Bootstrap, StateDir: t.TempDir(), Logger: testkit.Logger(t, slog.LevelInfo)})
	if err != nil {
		t.Fatal(err)
	}
	runUntil(t, app, 30)
	got, err := c.ReadTopic(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	var counts []string
	for _, r := range got[0] {
		n, _ := serde.Int64.Deserialize(out, r.Value)
		counts = append(counts, strconv.FormatInt(n, 10))
	}
	// Six records per minute: counts restart at 1 in each window.
	if want := strings.Repeat("1,2,3,4,5,6,", 5); strings.Join(counts, ",")+"," != want {
		t.Fatalf("windowed counts %v", counts)
	}
	rc, err := c.Admin().DescribeTopicConfigs(ctx, topology.ChangelogTopic(appID, "per-minute"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := map[string]string{}
	for _, r := range rc {
		for _, c := range r.Configs {
			if c.Value != nil {
				cfg[c.Key] = *c.Value
			}
		}
	}
	if cfg["cleanup.policy"] != "compact,delete" || cfg["retention.ms"] != strconv.FormatInt((25*time.Hour).Milliseconds(), 10) {
		t.Fatalf("window changelog configs: cleanup.policy=%q retention.ms=%q", cfg["cleanup.policy"], cfg["retention.ms"])
	}
}

// syncBuffer is a goroutine-safe log sink for assertions on log lines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestForeignStateIsRebuilt: a state directory written by another
// application id is detected, wiped and rebuilt from the changelog, and a
// log line says why.
func TestForeignStateIsRebuilt(t *testing.T) {
	c := testkit.NewCluster(t)
	in, out := c.Topic(t, "foreign-in", 1), c.Topic(t, "foreign-out", 1)
	dir := t.TempDir()
	produceKeys(t, c, in, 100, 10)
	other, _ := samsa.New(countTopology(in, out), samsa.Config{ApplicationID: testkit.UniqueName("other-app"), Bootstrap: c.Bootstrap, StateDir: dir, Logger: testkit.Logger(t, slog.LevelInfo)})
	runUntil(t, other, 100)

	var logs syncBuffer
	appID := testkit.UniqueName("mine")
	// First run of "mine" elsewhere builds its changelog.
	mine, _ := samsa.New(countTopology(in, out), samsa.Config{ApplicationID: appID, Bootstrap: c.Bootstrap, StateDir: t.TempDir(), Logger: testkit.Logger(t, slog.LevelInfo)})
	runUntil(t, mine, 100)
	// Then "mine" starts on the other application's directory.
	produceKeys(t, c, in, 100, 10)
	mine, _ = samsa.New(countTopology(in, out), samsa.Config{ApplicationID: appID, Bootstrap: c.Bootstrap, StateDir: dir,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	runUntil(t, mine, 100)
	if !strings.Contains(logs.String(), "local state is unusable") || !strings.Contains(logs.String(), "belongs to another application") {
		t.Fatalf("no log line about the foreign state:\n%s", logs.String())
	}
	if mine.Restored() < 10 {
		t.Fatalf("restored %d records: the state was not rebuilt from the changelog", mine.Restored())
	}
	// "mine" wrote last: 200 records over 10 keys, counted from its
	// rebuilt state.
	for k, n := range lastCounts(t, c, out) {
		if n != 20 {
			t.Fatalf("key %s ends at %d, want 20", k, n)
		}
	}
}
