package samsa_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/testkit"
)

// BenchmarkCountThroughput measures a stateful count topology (a Pebble
// store with a changelog, one output per input) on the real broker, under
// at-least-once and exactly-once with a 100ms commit interval. Run it with
//
//	SAMSA_BOOTSTRAP=… [SAMSA_BENCH_RECORDS=1000000] go test -run '^$' -bench CountThroughput -benchtime 1x .
//
// and compare the records/s of the two in the same run.
func BenchmarkCountThroughput(b *testing.B) {
	c := testkit.RealCluster(b)
	const parts = 6
	n := 200000
	if v, err := strconv.Atoi(os.Getenv("SAMSA_BENCH_RECORDS")); err == nil && v > 0 {
		n = v
	}
	in := c.Topic(b, "tp-in", parts)
	ctx := context.Background()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: in, Key: []byte("key-" + strconv.Itoa(i%10000)), Value: []byte("x")}
	}
	if err := c.Produce(ctx, false, recs...); err != nil {
		b.Fatal(err)
	}
	for _, g := range []samsa.Guarantee{samsa.AtLeastOnce, samsa.ExactlyOnce} {
		b.Run(g.String(), func(b *testing.B) {
			for range b.N {
				out := c.Topic(b, "tp-out", parts)
				// Each guarantee at its default commit interval: 30s
				// at-least-once, 100ms exactly-once.
				app, err := samsa.New(countTopology(in, out), samsa.Config{
					ApplicationID: testkit.UniqueName("tp-app"), Bootstrap: c.Bootstrap, Guarantee: g,
					StateDir: b.TempDir(),
					Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
				})
				if err != nil {
					b.Fatal(err)
				}
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
				b.ReportMetric(float64(n)/el.Seconds(), "records/s")
			}
		})
	}
}
