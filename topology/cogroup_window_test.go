package topology_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// cogroupedAB cogroups the streams of "a" (string values) and "b" (int64
// values), keyed by string: a's adder appends "a" + value, b's "b" +
// value.
func cogroupedAB(top *topology.Topology) *topology.Cogrouped[string, string] {
	a := topology.StreamOf(top, serde.String, serde.String, "a")
	b := topology.StreamOf(top, serde.String, serde.Int64, "b")
	c := topology.Cogroup(a, func(_, v, agg string) string { return agg + "a" + v })
	return topology.CogroupWith(c, b, func(_ string, v int64, agg string) string { return agg + "b" + strconv.FormatInt(v, 10) })
}

// cogroupWindowDriver runs a cogrouped windowed aggregation of a and b
// written to "out" as windowed strings.
func cogroupWindowDriver(t *testing.T, w topology.Windows) *testkit.Driver {
	t.Helper()
	top := topology.New()
	cogroupedAB(top).WindowedAggregate(w, "agg", func() string { return "" }, serde.String, serde.String).
		To("out", topology.TimeWindowedSerde(serde.String, w.Size()), serde.String)
	return aggDriver(t, top, 1)
}

// pipeAB pipes records to "a" ("a", key, string value, ms) and "b" ("b",
// key, int value, ms), in order.
func pipeAB(t *testing.T, d *testkit.Driver, recs ...any) {
	t.Helper()
	a := testkit.InputTopic(d, "a", serde.String, serde.String)
	b := testkit.InputTopic(d, "b", serde.String, serde.Int64)
	for i := 0; i < len(recs); i += 4 {
		k, ts := recs[i+1].(string), time.UnixMilli(int64(recs[i+3].(int)))
		var err error
		if recs[i] == "a" {
			err = a.PipeAt(k, recs[i+2].(string), ts)
		} else {
			err = b.PipeAt(k, int64(recs[i+2].(int)), ts)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestCogroupWindowedAggregate: both streams update the same windows of a
// key, each record with its own stream's adder; an out-of-order record
// within the grace updates its window with the window's highest time; the
// stream time is the one of the aggregation, over both streams: a record
// of a is late after a record of b moved the stream time past its window's
// close (in Kafka Streams each stream's aggregation has its own stream
// time).
func TestCogroupWindowedAggregate(t *testing.T) {
	d := cogroupWindowDriver(t, topology.TumblingWindows(10*ms).WithGrace(5*ms))
	pipeAB(t, d,
		"a", "k1", "x", 1,
		"b", "k1", 3, 4,
		"b", "k2", 7, 12,
		"a", "k1", "y", 14,
		"a", "k1", "z", 8, // stream time 14: [0,10) open until 15
		"b", "k1", 1, 20, // closes [0,10)
		"a", "k1", "w", 9, // late
	)
	checkOut(t, readWindowed(t, d, "out", 10*ms, serde.String), []string{
		"k1@[0,10)=ax@1", "k1@[0,10)=axb3@4",
		"k2@[10,20)=b7@12",
		"k1@[10,20)=ay@14",
		"k1@[0,10)=axb3az@8",
		"k1@[20,30)=b1@20",
	})
	if n := d.Dropped(); n != 1 {
		t.Errorf("dropped = %d, want 1", n)
	}
	st, err := testkit.WindowStoreOf[string, string](d, "agg", 0)
	if err != nil {
		t.Fatal(err)
	}
	// One store for both streams; [0,10) is behind its retention (15 ms).
	checkOut(t, fetchAll(t, st, 0, 100), []string{"k1@10=ay", "k2@10=b7", "k1@20=b1"})
}

// TestCogroupWindowedFinalLate: EmitFinal, MaxOutOfOrder and LateRecordsTo
// work on a cogrouped aggregation as on one stream's: a record 4 ms behind
// the stream time is applied with MaxOutOfOrder 5, each window's result is
// emitted once, when the watermark (stream time - 5) passes its end,
// whichever stream moves it, and a late record of either stream goes to
// the late-records topic.
func TestCogroupWindowedFinalLate(t *testing.T) {
	w := topology.TumblingWindows(10 * ms).WithMaxOutOfOrder(5 * ms).EmitFinal().LateRecordsTo("late")
	d := cogroupWindowDriver(t, w)
	pipeAB(t, d,
		"a", "k1", "x", 2,
		"b", "k1", 1, 9,
		"b", "k2", 2, 12, // watermark 7
		"a", "k1", "y", 6, // applied
	)
	checkOut(t, readWindowed(t, d, "out", 10*ms, serde.String), nil)
	pipeAB(t, d,
		"a", "k2", "z", 16, // watermark 11: [0,10) closes
		"a", "k1", "w", 3, // late
		"b", "k2", 1, 25, // watermark 20: [10,20) closes
	)
	checkOut(t, readWindowed(t, d, "out", 10*ms, serde.String), []string{
		"k1@[0,10)=axb1ay@9",
		"k2@[10,20)=b2az@16",
	})
	checkOut(t, lateRecords(t, d, "late"), []string{
		"k1=w@00.003 late.reason=window closed late.window.start=0 late.window.end=10 late.watermark=11 source.topic=a source.offset=3",
	})
}

// cogroupSlidingDriver runs a cogrouped sliding aggregation of a and b
// written to "out" as windowed strings.
func cogroupSlidingDriver(t *testing.T, w topology.Sliding) *testkit.Driver {
	t.Helper()
	top := topology.New()
	cogroupedAB(top).SlidingAggregate(w, "agg", func() string { return "" }, serde.String, serde.String).
		To("out", topology.TimeWindowedSerde(serde.String, w.TimeDifference()), serde.String)
	return aggDriver(t, top, 1)
}

// TestCogroupSlidingAggregate: both streams update and create the sliding
// windows of a key, each record with its own adder: b@15 creates the right
// window of a@10 and its own left window from a@10's; a@12 updates both,
// creates its left window and its right window from the records after it.
func TestCogroupSlidingAggregate(t *testing.T) {
	d := cogroupSlidingDriver(t, topology.SlidingWindows(10*ms).WithGrace(5*ms))
	pipeAB(t, d,
		"a", "k", "x", 10,
		"b", "k", 1, 15,
		"a", "k", "y", 12,
	)
	checkOut(t, readSliding(t, d, "out", 10*ms, serde.String), []string{
		"k@[0,10]=ax@10",
		"k@[11,21]=b1@15", "k@[5,15]=axb1@15",
		"k@[11,21]=b1ay@15", "k@[5,15]=axb1ay@15", "k@[2,12]=axay@12", "k@[13,23]=b1@15",
	})
}

// TestCogroupSlidingFinalLate: a cogrouped sliding aggregation with
// EmitFinal, MaxOutOfOrder and LateRecordsTo: b@25 is applied 15 ms
// behind the stream time (MaxOutOfOrder 15), the windows' results come
// when the watermark passes their end, and a late record of b goes to the
// late-records topic.
func TestCogroupSlidingFinalLate(t *testing.T) {
	w := topology.SlidingWindows(10 * ms).WithGrace(2 * ms).WithMaxOutOfOrder(15 * ms).EmitFinal().LateRecordsTo("late")
	d := cogroupSlidingDriver(t, w)
	pipeAB(t, d,
		"a", "k", "x", 20,
		"b", "k", 4, 40, // watermark 25: [10,20] closes
		"b", "k", 5, 25, // applied
		"a", "j", "y", 12, // late: 12 + 10 + 1 + 2 <= 25
		"a", "k", "z", 60, // watermark 45
	)
	checkOut(t, readSliding(t, d, "out", 10*ms, serde.String), []string{
		"k@[10,20]=ax@20",
		"k@[15,25]=axb5@25", "k@[21,31]=b5@25", "k@[30,40]=b4@40",
	})
	checkOut(t, lateRecords(t, d, "late"), []string{
		"j=y@00.012 late.reason=window closed late.window.start=2 late.window.end=12 late.watermark=25 source.topic=a source.offset=1",
	})
}
