package engine

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
)

func TestMurmur2MatchesKafka(t *testing.T) {
	// Vectors from Kafka's UtilsTest.testMurmur2.
	cases := map[string]int32{
		"21":                         -973932308,
		"foobar":                     -790332482,
		"a-little-bit-long-string":   -985981536,
		"a-little-bit-longer-string": -1486304829,
		"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
		"abc": 479470107,
	}
	for in, want := range cases {
		if got := int32(murmur2([]byte(in))); got != want {
			t.Errorf("murmur2(%q) = %d, want %d", in, got, want)
		}
	}
	// And the partition agrees with franz-go's Kafka-compatible partitioner.
	p := kgo.StickyKeyPartitioner(nil).ForTopic("t")
	for i := range 1000 {
		k := []byte(strings.Repeat("k", i%7) + string(rune('a'+i%26)) + string(rune(i)))
		if got, want := KeyPartition(k, 12), int32(p.Partition(&kgo.Record{Key: k}, 12)); got != want {
			t.Fatalf("KeyPartition(%q) = %d, franz-go says %d", k, got, want)
		}
	}
}

type collect struct {
	recs []string
}

func (c *collect) Produce(topic string, p int32, k, v []byte, _ time.Time, _ []processor.Header, _ *kgo.Record) {
	c.recs = append(c.recs, topic+":"+string(k)+"="+string(v))
}
func (c *collect) Partitions(string) (int32, error) { return 1, nil }

func newGraph(t *testing.T, build func(g *Graph)) (*Graph, []*Subtopology) {
	t.Helper()
	g := NewGraph()
	build(g)
	subs, err := g.Validate()
	if err != nil {
		t.Fatal(err)
	}
	return g, subs
}

func TestTaskPicksLowestTimestampAcrossPartitions(t *testing.T) {
	clock := time.Now
	g, subs := newGraph(t, func(g *Graph) {
		g.Add(&Node{Name: "a", Kind: KindSource, Topics: []string{"ta"}, Make: NewSource(serde.String, serde.String, nil)})
		g.Add(&Node{Name: "b", Kind: KindSource, Topics: []string{"tb"}, Make: NewSource(serde.String, serde.String, nil)})
		g.Add(&Node{Name: "out", Kind: KindSink, Parents: []string{"a", "b"}, Topic: "o", Make: NewSink(SinkSpec[string, string]{Topic: "o", Key: serde.String, Value: serde.String})})
	})
	out := &collect{}
	task, err := NewTask(g, subs[0], 0, TaskConfig{AppID: "app", Output: out, Stores: NewMemoryStores(), Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	at := func(topic, v string, ms int64, off int64) *kgo.Record {
		return &kgo.Record{Topic: topic, Value: []byte(v), Timestamp: time.UnixMilli(ms), Offset: off}
	}
	task.Add(at("ta", "a1", 10, 0))
	task.Add(at("ta", "a2", 40, 1))
	task.Add(at("tb", "b1", 20, 0))
	task.Add(at("tb", "b2", 30, 1))
	if n := task.Process(100); n != 4 {
		t.Fatalf("processed %d", n)
	}
	if got := strings.Join(out.recs, " "); got != "o:=a1 o:=b1 o:=b2 o:=a2" {
		t.Errorf("order = %s, want lowest timestamp first", got)
	}
	if got := task.Offsets(); got["ta"].Offset != 2 || got["tb"].Offset != 2 {
		t.Errorf("offsets = %v", got)
	}
	if task.StreamTime() != time.UnixMilli(40) {
		t.Errorf("stream time = %v", task.StreamTime())
	}
}

func TestPunctuationAndForwardTo(t *testing.T) {
	var fired []int64
	var wall int
	var cancel processor.Cancellable
	g, subs := newGraph(t, func(g *Graph) {
		g.Add(&Node{Name: "src", Kind: KindSource, Topics: []string{"in"}, Make: NewSource(serde.String, serde.String, nil)})
		g.Add(&Node{Name: "route", Kind: KindProcessor, Parents: []string{"src"}, Make: NewProcessor(func() processor.Processor[string, string, string, string] {
			return &router{onInit: func(ctx processor.Context[string, string]) {
				ctx.Schedule(10*time.Millisecond, processor.StreamTime, func(ts time.Time) error {
					fired = append(fired, ts.UnixMilli())
					return nil
				})
				cancel = ctx.Schedule(time.Second, processor.WallClockTime, func(time.Time) error { wall++; return nil })
			}}
		})})
		g.Add(&Node{Name: "x", Kind: KindSink, Parents: []string{"route"}, Topic: "x", Make: NewSink(SinkSpec[string, string]{Topic: "x", Key: serde.String, Value: serde.String})})
		g.Add(&Node{Name: "y", Kind: KindSink, Parents: []string{"route"}, Topic: "y", Make: NewSink(SinkSpec[string, string]{Topic: "y", Key: serde.String, Value: serde.String})})
	})
	out := &collect{}
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	task, err := NewTask(g, subs[0], 0, TaskConfig{AppID: "app", Output: out, Stores: NewMemoryStores(), Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	for i, ms := range []int64{0, 5, 12, 35, 36} {
		task.Add(&kgo.Record{Topic: "in", Key: []byte([]string{"x", "y"}[i%2]), Value: []byte("v"), Timestamp: time.UnixMilli(ms), Offset: int64(i)})
	}
	task.Process(10)
	if err := task.Err(); err != nil {
		t.Fatal(err)
	}
	// Armed at stream time 0 with a 10ms interval: 12 passes 10 and fires;
	// 35 passes 20 and 30 but fires once; 36 is before 40.
	if got := fired; len(got) != 2 || got[0] != 12 || got[1] != 35 {
		t.Errorf("stream-time punctuations at %v, want [12 35]", got)
	}
	if got := strings.Join(out.recs, " "); got != "x:x=v y:y=v x:x=v y:y=v x:x=v" {
		t.Errorf("ForwardTo routing: %s", got)
	}
	now = now.Add(5 * time.Second)
	task.PunctuateWallClock()
	if wall != 1 {
		t.Errorf("wall-clock punctuator fired %d times after 5s at a 1s interval, want 1 (one firing per call)", wall)
	}
	cancel.Cancel()
	now = now.Add(5 * time.Second)
	task.PunctuateWallClock()
	if wall != 1 {
		t.Errorf("cancelled punctuator fired: %d", wall)
	}
}

type router struct {
	ctx    processor.Context[string, string]
	onInit func(processor.Context[string, string])
}

func (r *router) Init(ctx processor.Context[string, string]) error {
	r.ctx = ctx
	r.onInit(ctx)
	return nil
}
func (r *router) Process(rec processor.Record[string, string]) error {
	r.ctx.ForwardTo(rec.Key, rec)
	return nil
}
func (r *router) Close() error { return nil }

func TestForwardToUnknownChildFailsTheTask(t *testing.T) {
	clock := time.Now
	g, subs := newGraph(t, func(g *Graph) {
		g.Add(&Node{Name: "src", Kind: KindSource, Topics: []string{"in"}, Make: NewSource(serde.String, serde.String, nil)})
		g.Add(&Node{Name: "route", Kind: KindProcessor, Parents: []string{"src"}, Make: NewProcessor(func() processor.Processor[string, string, string, string] {
			return &router{onInit: func(processor.Context[string, string]) {}}
		})})
		g.Add(&Node{Name: "x", Kind: KindSink, Parents: []string{"route"}, Topic: "x", Make: NewSink(SinkSpec[string, string]{Topic: "x", Key: serde.String, Value: serde.String})})
	})
	task, err := NewTask(g, subs[0], 0, TaskConfig{AppID: "app", Output: &collect{}, Stores: NewMemoryStores(), Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	task.Add(&kgo.Record{Topic: "in", Key: []byte("nope"), Offset: 7, Timestamp: time.UnixMilli(7)})
	task.Process(1)
	if err := task.Err(); err == nil || !strings.Contains(err.Error(), `"nope" is not a child of "route"`) || !strings.Contains(err.Error(), "offset 7") {
		t.Fatalf("err = %v", err)
	}
	if len(task.Offsets()) != 0 {
		t.Errorf("a failed record must not advance the offsets: %v", task.Offsets())
	}
}

// TestInputGateStopsProcessingWhileAnInputIsEmpty checks that a task with
// two inputs asks its gate about an empty input before each record, stops
// when the gate says wait (keeping the rest queued), goes on when it
// allows, and that a task with one input never asks.
func TestInputGateStopsProcessingWhileAnInputIsEmpty(t *testing.T) {
	g, subs := newGraph(t, func(g *Graph) {
		g.Add(&Node{Name: "a", Kind: KindSource, Topics: []string{"ta"}, Make: NewSource(serde.String, serde.String, nil)})
		g.Add(&Node{Name: "b", Kind: KindSource, Topics: []string{"tb"}, Make: NewSource(serde.String, serde.String, nil)})
		g.Add(&Node{Name: "out", Kind: KindSink, Parents: []string{"a", "b"}, Topic: "o", Make: NewSink(SinkSpec[string, string]{Topic: "o", Key: serde.String, Value: serde.String})})
	})
	out := &collect{}
	task, err := NewTask(g, subs[0], 0, TaskConfig{AppID: "app", Output: out, Stores: NewMemoryStores()})
	if err != nil {
		t.Fatal(err)
	}
	defer task.Close()
	if got := strings.Join(task.Inputs(), ","); got != "ta,tb" {
		t.Fatalf("inputs %s, want ta,tb", got)
	}
	at := func(topic, v string, ms int64, off int64) *kgo.Record {
		return &kgo.Record{Topic: topic, Value: []byte(v), Timestamp: time.UnixMilli(ms), Offset: off}
	}
	open := map[string]bool{}
	var asked []string
	task.SetInputGate(func(topic string) bool {
		asked = append(asked, topic)
		return open[topic]
	})
	task.Add(at("ta", "a1", 10, 0))
	task.Add(at("ta", "a2", 40, 1))
	task.Add(at("tb", "b1", 20, 0))
	// b1 is processed after a1; then tb is empty and its gate is closed.
	if n := task.Process(100); n != 2 {
		t.Fatalf("processed %d, want 2 (a1, b1) before waiting for tb", n)
	}
	if got := strings.Join(asked, ","); got != "tb" {
		t.Fatalf("gate asked about %q, want tb once", got)
	}
	if n := task.Process(100); n != 0 {
		t.Fatalf("processed %d while the gate of the empty input is closed", n)
	}
	open["tb"] = true
	if n := task.Process(100); n != 1 {
		t.Fatalf("processed %d once the gate opened, want 1 (a2)", n)
	}
	if got := strings.Join(out.recs, " "); got != "o:=a1 o:=b1 o:=a2" {
		t.Errorf("order = %s", got)
	}

	// One input: the gate is never asked.
	one, out1 := punctTask(t, time.Hour, nil, TaskConfig{})
	one.SetInputGate(func(string) bool { t.Error("gate asked by a task with one input"); return false })
	one.Add(rec("x", 1, 0))
	if n := one.Process(10); n != 1 || len(out1.on("out")) != 1 {
		t.Fatalf("one-input task processed %d (outputs %v)", n, out1.on("out"))
	}
}

// TestUnprocessedAndDrop: the gate holds queued records; Unprocessed
// names the first of them per input (where the consumer goes back to),
// DropUnprocessed forgets them and a marker behind them, and the offsets
// processed before stay to be committed.
func TestUnprocessedAndDrop(t *testing.T) {
	g, subs := newGraph(t, func(g *Graph) {
		g.Add(&Node{Name: "a", Kind: KindSource, Topics: []string{"ta"}, Make: NewSource(serde.String, serde.String, nil)})
		g.Add(&Node{Name: "b", Kind: KindSource, Topics: []string{"tb"}, Make: NewSource(serde.String, serde.String, nil)})
		g.Add(&Node{Name: "out", Kind: KindSink, Parents: []string{"a", "b"}, Topic: "o", Make: NewSink(SinkSpec[string, string]{Topic: "o", Key: serde.String, Value: serde.String})})
	})
	out := &collect{}
	task, err := NewTask(g, subs[0], 0, TaskConfig{AppID: "app", Output: out, Stores: NewMemoryStores()})
	if err != nil {
		t.Fatal(err)
	}
	defer task.Close()
	at := func(topic, v string, ms int64, off int64) *kgo.Record {
		return &kgo.Record{Topic: topic, Value: []byte(v), Timestamp: time.UnixMilli(ms), Offset: off, LeaderEpoch: 3}
	}
	open := map[string]bool{}
	task.SetInputGate(func(topic string) bool { return open[topic] })
	if got := task.Unprocessed(); got != nil {
		t.Fatalf("unprocessed %v with nothing queued", got)
	}
	task.Add(at("ta", "a1", 10, 7))
	task.Add(at("tb", "b1", 20, 4))
	task.Add(at("ta", "a2", 40, 8))
	task.Add(&kgo.Record{Topic: "ta", Offset: 9, Attrs: kgo.NewRecordAttrs(kgo.RecordAttrsOpts{Control: true})})
	if n := task.Process(100); n != 2 {
		t.Fatalf("processed %d, want 2 (a1, b1) before waiting for tb", n)
	}
	got := task.Unprocessed()
	if len(got) != 1 || got["ta"] != (kgo.EpochOffset{Epoch: 3, Offset: 8}) {
		t.Fatalf("unprocessed %v, want ta at offset 8 epoch 3 (a2, held by the gate)", got)
	}
	task.DropUnprocessed()
	if got := task.Unprocessed(); got != nil {
		t.Fatalf("unprocessed %v after the drop", got)
	}
	offs := task.Offsets()
	if offs["ta"].Offset != 8 || offs["tb"].Offset != 5 {
		t.Fatalf("offsets to commit %v, want ta 8 (not past the dropped a2 nor its marker), tb 5", offs)
	}
	open["tb"] = true
	task.Add(at("ta", "a2", 40, 8))
	task.Process(100)
	if s := strings.Join(out.recs, " "); s != "o:=a1 o:=b1 o:=a2" {
		t.Errorf("outputs %s, want a2 once, after it was fetched again", s)
	}
}

// TestTransactionMarkersMoveTheOffsetToCommit checks that a transaction
// marker is never processed and that the offset to commit moves past it
// once the records before it are processed, not before.
func TestTransactionMarkersMoveTheOffsetToCommit(t *testing.T) {
	task, out := punctTask(t, time.Hour, nil, TaskConfig{})
	marker := func(off int64) *kgo.Record {
		return &kgo.Record{Topic: "in", Offset: off, Attrs: kgo.NewRecordAttrs(kgo.RecordAttrsOpts{Control: true})}
	}
	task.Add(rec("a", 1, 0))
	task.Add(rec("b", 2, 1))
	task.Add(marker(2))
	if got := task.Offsets(); got != nil {
		t.Fatalf("offsets %v before anything was processed", got)
	}
	if n := task.Process(1); n != 1 {
		t.Fatalf("processed %d, want 1", n)
	}
	if got := task.Offsets()["in"].Offset; got != 1 {
		t.Fatalf("offset to commit %d with a record before the marker still queued, want 1", got)
	}
	if n := task.Process(10); n != 1 {
		t.Fatalf("processed %d, want 1: the marker is not a record", n)
	}
	if got := task.Offsets()["in"].Offset; got != 3 {
		t.Fatalf("offset to commit %d once the records before the marker are processed, want 3 (past it)", got)
	}
	task.MarkOffsetsCommitted()
	// A marker alone (its records processed in an earlier poll).
	task.Add(rec("c", 3, 3))
	task.Process(10)
	task.Add(marker(4))
	if got := task.Offsets()["in"].Offset; got != 5 {
		t.Fatalf("offset to commit %d after a marker behind no record, want 5", got)
	}
	if got := out.on("out"); len(got) != 3 {
		t.Fatalf("outputs %v, want the 3 records and no marker", got)
	}
	// Abort forgets a marker behind queued records.
	task.Add(rec("d", 4, 5))
	task.Add(marker(6))
	task.Abort()
	task.Add(rec("d", 4, 5))
	task.Process(10)
	if got := task.Offsets()["in"].Offset; got != 6 {
		t.Fatalf("offset to commit %d after an abort and the record again, want 6 (the marker was dropped)", got)
	}
}

// TestWatermark: the watermark is the lowest partition time among the
// inputs with records waiting (an input with none does not hold it back),
// the stream time when none waits, never goes back, and returns to its
// committed value with an abort.
func TestWatermark(t *testing.T) {
	var seen []string
	g, subs := newGraph(t, func(g *Graph) {
		g.Add(&Node{Name: "a", Kind: KindSource, Topics: []string{"ta"}, Make: NewSource(serde.String, serde.String, nil)})
		g.Add(&Node{Name: "b", Kind: KindSource, Topics: []string{"tb"}, Make: NewSource(serde.String, serde.String, nil)})
		g.Add(&Node{Name: "p", Kind: KindProcessor, Parents: []string{"a", "b"}, Make: NewProcessor(func() processor.Processor[string, string, string, string] {
			return &fnProc{process: func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
				seen = append(seen, fmt.Sprintf("%s:%d", r.Value, ctx.Watermark().UnixMilli()))
				return nil
			}}
		})})
	})
	task, err := NewTask(g, subs[0], 0, TaskConfig{AppID: "app", Output: &collect{}, Stores: NewMemoryStores()})
	if err != nil {
		t.Fatal(err)
	}
	defer task.Close()
	at := func(topic, v string, ms int64, off int64) *kgo.Record {
		return &kgo.Record{Topic: topic, Value: []byte(v), Timestamp: time.UnixMilli(ms), Offset: off}
	}
	task.Add(at("ta", "a1", 10, 0))
	task.Add(at("ta", "a2", 50, 1))
	task.Add(at("ta", "a3", 30, 2)) // out of order: ta's partition time stays 50
	task.Add(at("tb", "b1", 20, 0))
	task.Add(at("tb", "b2", 40, 1))
	task.Process(100)
	// a1: ta at 10, tb waits with b1 (20): 10. b1: ta 10, tb 20: 10.
	// b2: ta 10, tb 40: 10 (a2 still waits). a2: ta 50, tb empty: 50.
	// a3: ta stays 50, nothing else waits: 50.
	if got := strings.Join(seen, " "); got != "a1:10 b1:10 b2:10 a2:50 a3:50" {
		t.Fatalf("watermarks %s", got)
	}
	if err := task.MarkCommitted(); err != nil {
		t.Fatal(err)
	}
	seen = nil
	task.Add(at("tb", "b3", 45, 2)) // tb alone waits: its partition time 40 < 50: the watermark stays
	task.Add(at("tb", "b4", 90, 3))
	task.Process(100)
	if got := strings.Join(seen, " "); got != "b3:50 b4:90" {
		t.Fatalf("watermarks %s", got)
	}
	task.Abort()
	if wm := task.Watermark().UnixMilli(); wm != 50 {
		t.Fatalf("watermark after an abort = %d, want the committed 50", wm)
	}
}
