package samsa_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/testkit"
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
				out := c.Topic(b, "tp-out", parts)
				runtime.GC()
				base := rssBytes()
				// Each guarantee at its default commit interval: 30s
				// at-least-once, 100ms exactly-once.
				app, err := samsa.New(countTopology(in, out), samsa.Config{
					ApplicationID: testkit.UniqueName("tp-app"), Bootstrap: c.Bootstrap, Guarantee: v.g,
					StateDir: b.TempDir(), MaxUncommittedBytes: v.bound,
					Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
				})
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
				// Time from the first processed record, so group join is
				// not counted.
				run.WaitFor(b, time.Minute, "first record", func() bool { return app.Processed() > 0 })
				start := time.Now()
				run.WaitFor(b, 5*time.Minute, "all processed", func() bool { return app.Processed() >= int64(n) })
				el := time.Since(start)
				if err := run.Stop(); err != nil {
					b.Fatal(err)
				}
				close(stop)
				b.ReportMetric(float64(n)/el.Seconds(), "records/s")
				b.ReportMetric(float64(peak.Load()-base)/(1<<20), "MiB-RSS-growth")
				b.ReportMetric(float64(peak.Load())/(1<<20), "MiB-RSS-peak")
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
