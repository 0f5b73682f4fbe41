package testkit_test

import (
	"errors"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

func newDriver(t *testing.T, top *topology.Topology, cfg testkit.DriverConfig) *testkit.Driver {
	t.Helper()
	d, err := testkit.NewDriver(top, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func TestDriverMapFilter(t *testing.T) {
	top := topology.New()
	s := topology.StreamOf(top, serde.String, serde.String, "in")
	topology.MapValues(s, func(_, v string) string { return strings.ToUpper(v) }).
		Filter(func(_, v string) bool { return v != "DROP" }).
		To("out", serde.String, serde.String)
	d := newDriver(t, top, testkit.DriverConfig{DefaultPartitions: 3})
	in := testkit.InputTopic(d, "in", serde.String, serde.String)
	out := testkit.OutputTopic(d, "out", serde.String, serde.String)
	for _, v := range []string{"a", "drop", "b"} {
		if err := in.Pipe("k-"+v, v); err != nil {
			t.Fatal(err)
		}
	}
	got, err := out.ReadValues()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "A,B" {
		t.Fatalf("got %v", got)
	}
	if !out.IsEmpty() {
		t.Fatal("reading should consume")
	}
	if _, err := out.ReadRecord(); !errors.Is(err, testkit.ErrNoRecord) {
		t.Fatalf("ReadRecord on empty = %v", err)
	}
}

// countByFirstLetter counts words by their first letter: the Map changes
// the key, so all words of a letter must meet in one task through a
// repartition topic, named by the user (Repartition) or inserted by
// Aggregate itself.
func countByFirstLetter(repartition bool) *topology.Topology {
	top := topology.New()
	words := topology.StreamOf(top, serde.String, serde.String, "words")
	byLetter := topology.Map(words, func(_, w string) (string, string) { return w[:1], w })
	if repartition {
		byLetter = topology.Repartition(byLetter, "by-letter", serde.String, serde.String)
	}
	topology.Aggregate(byLetter, "letter-counts", func() int64 { return 0 },
		func(_ string, _ string, n int64) int64 { return n + 1 }, serde.String, serde.Int64).
		To("counts", serde.String, serde.Int64)
	return top
}

// TestDriverRepartitionsAfterAKeyChange: Map then Aggregate counts per
// letter, not per input partition, with or without an explicit
// Repartition (before automatic repartitioning, the second run split the
// counts over the four partitions).
func TestDriverRepartitionsAfterAKeyChange(t *testing.T) {
	words := []string{"apple", "avocado", "apricot", "banana", "blueberry", "cherry", "almond", "beet"}
	run := func(repartition bool) map[string]int64 {
		d := newDriver(t, countByFirstLetter(repartition), testkit.DriverConfig{DefaultPartitions: 4})
		in := testkit.InputTopic(d, "words", serde.String, serde.String)
		for _, w := range words {
			if err := in.Pipe(w, w); err != nil { // keyed by the word: spread over partitions
				t.Fatal(err)
			}
		}
		m, err := testkit.ReadKeyValuesToMap(testkit.OutputTopic(d, "counts", serde.String, serde.Int64))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if got := run(true); got["a"] != 4 || got["b"] != 3 || got["c"] != 1 {
		t.Fatalf("with Repartition: %v, want a=4 b=3 c=1", got)
	}
	if got := run(false); got["a"] != 4 || got["b"] != 3 || got["c"] != 1 {
		t.Fatalf("Map then Aggregate: %v, want a=4 b=3 c=1 (repartitioned by the new key)", got)
	}
	desc, err := countByFirstLetter(false).Describe()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(desc.String(), "letter-counts-repartition") {
		t.Fatalf("no repartition topic named after the store in:\n%s", desc)
	}
}

func TestDriverMergeAndWallClockPunctuation(t *testing.T) {
	top := topology.New()
	a := topology.StreamOf(top, serde.String, serde.String, "a")
	b := topology.StreamOf(top, serde.String, serde.String, "b")
	merged := a.Merge(b)
	topology.Process(merged, func() processor.Processor[string, string, string, string] {
		return &ticker{}
	}).To("out", serde.String, serde.String)
	d := newDriver(t, top, testkit.DriverConfig{StartTime: time.Unix(100, 0)})
	inA := testkit.InputTopic(d, "a", serde.String, serde.String)
	inB := testkit.InputTopic(d, "b", serde.String, serde.String)
	out := testkit.OutputTopic(d, "out", serde.String, serde.String)
	ms := func(n int64) time.Time { return time.UnixMilli(n) }
	// Records of one task are processed as they are piped; the driver is
	// synchronous, so order follows the pipe calls here.
	for _, p := range []struct {
		in *testkit.Input[string, string]
		v  string
		ts int64
	}{{inA, "a1", 10}, {inB, "b1", 20}, {inA, "a2", 30}} {
		if err := p.in.PipeAt("k", p.v, ms(p.ts)); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.AdvanceWallClockTime(3 * time.Second); err != nil {
		t.Fatal(err)
	}
	got, _ := out.ReadValues()
	if strings.Join(got, ",") != "a1,b1,a2,tick@103" {
		t.Fatalf("got %v", got)
	}
}

type ticker struct {
	ctx processor.Context[string, string]
}

func (p *ticker) Init(ctx processor.Context[string, string]) error {
	p.ctx = ctx
	ctx.Schedule(2*time.Second, processor.WallClockTime, func(now time.Time) error {
		ctx.Forward(processor.NewRecord("tick", "tick@"+strconv.FormatInt(now.Unix(), 10), now))
		return nil
	})
	return nil
}
func (p *ticker) Process(r processor.Record[string, string]) error { p.ctx.Forward(r); return nil }
func (p *ticker) Close() error                                     { return nil }

func TestDriverStoresAndErrors(t *testing.T) {
	top := topology.New()
	s := topology.StreamOf(top, serde.String, serde.JSON[map[string]int](), "in")
	topology.Aggregate(s, "sums", func() int64 { return 0 },
		func(_ string, v map[string]int, n int64) int64 { return n + int64(v["n"]) }, serde.String, serde.Int64).
		To("out", serde.String, serde.Int64)
	d := newDriver(t, top, testkit.DriverConfig{DefaultPartitions: 2})
	in := testkit.InputTopic(d, "in", serde.String, serde.JSON[map[string]int]())
	for i := range 10 {
		if err := in.Pipe("k"+strconv.Itoa(i%2), map[string]int{"n": i}); err != nil {
			t.Fatal(err)
		}
	}
	total := int64(0)
	for p := int32(0); p < 2; p++ {
		st, err := testkit.KeyValueStoreOf[string, int64](d, "sums", p)
		if err != nil {
			t.Fatal(err)
		}
		for kv, err := range st.All() {
			if err != nil {
				t.Fatal(err)
			}
			total += kv.Value
		}
	}
	if total != 45 {
		t.Fatalf("stores sum to %d, want 45", total)
	}
	err := in.PipeRaw([]byte("k0"), []byte("{not json"), time.Unix(1, 0), nil, 1)
	if err == nil || !strings.Contains(err.Error(), `topic "in" partition 1 offset`) || !errors.Is(err, serde.ErrDeserialize) {
		t.Fatalf("bad record: %v", err)
	}
	if err := in.Pipe("k", map[string]int{}); err == nil {
		t.Fatal("the driver should stay failed after a fatal error")
	}
}

func TestDriverTenThousandRecordsAndNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	top := topology.New()
	s := topology.StreamOf(top, serde.String, serde.String, "in")
	topology.Aggregate(topology.GroupBy(s, "by-mod", func(k, _ string) string { return k[len(k)-1:] }, serde.String, serde.String),
		"counts", func() int64 { return 0 }, func(_, _ string, n int64) int64 { return n + 1 }, serde.String, serde.Int64).
		To("out", serde.String, serde.Int64)
	d, err := testkit.NewDriver(top, testkit.DriverConfig{DefaultPartitions: 4})
	if err != nil {
		t.Fatal(err)
	}
	in := testkit.InputTopic(d, "in", serde.String, serde.String)
	start := time.Now()
	for i := range 10000 {
		if err := in.Pipe("key-"+strconv.Itoa(i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	el := time.Since(start)
	m, err := testkit.ReadKeyValuesToMap(testkit.OutputTopic(d, "out", serde.String, serde.Int64))
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 10 || m["7"] != 1000 {
		t.Fatalf("counts %v, want 10 digits × 1000", m)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("10,000 records through a repartition and a store in %s", el)
	if el > 5*time.Second { // loose: well under a second normally, even with -race
		t.Errorf("10,000 records took %s", el)
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Errorf("%d goroutines after Close, %d before", after, before)
	}
}

// A record whose processing fails leaves no store write behind, as an
// aborted transaction in an App: the driver runs the production store
// stack (write buffer committed after each input record, aborted on error).
func TestDriverFailedRecordLeavesNoWrite(t *testing.T) {
	top := topology.New()
	topology.AddSource(top, "in", topology.Source[string, string]{Topics: []string{"in"}, Key: serde.String, Value: serde.String})
	topology.AddProcessor(top, "put", processor.Func[string, string, string, string](
		func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
			s, err := processor.GetKeyValueStore[string, string](ctx, "s")
			if err != nil {
				return err
			}
			if err := s.Put(r.Key, r.Value); err != nil {
				return err
			}
			if r.Value == "bad" {
				return errors.New("bad value")
			}
			return nil
		}).Supplier(), "in")
	topology.AddKeyValueStore(top, topology.KeyValueStore[string, string]{Name: "s", Key: serde.String, Value: serde.String}, "put")
	d, err := testkit.NewDriver(top, testkit.DriverConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "in", serde.String, serde.String)
	if err := in.Pipe("k", "good"); err != nil {
		t.Fatal(err)
	}
	if err := in.Pipe("k", "bad"); err == nil {
		t.Fatal("the failing record did not fail the driver")
	}
	s, err := testkit.KeyValueStoreOf[string, string](d, "s", 0)
	if err != nil {
		t.Fatal(err)
	}
	if v, _, err := s.Get("k"); err != nil || v != "good" {
		t.Fatalf("store holds %q (%v) after the failed record, want the committed %q", v, err, "good")
	}
}
