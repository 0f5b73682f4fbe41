package topology_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// finalCounts is a windowed count with final results only, written to
// "out".
func finalCounts(w topology.Windows) *topology.Topology {
	return windowedCountTopology(w.EmitFinal())
}

// step pipes records and returns what they emitted: the records of "out"
// not read by an earlier step.
func step(t *testing.T, d *testkit.Driver, size time.Duration, recs ...any) []string {
	t.Helper()
	pipeRaw(t, d, "in", recs...)
	return unread(t, d, size)
}

// unread returns the records of "out" not returned before.
func unread(t *testing.T, d *testkit.Driver, size time.Duration) []string {
	t.Helper()
	all := readWindowed(t, d, "out", size, serde.Int64)
	n := readSoFar[d]
	readSoFar[d] = len(all)
	return all[n:]
}

// readSoFar counts the records of "out" each driver's steps returned.
var readSoFar = map[*testkit.Driver]int{}

// TestEmitFinalOnceWhenClosed: nothing on update; each window's count once,
// when end + grace <= stream time, with the window's highest event time;
// the windows that close in one step by start, then key; late records
// dropped and counted; a record for an emitted window never emits it again.
func TestEmitFinalOnceWhenClosed(t *testing.T) {
	d := aggDriver(t, finalCounts(topology.TumblingWindows(10*ms).WithGrace(5*ms)), 1)
	checkOut(t, step(t, d, 10*ms,
		"b", "x", 2,
		"a", "x", 7,
		"a", "x", 3,
		"a", "x", 12, // stream time 12: [0,10) open until 15
		"c", "x", 9,
		"a", "x", 14,
	), nil)
	checkOut(t, step(t, d, 10*ms, "b", "x", 15), []string{ // closes [0,10) of every key
		"a@[0,10)=2@7", "b@[0,10)=1@2", "c@[0,10)=1@9",
	})
	checkOut(t, step(t, d, 10*ms,
		"a", "x", 9, // late
		"c", "x", 0, // late
		"b", "x", 16,
	), nil)
	if n := d.Dropped(); n != 2 {
		t.Errorf("dropped = %d, want 2 (the late records)", n)
	}
	// Stream time 40 closes [10,20) and [20,30) at once: by start.
	checkOut(t, step(t, d, 10*ms, "c", "x", 22, "a", "x", 40), []string{
		"a@[10,20)=2@14", "b@[10,20)=2@16",
		"c@[20,30)=1@22",
	})
	checkOut(t, step(t, d, 10*ms, "a", "x", 44), nil) // [40,50) open
}

// TestEmitFinalHoppingManyKeys: hopping windows of many keys on several
// partitions; each task closes its windows when its own stream time
// passes them (one record per partition at time 30): every window of
// every key is emitted exactly once, by start then key within a
// partition, with the right count.
func TestEmitFinalHoppingManyKeys(t *testing.T) {
	const keys, parts = 300, 4
	d := aggDriver(t, finalCounts(topology.HoppingWindows(10*ms, 5*ms)), parts)
	var recs []any
	for i := range keys {
		k := fmt.Sprintf("k%03d", i)
		for j := range i%3 + 1 {
			recs = append(recs, k, "x", 6+j) // in [0,10) and [5,15)
		}
	}
	checkOut(t, step(t, d, 10*ms, recs...), nil)
	in := testkit.InputTopic(d, "in", serde.String, serde.String)
	o := testkit.OutputTopic(d, "out", topology.TimeWindowedSerde(serde.String, 10*ms), serde.Int64)
	seen := map[string]int{}
	for p := range int32(parts) {
		if err := in.PipeRecord(processor.NewRecord("zz", "x", time.UnixMilli(30)), p); err != nil {
			t.Fatal(err)
		}
		// What the task of partition p emitted: by start, then key.
		last := ""
		for !o.IsEmpty() {
			r, err := o.ReadRecord()
			if err != nil {
				t.Fatal(err)
			}
			order := fmt.Sprintf("%03d/%s", r.Key.Start.UnixMilli(), r.Key.Key)
			if order <= last {
				t.Errorf("partition %d: %s after %s", p, order, last)
			}
			last = order
			var i int
			if _, err := fmt.Sscanf(r.Key.Key, "k%d", &i); err != nil {
				t.Fatalf("unexpected result %v=%d", r.Key, r.Value)
			}
			if want := int64(i%3 + 1); r.Value != want {
				t.Errorf("%v = %d, want %d", r.Key, r.Value, want)
			}
			seen[r.Key.String()]++
		}
	}
	if len(seen) != 2*keys {
		t.Errorf("%d windows emitted, want %d ([0,10) and [5,15) of %d keys)", len(seen), 2*keys, keys)
	}
	for w, n := range seen {
		if n != 1 {
			t.Errorf("%s emitted %d times", w, n)
		}
	}
}

// TestEmitFinalAcrossRestart: after a restart the aggregation's stream time
// starts again, but the windows emitted before stay closed: a record for
// one is late (not counted, the window not emitted again); the windows
// not emitted yet are emitted once when they close, with what was counted
// before the restart.
func TestEmitFinalAcrossRestart(t *testing.T) {
	d := aggDriver(t, finalCounts(topology.TumblingWindows(10*ms).WithGrace(5*ms)), 1)
	checkOut(t, step(t, d, 10*ms,
		"a", "x", 1,
		"a", "x", 12,
		"b", "x", 13,
		"b", "x", 16, // closes [0,10)
	), []string{"a@[0,10)=1@1"})
	if err := d.Restart(); err != nil {
		t.Fatal(err)
	}
	// Without the emitted close time, stream time 3 would accept a@3 in
	// [0,10), and a@14 would emit it again.
	checkOut(t, step(t, d, 10*ms, "a", "x", 3, "a", "x", 14), nil)
	if n := d.Dropped(); n != 1 {
		t.Errorf("dropped = %d, want 1 (a@3, for the window emitted before the restart)", n)
	}
	checkOut(t, step(t, d, 10*ms, "c", "x", 25), []string{"a@[10,20)=2@14", "b@[10,20)=2@16"})
	if err := d.Restart(); err != nil {
		t.Fatal(err)
	}
	checkOut(t, step(t, d, 10*ms, "a", "x", 19, "c", "x", 35), []string{"c@[20,30)=1@25"})
}

// failOnceOnB forwards the results of s and fails with err after the first
// one of key "b": what went on before in that pipe must not stay written.
func failOnceOnB(s topology.Stream[topology.Windowed[string], int64], err error) topology.Stream[topology.Windowed[string], int64] {
	failed := false
	return topology.ProcessValues(s, processor.Func[topology.Windowed[string], int64, topology.Windowed[string], int64](
		func(ctx processor.Context[topology.Windowed[string], int64], r processor.Record[topology.Windowed[string], int64]) error {
			ctx.Forward(r)
			if r.Key.Key == "b" && !failed {
				failed = true
				return err
			}
			return nil
		}).Supplier())
}

// TestEmitFinalAbortedPipe: a pipe that fails after the aggregation emitted
// final results is rolled back, outputs, emitted close time and windows
// alike; processed again after a restart, it emits them once, and the
// results emitted before are not emitted again.
func TestEmitFinalAbortedPipe(t *testing.T) {
	top := topology.New()
	in := topology.StreamOf(top, serde.String, serde.String, "in")
	w := topology.TumblingWindows(10 * ms).EmitFinal()
	errOnce := errors.New("downstream failure")
	failOnceOnB(topology.WindowedCount(in, w, "counts", serde.String), errOnce).
		To("out", topology.TimeWindowedSerde(serde.String, w.Size()), serde.Int64)
	d := aggDriver(t, top, 1)
	checkOut(t, step(t, d, 10*ms, "a", "x", 1, "b", "x", 2, "a", "x", 8), nil)
	raw := testkit.InputTopic(d, "in", serde.String, serde.String)
	if err := raw.PipeAt("c", "x", time.UnixMilli(21)); !errors.Is(err, errOnce) {
		t.Fatalf("pipe = %v, want the downstream failure", err)
	}
	checkOut(t, unread(t, d, 10*ms), nil) // the aborted transaction's results
	if err := d.Restart(); err != nil {
		t.Fatal(err)
	}
	checkOut(t, step(t, d, 10*ms, "c", "x", 21), []string{ // processed again
		"a@[0,10)=2@8", "b@[0,10)=1@2",
	})
	checkOut(t, step(t, d, 10*ms, "b", "x", 5, "d", "x", 30), []string{"c@[20,30)=1@21"})
	if n := d.Dropped(); n != 1 {
		t.Errorf("dropped = %d, want 1 (b@5)", n)
	}
}

// TestEmitFinalReduceNullEmitsNothing: a window whose only record is a
// tombstone has a null reduction: no final result, as Kafka Streams'
// suppress drops it; one that goes on after the tombstone emits its
// reduction.
func TestEmitFinalReduceNullEmitsNothing(t *testing.T) {
	top := topology.New()
	in := topology.StreamOf(top, serde.String, serde.String, "in")
	w := topology.TumblingWindows(10 * ms).EmitFinal()
	topology.WindowedReduce(in, w, "r", func(agg, v string) string { return agg + v }, serde.String, serde.String).
		To("out", topology.TimeWindowedSerde(serde.String, w.Size()), serde.String)
	d := aggDriver(t, top, 1)
	pipeRaw(t, d, "in", "a", nil, 1, "b", nil, 2, "b", "y", 3, "c", "z", 10)
	checkOut(t, readWindowed(t, d, "out", 10*ms, serde.String), []string{"b@[0,10)=y@3"})
}

// TestEmitFinalStore: EmitFinal adds the logged key-value store
// <store>-emitted next to the window store, connected to the aggregation;
// without it there is none.
func TestEmitFinalStore(t *testing.T) {
	stores := func(top *topology.Topology) []string {
		d, err := top.Describe()
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range d.Subtopologies {
			for _, n := range st.Nodes {
				if strings.HasPrefix(n.Name, "KSTREAM-AGGREGATE") {
					return n.Stores
				}
			}
		}
		t.Fatal("no aggregation")
		return nil
	}
	w := topology.TumblingWindows(10 * ms)
	if got := stores(finalCounts(w)); !slices.Equal(got, []string{"counts", "counts-emitted"}) {
		t.Errorf("stores with EmitFinal: %q", got)
	}
	if got := stores(windowedCountTopology(w)); !slices.Equal(got, []string{"counts"}) {
		t.Errorf("stores without EmitFinal: %q", got)
	}
	if !w.EmitFinal().Final() || w.Final() {
		t.Error("Final() does not report EmitFinal")
	}
}
