package samsa_test

import (
	"context"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// BenchmarkCountThroughput measures a stateful count topology (a Pebble
// store with a changelog, one output per input) on the real broker, under
// at-least-once (30s commits, with and without the MaxUncommittedBytes
// bound) and exactly-once with a 100ms commit interval, and the peak RSS
// of the process while the app runs. Run it with
//
//	SAMSA_BOOTSTRAP=… [SAMSA_BENCH_RECORDS=1000000] [SAMSA_BENCH_KEYS=10000] go test -run '^$' -bench CountThroughput -benchtime 1x .
//
// and compare the records/s of the variants in the same run.
func BenchmarkCountThroughput(b *testing.B) {
	c := testkit.RealCluster(b)
	const parts = 6
	n, keys := 200000, 10000
	if v, err := strconv.Atoi(os.Getenv("SAMSA_BENCH_RECORDS")); err == nil && v > 0 {
		n = v
	}
	if v, err := strconv.Atoi(os.Getenv("SAMSA_BENCH_KEYS")); err == nil && v > 0 {
		keys = v
	}
	in := c.Topic(b, "tp-in", parts)
	ctx := context.Background()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: in, Key: []byte("key-" + strconv.Itoa(i%keys)), Value: []byte("x")}
	}
	if err := c.Produce(ctx, false, recs...); err != nil {
		b.Fatal(err)
	}
	recs = nil
	for _, v := range []struct {
		name  string
		g     samsa.Guarantee
		bound int64
	}{
		{"at_least_once", samsa.AtLeastOnce, 0},
		{"at_least_once-unbounded", samsa.AtLeastOnce, 1 << 62},
		{"exactly_once_v2", samsa.ExactlyOnce, 0},
	} {
		b.Run(v.name, func(b *testing.B) {
			for range b.N {
				// Each guarantee at its default commit interval: 30s
				// at-least-once, 100ms exactly-once.
				measureThroughput(b, c, func(out string) *topology.Topology { return countTopology(in, out) }, int64(n), n,
					samsa.Config{Guarantee: v.g, MaxUncommittedBytes: v.bound})
			}
		})
	}
}

// measureThroughput runs the topology top(out) on the real broker with cfg
// (application id, bootstrap, state directory and a silent logger are
// set) until the App processed want records (every source record,
// repartition topics included), and reports records/s of n input records
// from the first record processed (the group join is not counted), the
// peak RSS and its growth, and the state directory's size on disk.
func measureThroughput(b *testing.B, c *testkit.Cluster, top func(out string) *topology.Topology, want int64, n int, cfg samsa.Config) {
	b.Helper()
	out := c.Topic(b, "tp-out", 6)
	runtime.GC()
	base := rssBytes()
	cfg.ApplicationID, cfg.Bootstrap = testkit.UniqueName("tp-app"), c.Bootstrap
	cfg.StateDir, cfg.Logger = b.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil))
	app, err := samsa.New(top(out), cfg)
	if err != nil {
		b.Fatal(err)
	}
	var peak atomic.Int64
	stop := make(chan struct{})
	go func() {
		for {
			if r := rssBytes(); r > peak.Load() {
				peak.Store(r)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	run := testkit.Start(b, app)
	run.WaitFor(b, time.Minute, "first record", func() bool { return app.Processed() > 0 })
	start := time.Now()
	run.WaitFor(b, 5*time.Minute, "all processed", func() bool { return app.Processed() >= want })
	el := time.Since(start)
	if err := run.Stop(); err != nil {
		b.Fatal(err)
	}
	close(stop)
	b.ReportMetric(float64(n)/el.Seconds(), "records/s")
	b.ReportMetric(float64(peak.Load()-base)/(1<<20), "MiB-RSS-growth")
	b.ReportMetric(float64(peak.Load())/(1<<20), "MiB-RSS-peak")
	b.ReportMetric(float64(dirBytes(cfg.StateDir))/(1<<20), "MiB-state")
}

// dirBytes is the size of the files under dir.
func dirBytes(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// BenchmarkDSLThroughput measures DSL topologies on the real broker under
// exactly-once (100ms commits), each on the same input (SAMSA_BENCH_RECORDS
// records, default 200,000, over SAMSA_BENCH_KEYS keys, default 100,000, 6
// partitions, event times one millisecond apart):
//
//   - count: Count by the input key (no repartition), the baseline;
//
//   - groupby-count: Map to a new key (key mod 1,000) then Count, through
//     the repartition topic the DSL inserts;
//
//   - stream-table-join: LeftJoin with a table of every key (loaded
//     first, not timed), every record joined;
//
//   - windowed-count: WindowedCount in one-minute tumbling windows.
//
//     SAMSA_BOOTSTRAP=… go test -run '^$' -bench DSLThroughput -benchtime 1x .
func BenchmarkDSLThroughput(b *testing.B) {
	c := testkit.RealCluster(b)
	n, keys := 200000, 100000
	if v, err := strconv.Atoi(os.Getenv("SAMSA_BENCH_RECORDS")); err == nil && v > 0 {
		n = v
	}
	if v, err := strconv.Atoi(os.Getenv("SAMSA_BENCH_KEYS")); err == nil && v > 0 {
		keys = v
	}
	in, table := c.Topic(b, "dsl-in", 6), c.Topic(b, "dsl-table", 6)
	ctx := context.Background()
	t0 := time.Now().Add(-2 * time.Hour) // recent: the broker deletes records older than its retention (7 days)
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: in, Key: []byte("key-" + strconv.Itoa(i%keys)), Value: []byte("x"), Timestamp: t0.Add(time.Duration(i) * time.Millisecond)}
	}
	if err := c.Produce(ctx, false, recs...); err != nil {
		b.Fatal(err)
	}
	recs = recs[:0]
	for i := range keys {
		recs = append(recs, &kgo.Record{Topic: table, Key: []byte("key-" + strconv.Itoa(i)), Value: []byte("v" + strconv.Itoa(i)), Timestamp: t0.Add(-time.Hour)})
	}
	if err := c.Produce(ctx, false, recs...); err != nil {
		b.Fatal(err)
	}
	recs = nil
	eos := samsa.Config{Guarantee: samsa.ExactlyOnce}
	for _, v := range []struct {
		name string
		top  func(out string) *topology.Topology
		want int64
	}{
		{"count", func(out string) *topology.Topology {
			top := topology.New()
			topology.Count(topology.StreamOf(top, serde.String, serde.String, in), "counts", serde.String).To(out, serde.String, serde.Int64)
			return top
		}, int64(n)},
		{"groupby-count", func(out string) *topology.Topology {
			top := topology.New()
			s := topology.Map(topology.StreamOf(top, serde.String, serde.String, in), func(k, v string) (string, string) {
				i, _ := strconv.Atoi(strings.TrimPrefix(k, "key-"))
				return strconv.Itoa(i % 1000), v
			})
			topology.Count(s, "counts", serde.String).To(out, serde.String, serde.Int64)
			return top
		}, 2 * int64(n)},
		{"stream-table-join", func(out string) *topology.Topology {
			top := topology.New()
			t := topology.TableOf(top, table, "table", serde.String, serde.String)
			topology.LeftJoin(topology.StreamOf(top, serde.String, serde.String, in), t, func(_, v, tv string, _ bool) string { return v + tv }).
				To(out, serde.String, serde.String)
			return top
		}, int64(n + keys)},
		{"windowed-count", func(out string) *topology.Topology {
			top := topology.New()
			topology.WindowedCount(topology.StreamOf(top, serde.String, serde.String, in), topology.TumblingWindows(time.Minute), "per-minute", serde.String).
				To(out, topology.TimeWindowedSerde(serde.String, time.Minute), serde.Int64)
			return top
		}, int64(n)},
	} {
		b.Run(v.name, func(b *testing.B) {
			for range b.N {
				measureThroughput(b, c, v.top, v.want, n, eos)
			}
		})
	}
}

// rssBytes is the resident set size of this process (Linux).
func rssBytes() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}
