package samsa_test

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa/internal/engine"
	"github.com/samsa-streams/samsa/internal/metrics"
	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/topology"
)

// discard is an engine.Output that counts and drops records.
type discard struct{ n int }

func (d *discard) Produce(string, int32, []byte, []byte, time.Time, []processor.Header, *kgo.Record) {
	d.n++
}
func (d *discard) Partitions(string) (int32, error) { return 8, nil }

// statelessTopology is source → mapValues → filter → peek → sink.
func statelessTopology[T any](s serde.Serde[T], mapFn func(T) T, keep func(T) bool) *topology.Topology {
	t := topology.New()
	src := topology.StreamOf(t, s, s, "in")
	topology.MapValues(src, func(_ T, v T) T { return mapFn(v) }).
		Filter(func(_ T, v T) bool { return keep(v) }).
		Peek(func(T, T) {}).
		To("out", s, s)
	return t
}

func benchTask(b *testing.B, top *topology.Topology) { benchTaskWith(b, top, false) }

// benchTaskWith runs the benchmark with or without the metrics hooks the
// runtime gives every task.
func benchTaskWith(b *testing.B, top *topology.Topology, withMetrics bool) {
	compiled, err := top.Compile("bench")
	if err != nil {
		b.Fatal(err)
	}
	plan := compiled.(*engine.Plan)
	out := &discard{}
	cfg := engine.TaskConfig{AppID: "bench", Output: out} // a stateless topology: no stores
	var tm *metrics.Task
	if withMetrics {
		tm = metrics.New("bench", metrics.Sources{}).Task("0_0")
		cfg.ProcessLatency, cfg.PunctuateLatency, cfg.OnDrop = tm.ProcessLatency, tm.PunctuateLatency, tm.Dropped
	}
	task, err := engine.NewTask(plan.Graph, plan.Subs[0], 0, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer task.Close()
	const batch = 512
	recs := make([]*kgo.Record, batch)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: "in", Key: []byte("user-12345"), Value: []byte(`{"page":"/index.html","ms":42}`), Timestamp: time.UnixMilli(int64(i))}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += batch {
		n := min(batch, b.N-i)
		for j := range n {
			recs[j].Offset = int64(i + j)
			task.Add(recs[j])
		}
		processed := task.Process(n)
		if tm != nil {
			tm.Processed(processed) // once per batch, as the runtime does
		}
	}
	b.StopTimer()
	if err := task.Err(); err != nil {
		b.Fatal(err)
	}
	if out.n != b.N {
		b.Fatalf("%d records out, want %d", out.n, b.N)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/record")
}

// BenchmarkStatelessBytes is the per-record path through a 3-processor
// stateless topology with []byte serdes (no Kafka client involved).
func BenchmarkStatelessBytes(b *testing.B) {
	benchTask(b, statelessTopology(serde.Bytes, func(v []byte) []byte { return v }, func(v []byte) bool { return len(v) > 0 }))
}

// BenchmarkStatelessString is the same with string serdes.
func BenchmarkStatelessString(b *testing.B) {
	benchTask(b, statelessTopology(serde.String, func(v string) string { return v }, func(v string) bool { return v != "" }))
}

// BenchmarkStatelessStringView is the same with the zero-copy string serde.
func BenchmarkStatelessStringView(b *testing.B) {
	benchTask(b, statelessTopology(serde.StringView, func(v string) string { return v }, func(v string) bool { return v != "" }))
}

// BenchmarkStatelessBytesMetrics is BenchmarkStatelessBytes with the
// metrics hooks of a running App: processed records per batch, the process
// latency sampled.
func BenchmarkStatelessBytesMetrics(b *testing.B) {
	benchTaskWith(b, statelessTopology(serde.Bytes, func(v []byte) []byte { return v }, func(v []byte) bool { return len(v) > 0 }), true)
}

// BenchmarkStatelessStringViewMetrics is BenchmarkStatelessStringView with
// the metrics hooks.
func BenchmarkStatelessStringViewMetrics(b *testing.B) {
	benchTaskWith(b, statelessTopology(serde.StringView, func(v string) string { return v }, func(v string) bool { return v != "" }), true)
}
