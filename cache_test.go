package samsa_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

func TestCacheCountExactlyOnce(t *testing.T) {
	t.Run("embedded", func(t *testing.T) { runCacheCount(t, testkit.EmbeddedCluster(t)) })
	t.Run("real", func(t *testing.T) { runCacheCount(t, testkit.RealCluster(t)) })
}

// runCacheCount: 100,000 records over 1,000 keys, produced in 20 batches
// 250 ms apart while the app runs, counted under exactly-once with a 1 s
// commit interval: the record cache collapses the updates of a key
// between commits, so the output and the changelog get far fewer records
// than the input (about one per key and commit), and every key's last
// count is exact.
func runCacheCount(t *testing.T, c *testkit.Cluster) {
	const n, keys = 100_000, 1_000
	in, out := c.Topic(t, "cache-in", 2), c.Topic(t, "cache-out", 2)
	appID := testkit.UniqueName("cache-app")
	top := topology.New()
	topology.Count(topology.StreamOf(top, serde.String, serde.String, in), "counts", serde.String).To(out, serde.String, serde.Int64)
	app, err := samsa.New(top, samsa.Config{
		ApplicationID: appID, Bootstrap: c.Bootstrap, StateDir: t.TempDir(),
		Guarantee: samsa.ExactlyOnce, CommitInterval: time.Second,
		Logger: testkit.Logger(t, slog.LevelInfo),
	})
	if err != nil {
		t.Fatal(err)
	}
	run := testkit.Start(t, app)
	for range 20 {
		produceKeys(t, c, in, n/20, keys)
		time.Sleep(250 * time.Millisecond)
	}
	run.WaitFor(t, 90*time.Second, "input processed", func() bool { return app.Processed() >= n })
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}
	outputs := readAll(t, c, out)
	changelog := readAll(t, c, topology.ChangelogTopic(appID, "counts"))
	last := map[string]int64{}
	for _, r := range outputs {
		v, err := serde.Int64.Deserialize(out, r.Value)
		if err != nil {
			t.Fatal(err)
		}
		last[string(r.Key)] = v
	}
	if len(last) != keys {
		t.Fatalf("%d keys in the output, want %d", len(last), keys)
	}
	for k, v := range last {
		if v != n/keys {
			t.Errorf("key %s: last count %d, want %d", k, v, n/keys)
		}
	}
	t.Logf("%d input records: %d output records (%.4f of the input), %d changelog records (%.4f)",
		n, len(outputs), float64(len(outputs))/n, len(changelog), float64(len(changelog))/n)
	if len(outputs) >= n/2 || len(changelog) >= n/2 {
		t.Fatalf("%d output and %d changelog records for %d input records: the cache should collapse most updates (fewer than half)", len(outputs), len(changelog), n)
	}
}
