package engine

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
)

// produced is one record an Output received.
type produced struct {
	topic, key, value string
	ts                time.Time
	origin            *kgo.Record
}

// recorder is an Output that records every produced record.
type recorder struct {
	recs []produced
}

func (r *recorder) Produce(topic string, _ int32, k, v []byte, ts time.Time, _ []processor.Header, origin *kgo.Record) {
	r.recs = append(r.recs, produced{topic: topic, key: string(k), value: string(v), ts: ts, origin: origin})
}

func (r *recorder) Partitions(string) (int32, error) { return 1, nil }

// on returns "key=value" of the records produced to topic, in order.
func (r *recorder) on(topic string) []string {
	var out []string
	for _, p := range r.recs {
		if p.topic == topic {
			out = append(out, p.key+"="+p.value)
		}
	}
	return out
}

// fnProc is a processor made of functions.
type fnProc struct {
	ctx     processor.Context[string, string]
	init    func(ctx processor.Context[string, string])
	process func(ctx processor.Context[string, string], r processor.Record[string, string]) error
}

func (p *fnProc) Init(ctx processor.Context[string, string]) error {
	p.ctx = ctx
	if p.init != nil {
		p.init(ctx)
	}
	return nil
}

func (p *fnProc) Process(r processor.Record[string, string]) error {
	if p.process != nil {
		return p.process(p.ctx, r)
	}
	p.ctx.Forward(r)
	return nil
}

func (p *fnProc) Close() error { return nil }

// policy is an OnError that records its calls and always answers d.
type policy struct {
	d     Decision
	calls []string
}

func (p *policy) onError(kind ErrorKind, err error) Decision {
	p.calls = append(p.calls, kind.String()+": "+err.Error())
	return p.d
}

// punctTask builds in → src → "p" → sink "out". p schedules a stream-time
// punctuator every interval that forwards key "punct" with the punctuation
// time in milliseconds, and fails on records whose value is "bad".
func punctTask(t *testing.T, interval time.Duration, punct func(ts time.Time) error, cfg TaskConfig) (*Task, *recorder) {
	t.Helper()
	g, subs := newGraph(t, func(g *Graph) {
		g.Add(&Node{Name: "src", Kind: KindSource, Topics: []string{"in"}, Make: NewSource(serde.String, serde.String, nil)})
		g.Add(&Node{Name: "p", Kind: KindProcessor, Parents: []string{"src"}, Make: NewProcessor(func() processor.Processor[string, string, string, string] {
			return &fnProc{
				init: func(ctx processor.Context[string, string]) {
					ctx.Schedule(interval, processor.StreamTime, func(ts time.Time) error {
						if punct != nil {
							if err := punct(ts); err != nil {
								return err
							}
						}
						ctx.Forward(processor.Record[string, string]{Key: "punct", Value: fmt.Sprint(ts.UnixMilli()), Timestamp: ts})
						return nil
					})
				},
				process: func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
					if r.Value == "bad" {
						return errors.New("bad value")
					}
					ctx.Forward(r)
					return nil
				},
			}
		})})
		g.Add(&Node{Name: "out", Kind: KindSink, Parents: []string{"p"}, Topic: "out", Make: NewSink(SinkSpec[string, string]{Topic: "out", Key: serde.String, Value: serde.String})})
	})
	out := &recorder{}
	cfg.AppID, cfg.Output, cfg.Stores = "app", out, NewMemoryStores()
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return time.Unix(1000, 0) }
	}
	task, err := NewTask(g, subs[0], 0, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = task.Close() })
	return task, out
}

func rec(value string, ms int64, off int64) *kgo.Record {
	return &kgo.Record{Topic: "in", Key: []byte("k"), Value: []byte(value), Timestamp: time.UnixMilli(ms), Offset: off}
}

// puncts returns the values of the punctuation records in out from index from.
func puncts(out *recorder, from int) []string {
	var ps []string
	for _, p := range out.recs[from:] {
		if p.key == "punct" {
			ps = append(ps, p.value)
		}
	}
	return ps
}

// An aborted transaction rolls back the stream time and the punctuation
// schedules with the offsets: the records processed again produce the same
// punctuations as the first time.
func TestAbortRollsBackStreamTimeAndPunctuators(t *testing.T) {
	task, out := punctTask(t, 10*time.Millisecond, nil, TaskConfig{})
	// Committed part: stream time 5 ms, punctuator armed at 10 ms.
	task.Add(rec("v", 0, 0))
	task.Add(rec("v", 5, 1))
	task.Process(10)
	if got := task.Offsets(); got["in"].Offset != 2 {
		t.Fatalf("offsets = %v", got)
	}
	if err := task.MarkCommitted(); err != nil {
		t.Fatal(err)
	}
	committed := task.StreamTime()

	batch := []int64{10, 15, 20, 25}
	run := func() []string {
		from := len(out.recs)
		for i, ms := range batch {
			task.Add(rec("v", ms, int64(2+i)))
		}
		if n := task.Process(100); n != len(batch) {
			t.Fatalf("processed %d of %d", n, len(batch))
		}
		if err := task.Err(); err != nil {
			t.Fatal(err)
		}
		return puncts(out, from)
	}
	first := run()
	if want := []string{"10", "20"}; !slices.Equal(first, want) {
		t.Fatalf("first run punctuations %v, want %v", first, want)
	}
	task.Abort()
	if got := task.StreamTime(); !got.Equal(committed) {
		t.Errorf("stream time after Abort = %v, want the committed %v", got.UnixMilli(), committed.UnixMilli())
	}
	if got := task.Offsets(); len(got) != 0 {
		t.Errorf("offsets after Abort = %v, want none", got)
	}
	again := run()
	if !slices.Equal(again, first) {
		t.Errorf("punctuations after Abort and reprocessing = %v, want %v as in the aborted run", again, first)
	}

	// Abort before any commit goes back to the state at task creation.
	task2, out2 := punctTask(t, 10*time.Millisecond, nil, TaskConfig{})
	for i, ms := range []int64{0, 12, 25} {
		task2.Add(rec("v", ms, int64(i)))
	}
	task2.Process(10)
	first2 := puncts(out2, 0)
	task2.Abort()
	if !task2.StreamTime().IsZero() {
		t.Errorf("stream time after Abort with no commit = %v, want zero", task2.StreamTime())
	}
	from := len(out2.recs)
	for i, ms := range []int64{0, 12, 25} {
		task2.Add(rec("v", ms, int64(i)))
	}
	task2.Process(10)
	if again := puncts(out2, from); !slices.Equal(again, first2) || len(first2) != 2 {
		t.Errorf("no commit: punctuations %v after Abort, %v before; want equal, two each", again, first2)
	}
}

// A stream-time jump of ten years at a 1 ms interval fires once and
// computes the next due time instead of stepping one interval at a time.
func TestStreamTimeJumpFiresOnceAndQuickly(t *testing.T) {
	task, out := punctTask(t, time.Millisecond, nil, TaskConfig{})
	task.Add(rec("v", 0, 0))
	task.Process(1) // arms the punctuator at 1 ms
	jump := time.UnixMilli(0).AddDate(10, 0, 0).UnixMilli()
	task.Add(rec("v", jump, 1))
	done := make(chan int)
	go func() { done <- task.Process(1) }()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("Process did not return within a second after a 10-year stream-time jump at a 1 ms interval")
	}
	if got, want := puncts(out, 0), []string{fmt.Sprint(jump)}; !slices.Equal(got, want) {
		t.Fatalf("punctuations %v, want exactly one at the jump %v", got, want)
	}
	// The next one is due one interval after the jump, not earlier.
	task.Add(rec("v", jump+1, 2))
	task.Process(1)
	if got := puncts(out, 0); len(got) != 2 || got[1] != fmt.Sprint(jump+1) {
		t.Errorf("punctuations %v, want a second one at %d", got, jump+1)
	}
	// A gap beyond time.Duration's range (292 years) also fires once.
	far := time.UnixMilli(jump).AddDate(1000, 0, 0).UnixMilli()
	task.Add(rec("v", far, 3))
	task.Add(rec("v", far+1, 4))
	task.Process(2)
	if got := puncts(out, 0); len(got) != 4 || got[2] != fmt.Sprint(far) || got[3] != fmt.Sprint(far+1) {
		t.Errorf("punctuations %v, want the last two at %d and %d", got, far, far+1)
	}
}

// After missed intervals the next punctuation is due at the next multiple
// of the interval after the stream time, as in Kafka Streams.
func TestStreamTimeJumpKeepsTheIntervalGrid(t *testing.T) {
	task, out := punctTask(t, 7*time.Millisecond, nil, TaskConfig{})
	for i, ms := range []int64{0, 100, 104, 105} { // armed at 7; 100 fires, next 105
		task.Add(rec("v", ms, int64(i)))
	}
	task.Process(10)
	if got, want := puncts(out, 0), []string{"100", "105"}; !slices.Equal(got, want) {
		t.Errorf("punctuations %v, want %v", got, want)
	}
}

// Under Fail a punctuator's error fails the task and names the node and
// the punctuator.
func TestPunctuatorErrorUnderFail(t *testing.T) {
	pol := &policy{d: Fail}
	task, _ := punctTask(t, 10*time.Millisecond, func(time.Time) error { return errors.New("boom") }, TaskConfig{OnError: pol.onError})
	for i, ms := range []int64{0, 10, 20} {
		task.Add(rec("v", ms, int64(i)))
	}
	task.Process(10)
	err := task.Err()
	if err == nil || !strings.Contains(err.Error(), `node "p"`) || !strings.Contains(err.Error(), "punctuator") || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("err = %v, want the node, the punctuator and the cause", err)
	}
	if !errors.Is(err, ErrProcessing) {
		t.Errorf("err = %v, want it to wrap ErrProcessing", err)
	}
	if len(pol.calls) != 1 {
		t.Errorf("onError called %d times, want 1: %q", len(pol.calls), pol.calls)
	}
}

// Under Skip a punctuator's error right after a skipped record is asked
// about, counted once and logged, and the punctuator keeps its schedule.
func TestPunctuatorErrorUnderSkipAfterSkippedRecord(t *testing.T) {
	pol := &policy{d: Skip}
	fired := 0
	task, _ := punctTask(t, 10*time.Millisecond, func(time.Time) error { fired++; return errors.New("boom") }, TaskConfig{OnError: pol.onError})
	task.Add(rec("v", 0, 0))
	task.Add(rec("bad", 10, 1)) // skipped, then the punctuation at 10 fails
	task.Add(rec("v", 11, 2))   // not due: the schedule moved to 20
	task.Process(10)
	if err := task.Err(); err != nil {
		t.Fatal(err)
	}
	if fired != 1 {
		t.Errorf("punctuator ran %d times, want 1 (a failed punctuation still moves to its next due time)", fired)
	}
	if task.Skipped() != 2 {
		t.Errorf("Skipped() = %d, want 2: the record and the punctuation", task.Skipped())
	}
	if len(pol.calls) != 2 || !strings.Contains(pol.calls[1], "punctuator") {
		t.Errorf("onError calls %q, want the record's then the punctuator's", pol.calls)
	}
	if got := task.Offsets()["in"].Offset; got != 3 {
		t.Errorf("offset %d, want 3", got)
	}
}

// Under DeadLetter a punctuator's error has no input record: it is counted
// once as skipped, nothing goes to the dead-letter topic for it.
func TestPunctuatorErrorUnderDeadLetter(t *testing.T) {
	pol := &policy{d: DeadLetter}
	task, out := punctTask(t, 10*time.Millisecond, func(time.Time) error { return errors.New("boom") }, TaskConfig{OnError: pol.onError, DeadLetterTopic: "dlq"})
	task.Add(rec("v", 0, 0))
	task.Add(rec("bad", 10, 1)) // dead-lettered, then the punctuation at 10 fails
	task.Process(10)
	if err := task.Err(); err != nil {
		t.Fatal(err)
	}
	if got := out.on("dlq"); len(got) != 1 || got[0] != "k=bad" {
		t.Errorf("dead letters %v, want only the bad record", got)
	}
	if task.DeadLettered() != 1 || task.Skipped() != 1 {
		t.Errorf("DeadLettered() = %d, Skipped() = %d; want 1 and 1 (the punctuation)", task.DeadLettered(), task.Skipped())
	}
	if len(pol.calls) != 2 || !strings.Contains(pol.calls[1], "punctuator") {
		t.Errorf("onError calls %q, want the record's then the punctuator's", pol.calls)
	}
}

// Two processors failing on the same record make one decision and one
// count; so do a punctuator and the node it forwards to in one punctuation.
func TestOneDecisionPerRecordAndPunctuation(t *testing.T) {
	fail := func() processor.Processor[string, string, string, string] {
		return &fnProc{process: func(processor.Context[string, string], processor.Record[string, string]) error {
			return errors.New("nope")
		}}
	}
	g, subs := newGraph(t, func(g *Graph) {
		g.Add(&Node{Name: "src", Kind: KindSource, Topics: []string{"in"}, Make: NewSource(serde.String, serde.String, nil)})
		g.Add(&Node{Name: "a", Kind: KindProcessor, Parents: []string{"src"}, Make: NewProcessor(func() processor.Processor[string, string, string, string] {
			return &fnProc{
				init: func(ctx processor.Context[string, string]) {
					ctx.Schedule(10*time.Millisecond, processor.StreamTime, func(ts time.Time) error {
						ctx.Forward(processor.Record[string, string]{Key: "punct", Value: "x", Timestamp: ts}) // f3 fails on it
						return errors.New("punctuator failed too")
					})
				},
				process: func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
					return errors.New("a fails")
				},
			}
		})})
		g.Add(&Node{Name: "f3", Kind: KindProcessor, Parents: []string{"a"}, Make: NewProcessor(fail)})
		g.Add(&Node{Name: "f1", Kind: KindProcessor, Parents: []string{"src"}, Make: NewProcessor(fail)})
		g.Add(&Node{Name: "f2", Kind: KindProcessor, Parents: []string{"src"}, Make: NewProcessor(fail)})
	})
	if len(subs) != 1 {
		t.Fatalf("%d sub-topologies", len(subs))
	}
	pol := &policy{d: Skip}
	task, err := NewTask(g, subs[0], 0, TaskConfig{AppID: "app", Output: &recorder{}, Stores: NewMemoryStores(), OnError: pol.onError})
	if err != nil {
		t.Fatal(err)
	}
	defer task.Close()
	task.Add(rec("v", 0, 0)) // a, f1 and f2 fail: one decision
	task.Process(1)
	if len(pol.calls) != 1 || task.Skipped() != 1 {
		t.Fatalf("one record failing in three nodes: onError called %d times (%q), Skipped() = %d; want 1 and 1", len(pol.calls), pol.calls, task.Skipped())
	}
	task.Add(rec("v", 10, 1)) // the record again, then the punctuation: f3 and the punctuator fail
	task.Process(1)
	if err := task.Err(); err != nil {
		t.Fatal(err)
	}
	if len(pol.calls) != 3 || task.Skipped() != 3 {
		t.Errorf("a record, then a punctuation failing twice: onError called %d times in all (%q), Skipped() = %d; want 3 and 3", len(pol.calls), pol.calls, task.Skipped())
	}
}

// TestMetricsHooks: the process latency is sampled one record in
// LatencySampleEvery, every punctuation is timed, every drop reported with
// its reason.
func TestMetricsHooks(t *testing.T) {
	var latencies, punctuations int
	task, out := punctTask(t, 10*time.Millisecond, nil, TaskConfig{
		ProcessLatency:   func(d time.Duration) { latencies++ },
		PunctuateLatency: func(d time.Duration) { punctuations++ },
	})
	const n = 2*LatencySampleEvery + 2
	for i := range n {
		task.Add(rec("v", int64(i)*5, int64(i)))
	}
	if got := task.Process(n); got != n {
		t.Fatalf("processed %d", got)
	}
	if latencies != 3 {
		t.Errorf("%d latencies sampled of %d records, want 3", latencies, n)
	}
	if want := len(puncts(out, 0)); punctuations != want || want == 0 {
		t.Errorf("%d punctuations timed, %d fired", punctuations, want)
	}

	var reasons []string
	g, subs := newGraph(t, func(g *Graph) {
		g.Add(&Node{Name: "src", Kind: KindSource, Topics: []string{"in"}, Make: NewSource(serde.String, serde.String, nil)})
		g.Add(&Node{Name: "p", Kind: KindProcessor, Parents: []string{"src"}, Make: NewProcessor(func() processor.Processor[string, string, string, string] {
			return &fnProc{process: func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
				ctx.(Dropper).Drop("because "+r.Value, "")
				return nil
			}}
		})})
	})
	dt, err := NewTask(g, subs[0], 0, TaskConfig{AppID: "app", Output: &recorder{}, Stores: NewMemoryStores(), OnDrop: func(node, r string) { reasons = append(reasons, node+": "+r) }})
	if err != nil {
		t.Fatal(err)
	}
	defer dt.Close()
	dt.Add(rec("a", 1, 0))
	dt.Add(rec("b", 2, 1))
	dt.Process(2)
	if !slices.Equal(reasons, []string{"p: because a", "p: because b"}) || dt.Dropped() != 2 {
		t.Errorf("drops %q, Dropped() = %d", reasons, dt.Dropped())
	}
}
