package topology_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// readSliding reads every sliding-window result as key@[start,end]=value@time
// (both ends inclusive), the key through TimeWindowedSerde with the time
// difference as the size.
func readSliding[V any](t *testing.T, d *testkit.Driver, topic string, diff time.Duration, value serde.Serde[V]) []string {
	t.Helper()
	o := testkit.OutputTopic(d, topic, topology.TimeWindowedSerde(serde.String, diff), value)
	var out []string
	for !o.IsEmpty() {
		r, err := o.ReadRecord()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s@[%d,%d]=%v@%d", r.Key.Key, r.Key.Start.UnixMilli(), r.Key.End.UnixMilli(), r.Value, r.Timestamp.UnixMilli()))
	}
	return out
}

func slidingCountTopology(w topology.Sliding) *topology.Topology {
	top := topology.New()
	in := topology.StreamOf(top, serde.String, serde.String, "in")
	topology.SlidingCount(in, w, "counts", serde.String).
		To("out", topology.TimeWindowedSerde(serde.String, w.TimeDifference()), serde.Int64)
	return top
}

// TestSlidingCountWindowsAndDrops: with a time difference of 10 and grace 5
// (the results are those of Kafka Streams' TopologyTestDriver on the same
// input):
//   - a record creates its left window [t-10, t] from the records before
//     it, and the right window of the record before it;
//   - an out-of-order record updates every window holding it, by
//     decreasing start, then creates its left and right windows;
//   - a record is late once t + 10 < stream time - 5; one at the boundary is
//     kept, only its closed left window dropped;
//   - null keys and tombstones are dropped; every drop is counted.
func TestSlidingCountWindowsAndDrops(t *testing.T) {
	w := topology.SlidingWindows(10 * ms).WithGrace(5 * ms)
	d := aggDriver(t, slidingCountTopology(w), 1)
	pipeRaw(t, d, "in",
		"a", "x", 20,
		"a", "x", 25,
		"a", "x", 22, // stream time 25: closes windows ending before 20
		"a", "x", 9, // late: 9 + 10 < 20
		"a", "x", 10, // 10 + 10 == 20: kept; its left window [0,10] is closed
		nil, "x", 100, // null key: dropped, stream time stays 25
		"a", nil, 100, // tombstone: dropped
		"b", "x", 3, // late: 3 + 10 < 20
	)
	checkOut(t, readSliding(t, d, "out", 10*ms, serde.Int64), []string{
		"a@[10,20]=1@20",
		"a@[21,31]=1@25", "a@[15,25]=2@25",
		"a@[21,31]=2@25", "a@[15,25]=3@25", "a@[12,22]=2@22", "a@[23,33]=1@25",
		"a@[10,20]=2@20", "a@[11,21]=1@20",
	})
	if n := d.Dropped(); n != 5 {
		t.Errorf("dropped = %d, want 5 (a@9, a@10's left window, the null key, the tombstone, b@3)", n)
	}
	st, err := testkit.WindowStoreOf[string, int64](d, "counts", 0)
	if err != nil {
		t.Fatal(err)
	}
	checkOut(t, fetchAll(t, st, 0, 100), []string{"a@10=2", "a@11=1", "a@12=2", "a@15=3", "a@21=2", "a@23=1"})
}

// TestSlidingReduceEarlyRecords: records before the time difference share
// the window [0, d]; a later one starts its right window from the
// reduction of the records after it.
func TestSlidingReduceEarlyRecords(t *testing.T) {
	top := topology.New()
	in := topology.StreamOf(top, serde.String, serde.String, "in")
	w := topology.SlidingWindows(10 * ms).WithGrace(20 * ms)
	topology.SlidingReduce(in, w, "r", func(agg, v string) string { return agg + "+" + v }, serde.String, serde.String).
		To("out", topology.TimeWindowedSerde(serde.String, w.TimeDifference()), serde.String)
	d := aggDriver(t, top, 1)
	pipeRaw(t, d, "in",
		"a", "1", 5,
		"a", "2", 2,
		"a", "3", 12,
	)
	checkOut(t, readSliding(t, d, "out", 10*ms, serde.String), []string{
		"a@[0,10]=1@5",
		// 2 at 2: [0,10] holds 5, after it: its right window [3,13] is 1.
		"a@[3,13]=1@5", "a@[0,10]=1+2@5",
		// 3 at 12: in [3,13]; the right window of 5, [6,16], and the left
		// window [2,12], holding 2, 5 and 12.
		"a@[3,13]=1+3@12", "a@[6,16]=3@12", "a@[2,12]=1+2+3@12",
	})
}

// TestSlidingAggregateErrChangesNothing: an adder error on one of a
// record's windows leaves every window as it was (also the ones computed
// before it) and reaches the processing-error policy (the driver's default
// fails the pipe).
func TestSlidingAggregateErrChangesNothing(t *testing.T) {
	top := topology.New()
	in := topology.StreamOf(top, serde.String, serde.String, "in")
	w := topology.SlidingWindows(10 * ms)
	errBad := errors.New("bad value")
	topology.SlidingAggregateErr(in, w, "agg", func() string { return "" },
		func(_, v, agg string) (string, error) {
			if v == "bad" && agg != "" { // fails in a window holding x
				return "", errBad
			}
			return agg + v, nil
		}, serde.String, serde.String).
		To("out", topology.TimeWindowedSerde(serde.String, w.TimeDifference()), serde.String)
	d := aggDriver(t, top, 1)
	pipeRaw(t, d, "in", "a", "x", 11)
	in2 := testkit.InputTopic(d, "in", serde.String, serde.String)
	// At 15: the right window of x, [12,22], is made, then the left window
	// [5,15], holding x, fails.
	if err := in2.PipeAt("a", "bad", time.UnixMilli(15)); !errors.Is(err, errBad) {
		t.Fatalf("pipe = %v, want %v", err, errBad)
	}
	checkOut(t, readSliding(t, d, "out", 10*ms, serde.String), []string{"a@[1,11]=x@11"})
	st, err := testkit.WindowStoreOf[string, string](d, "agg", 0)
	if err != nil {
		t.Fatal(err)
	}
	checkOut(t, fetchAll(t, st, 0, 100), []string{"a@1=x"})
}

// TestInvalidSlidingWindowsFailValidation: a sliding window definition
// Kafka Streams refuses makes the topology invalid, naming the store; a
// time difference of 0 is valid, as in Kafka Streams.
func TestInvalidSlidingWindowsFailValidation(t *testing.T) {
	for name, w := range map[string]topology.Sliding{
		"negative difference": topology.SlidingWindows(-ms),
		"negative grace":      topology.SlidingWindows(10 * ms).WithGrace(-ms),
		"sub-millisecond":     topology.SlidingWindows(1500 * time.Microsecond),
		"sub-millisecond g":   topology.SlidingWindows(ms).WithGrace(time.Microsecond),
	} {
		err := slidingCountTopology(w).Validate()
		if err == nil || !strings.Contains(err.Error(), `store "counts"`) || !strings.Contains(err.Error(), "sliding") {
			t.Errorf("%s: Validate() = %v, want an error naming the sliding aggregation's store", name, err)
		}
	}
	for _, w := range []topology.Sliding{topology.SlidingWindows(0), topology.SlidingWindows(10 * ms).WithGrace(0)} {
		if err := slidingCountTopology(w).Validate(); err != nil {
			t.Errorf("valid windows %+v: %v", w, err)
		}
	}
	if got := topology.SlidingWindows(10 * ms).WithGrace(5 * ms).Retention(); got != 25*ms {
		t.Errorf("Retention() = %v, want 25ms (2 × 10ms + 5ms)", got)
	}
}

// TestSlidingCountAfterAKeyChange: after Map the records are repartitioned
// by their new key before the sliding count, without a Repartition call.
func TestSlidingCountAfterAKeyChange(t *testing.T) {
	top := topology.New()
	in := topology.StreamOf(top, serde.String, serde.String, "in")
	w := topology.SlidingWindows(10 * ms)
	rekeyed := topology.Map(in, func(_, v string) (string, string) { return v, v })
	topology.SlidingCount(rekeyed, w, "counts", serde.String).
		To("out", topology.TimeWindowedSerde(serde.String, w.TimeDifference()), serde.Int64)
	d := aggDriver(t, top, 4)
	pipeRaw(t, d, "in", "1", "x", 20, "2", "x", 25, "3", "y", 26)
	got := readSliding(t, d, "out", 10*ms, serde.Int64)
	want := []string{"x@[10,20]=1@20", "x@[21,31]=1@25", "x@[15,25]=2@25", "y@[16,26]=1@26"}
	slices.Sort(got)
	slices.Sort(want)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %q, want (in any order across partitions) %q", got, want)
	}
}

// TestSlidingCountEmitFinal: with EmitFinal a window's count is emitted
// once it closes (end + grace <= stream time), with the window's highest
// event time, and nothing on update; after a restart the stream time
// starts again, but an emitted window stays closed: a record for it is
// late.
func TestSlidingCountEmitFinal(t *testing.T) {
	w := topology.SlidingWindows(10 * ms).WithGrace(5 * ms).EmitFinal()
	if !w.Final() {
		t.Fatal("Final() = false after EmitFinal")
	}
	d := aggDriver(t, slidingCountTopology(w), 1)
	pipeRaw(t, d, "in",
		"a", "x", 10, // [0,10]
		"a", "x", 4, // [0,10] again: 2; and 4's right window [5,15]: 1
		"b", "x", 20, // stream time 20: closes the windows ending at 15 or before
	)
	checkOut(t, readSliding(t, d, "out", 10*ms, serde.Int64), []string{"a@[0,10]=2@10", "a@[5,15]=1@10"})
	pipeRaw(t, d, "in", "a", "x", 40) // closes b's [10,20]
	if err := d.Restart(); err != nil {
		t.Fatal(err)
	}
	pipeRaw(t, d, "in",
		"a", "x", 12, // late: windows up to 35 were emitted
		"a", "x", 45, // closes a's [30,40]
	)
	checkOut(t, readSliding(t, d, "out", 10*ms, serde.Int64), []string{
		"a@[0,10]=2@10", "a@[5,15]=1@10", "b@[10,20]=1@20", "a@[30,40]=1@40",
	})
	if n := d.Dropped(); n != 1 {
		t.Errorf("dropped = %d, want 1 (a@12 after the restart)", n)
	}
}

// TestSlidingEmitFinalAcrossAStreamTimeJump: a record far ahead closes the
// windows of another key that were not emitted yet; its own window's put
// moves the store's retention past them, so they are emitted before it
// (they were read back as gone, and lost, after it).
func TestSlidingEmitFinalAcrossAStreamTimeJump(t *testing.T) {
	w := topology.SlidingWindows(60 * ms).WithGrace(0)
	run := func(w topology.Sliding) []string {
		d := aggDriver(t, slidingCountTopology(w), 1)
		pipeRaw(t, d, "in",
			"a", "x", 100,
			"a", "x", 130,
			"b", "x", 300, // closes every window of a; its put moves the retention to 300 - 120
		)
		var out []string
		for _, s := range readSliding(t, d, "out", 60*ms, serde.Int64) {
			if strings.HasPrefix(s, "a@") {
				out = append(out, s)
			}
		}
		return out
	}
	every := run(w)
	last := map[string]string{}
	var order []string
	for _, s := range every {
		win, _, _ := strings.Cut(s, "=")
		if _, ok := last[win]; !ok {
			order = append(order, win)
		}
		last[win] = s
	}
	var want []string
	for _, win := range order {
		want = append(want, last[win])
	}
	if len(want) != 3 {
		t.Fatalf("a's windows without EmitFinal: %v, want 3", every)
	}
	got := run(w.EmitFinal())
	slices.Sort(got)
	slices.Sort(want)
	checkOut(t, got, want)
}

// TestSlidingAggregateNullDeletesTheWindow: an aggregate its serde writes
// as null deletes the window and is emitted as a tombstone; a later record
// finds the window gone and creates it again.
func TestSlidingAggregateNullDeletesTheWindow(t *testing.T) {
	type total struct{ N int }
	top := topology.New()
	in := topology.StreamOf(top, serde.String, serde.String, "in")
	w := topology.SlidingWindows(10 * ms)
	wser := topology.TimeWindowedSerde(serde.String, w.TimeDifference())
	topology.SlidingAggregate(in, w, "totals", func() *total { return &total{} },
		func(_, v string, agg *total) *total {
			if v == "reset" {
				return nil
			}
			return &total{agg.N + 1}
		}, serde.String, serde.JSON[*total]()).
		To("out", wser, serde.JSON[*total]())
	d := aggDriver(t, top, 1)
	pipeRaw(t, d, "in", "a", "x", 11, "a", "reset", 12, "a", "x", 13)
	o := testkit.OutputTopic(d, "out", wser, serde.Bytes)
	var got []string
	for !o.IsEmpty() {
		r, err := o.ReadRecord()
		if err != nil {
			t.Fatal(err)
		}
		v := string(r.Value)
		if r.IsTombstone() {
			v = "null"
		}
		got = append(got, fmt.Sprintf("[%d,%d]=%s", r.Key.Start.UnixMilli(), r.Key.End.UnixMilli(), v))
	}
	checkOut(t, got, []string{
		`[1,11]={"N":1}`,
		"[12,22]=null", "[2,12]=null", // 11's right window, 12's left window
		`[12,22]={"N":1}`, `[3,13]={"N":2}`, // made again from [1,11]
	})
	st, err := testkit.WindowStoreOf[string, *total](d, "totals", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := fetchAll(t, st, 0, 100); len(got) != 3 {
		t.Errorf("store = %q, want the windows starting at 1, 3 and 12", got)
	}
}
