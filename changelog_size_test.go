package samsa_test

import (
	"context"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// BenchmarkChangelogSize runs 1,000,000 updates over 100,000 keys
// (100-byte values) through a Reduce that keeps each key's last value in a
// Pebble store, and reports the size on disk of the store's changelog
// right after the run and once the log cleaner compacted it, and the size
// of the local state directory. The changelog is created through
// InternalTopicConfigs with 1 MiB segments and min.compaction.lag.ms=1h,
// so that nothing is compacted during the run; the benchmark then sets the
// lag to 0 and waits for the cleaner (the active segment of each partition
// is never cleaned). Run it by hand with
//
//	SAMSA_BOOTSTRAP=… go test -run '^$' -bench ChangelogSize -benchtime 1x -timeout 30m .
func BenchmarkChangelogSize(b *testing.B) {
	c := testkit.RealCluster(b)
	const n, keys, parts, valueSize = 1_000_000, 100_000, 3, 100
	for range b.N {
		in := c.Topic(b, "clsize-in", parts)
		ctx := context.Background()
		rng := rand.New(rand.NewPCG(1, 2))
		recs := make([]*kgo.Record, 0, 100_000)
		for i := range n {
			v := make([]byte, valueSize)
			for j := range v {
				v[j] = 'a' + byte(rng.IntN(26))
			}
			recs = append(recs, &kgo.Record{Topic: in, Key: []byte("key-" + strconv.Itoa(i%keys)), Value: v})
			if len(recs) == cap(recs) {
				if err := c.Produce(ctx, false, recs...); err != nil {
					b.Fatal(err)
				}
				recs = recs[:0]
			}
		}
		recs = nil

		appID := testkit.UniqueName("clsize-app")
		top := topology.New()
		topology.Reduce(topology.StreamOf(top, serde.String, serde.Bytes, in), "last", func(_, v []byte) []byte { return v }, serde.String, serde.Bytes)
		dir := b.TempDir()
		app, err := samsa.New(top, samsa.Config{
			ApplicationID: appID, Bootstrap: c.Bootstrap, StateDir: dir,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			InternalTopicConfigs: map[string]string{
				"segment.bytes": "1048576", "min.compaction.lag.ms": "3600000",
				"min.cleanable.dirty.ratio": "0.01", "file.delete.delay.ms": "0",
			},
		})
		if err != nil {
			b.Fatal(err)
		}
		run := testkit.Start(b, app)
		run.WaitFor(b, time.Minute, "first record", func() bool { return app.Processed() > 0 })
		start := time.Now()
		run.WaitFor(b, 10*time.Minute, "all processed", func() bool { return app.Processed() >= n })
		el := time.Since(start)
		if err := run.Stop(); err != nil {
			b.Fatal(err)
		}
		changelog := topology.ChangelogTopic(appID, "last")
		before := diskSize(b, c, changelog)
		state := dirSize(b, dir)

		cstart := time.Now()
		resps, err := c.Admin().AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "min.compaction.lag.ms", Value: new("0")}}, changelog)
		if err == nil {
			var r kadm.AlterConfigsResponse
			r, err = resps.On(changelog, nil)
			if err == nil {
				err = r.Err
			}
		}
		if err != nil {
			b.Fatal(err)
		}
		// The cleaner is done when the size stops falling for 30s (it
		// backs off 15s between passes).
		after, stable := before, time.Now()
		for deadline := time.Now().Add(10 * time.Minute); time.Since(stable) < 30*time.Second; {
			if time.Now().After(deadline) {
				b.Fatalf("changelog still shrinking after 10 minutes: %d bytes", after)
			}
			time.Sleep(2 * time.Second)
			if s := diskSize(b, c, changelog); s < after {
				after, stable = s, time.Now()
			}
		}
		if after >= before {
			b.Fatalf("the changelog was not compacted: %d bytes before, %d after", before, after)
		}
		b.Logf("%d updates over %d keys in %s (%.0f records/s); changelog %.1f MiB after the run, %.1f MiB compacted (in %s); state dir %.1f MiB",
			n, keys, el.Round(time.Millisecond), float64(n)/el.Seconds(), float64(before)/(1<<20), float64(after)/(1<<20),
			stable.Sub(cstart).Round(time.Second), float64(state)/(1<<20))
		b.ReportMetric(float64(before)/(1<<20), "MiB-changelog-run")
		b.ReportMetric(float64(after)/(1<<20), "MiB-changelog-compacted")
		b.ReportMetric(float64(state)/(1<<20), "MiB-state-dir")
		b.ReportMetric(float64(n)/el.Seconds(), "records/s")
	}
}

// dirSize is the total size of the regular files under dir.
func dirSize(b *testing.B, dir string) int64 {
	b.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		n += info.Size()
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// diskSize returns the size on disk of a topic's partitions, summed over
// the log directories of every broker.
func diskSize(tb testing.TB, c *testkit.Cluster, topic string) int64 {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	td, err := c.Admin().ListTopics(ctx, topic)
	if err != nil {
		tb.Fatal(err)
	}
	var set kadm.TopicsSet
	set.Add(topic, td[topic].Partitions.Numbers()...)
	dirs, err := c.Admin().DescribeAllLogDirs(ctx, set)
	if err != nil {
		tb.Fatal(err)
	}
	var n int64
	dirs.Each(func(d kadm.DescribedLogDir) {
		d.Topics.Each(func(p kadm.DescribedLogDirPartition) { n += p.Size })
	})
	return n
}
