package topology_test

import (
	"strings"
	"testing"
	"time"

	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// lateRecords reads the late-records topic: key=value@time with the
// late.* and source headers.
func lateRecords(t *testing.T, d *testkit.Driver, topic string) []string {
	t.Helper()
	o := testkit.OutputTopic(d, topic, serde.String, serde.String)
	var out []string
	for !o.IsEmpty() {
		r, err := o.ReadRecord()
		if err != nil {
			t.Fatal(err)
		}
		var hs []string
		for _, h := range r.Headers {
			if strings.HasPrefix(h.Key, "samsa.late.") || h.Key == "samsa.source.topic" || h.Key == "samsa.source.offset" {
				hs = append(hs, strings.TrimPrefix(h.Key, "samsa.")+"="+string(h.Value))
			}
		}
		out = append(out, r.Key+"="+r.Value+"@"+time.Time.Format(r.Timestamp.UTC(), "05.000")+" "+strings.Join(hs, " "))
	}
	return out
}

// TestMaxOutOfOrderApartFromGrace: the watermark trails stream time by
// MaxOutOfOrder and a window closes once end + grace <= watermark, so a
// record 16 ms behind the stream time is still applied with MaxOutOfOrder
// 5 and grace 3 (it would be late with grace 3 alone); a record for a
// closed window is not applied, is counted, and goes to the late-records
// topic with the window and the watermark at its arrival.
func TestMaxOutOfOrderApartFromGrace(t *testing.T) {
	w := topology.TumblingWindows(10 * ms).WithGrace(3 * ms).WithMaxOutOfOrder(5 * ms).LateRecordsTo("late")
	d := aggDriver(t, windowedCountTopology(w), 1)
	checkOut(t, step(t, d, 10*ms,
		"a", "x", 2,
		"a", "x", 17, // watermark 12: [0,10) open until the watermark reaches 13
		"a", "x", 1, // behind the watermark, within the allowed lateness: applied
	), []string{"a@[0,10)=1@2", "a@[10,20)=1@17", "a@[0,10)=2@2"})
	checkOut(t, step(t, d, 10*ms,
		"a", "x", 18, // watermark 13: [0,10) closes
		"a", "y", 9, // late
		"b", "z", 5, // late
	), []string{"a@[10,20)=2@18"})
	if n := d.Dropped(); n != 2 {
		t.Errorf("dropped = %d, want 2", n)
	}
	checkOut(t, lateRecords(t, d, "late"), []string{
		"a=y@00.009 late.reason=window closed late.window.start=0 late.window.end=10 late.watermark=13 source.topic=in source.offset=4",
		"b=z@00.005 late.reason=window closed late.window.start=0 late.window.end=10 late.watermark=13 source.topic=in source.offset=5",
	})

	// Grace 3 alone: the record 16 ms behind is late.
	d = aggDriver(t, windowedCountTopology(topology.TumblingWindows(10*ms).WithGrace(3*ms)), 1)
	checkOut(t, step(t, d, 10*ms, "a", "x", 2, "a", "x", 17, "a", "x", 1), []string{"a@[0,10)=1@2", "a@[10,20)=1@17"})
	if n := d.Dropped(); n != 1 {
		t.Errorf("grace alone: dropped = %d, want 1", n)
	}
}

// TestMaxOutOfOrderFinal: with final results, a window's one result comes
// when end + grace <= stream time - MaxOutOfOrder, not before.
func TestMaxOutOfOrderFinal(t *testing.T) {
	d := aggDriver(t, finalCounts(topology.TumblingWindows(10*ms).WithMaxOutOfOrder(5*ms)), 1)
	checkOut(t, step(t, d, 10*ms, "a", "x", 2, "a", "x", 12, "a", "x", 14, "a", "x", 3), nil)
	checkOut(t, step(t, d, 10*ms, "a", "x", 15), []string{"a@[0,10)=2@3"})
	checkOut(t, step(t, d, 10*ms, "a", "x", 4, "a", "x", 24), nil) // 4 is late
	checkOut(t, step(t, d, 10*ms, "b", "x", 25), []string{"a@[10,20)=3@15"})
	if n := d.Dropped(); n != 1 {
		t.Errorf("dropped = %d, want 1", n)
	}
}

// TestProcessingTimeWindowsCloseOnTheWallClock: processing-time windows
// count records by the wall clock when they are processed (their own
// timestamps are ignored) and, with final results, a window's result is
// emitted once the wall clock passes its end, with no further input.
func TestProcessingTimeWindowsCloseOnTheWallClock(t *testing.T) {
	w := topology.TumblingWindows(time.Minute).ProcessingTime()
	d := aggDriver(t, finalCounts(w), 1)
	min := time.Minute
	checkOut(t, step(t, d, min, "a", "x", 999_999_000), nil) // wall clock 0
	if err := d.AdvanceWallClockTime(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	checkOut(t, step(t, d, min, "a", "x", 1, "b", "x", 5), nil)
	if err := d.AdvanceWallClockTime(29 * time.Second); err != nil {
		t.Fatal(err)
	}
	checkOut(t, unread(t, d, min), nil) // 59 s: still open
	if err := d.AdvanceWallClockTime(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	checkOut(t, unread(t, d, min), []string{"a@[0,60000)=2@30000", "b@[0,60000)=1@30000"})
	if err := d.AdvanceWallClockTime(2 * time.Minute); err != nil {
		t.Fatal(err)
	}
	checkOut(t, unread(t, d, min), nil) // empty windows emit nothing

	// Every update, by the wall clock.
	d = aggDriver(t, windowedCountTopology(topology.TumblingWindows(time.Minute).ProcessingTime()), 1)
	if err := d.AdvanceWallClockTime(61 * time.Second); err != nil {
		t.Fatal(err)
	}
	checkOut(t, step(t, d, min, "a", "x", 5), []string{"a@[60000,120000)=1@61000"})
}

// TestWindowKnobsValidated: a negative or fractional MaxOutOfOrder fails
// validation naming the operator's store.
func TestWindowKnobsValidated(t *testing.T) {
	for _, d := range []time.Duration{-ms, ms / 2} {
		err := windowedCountTopology(topology.TumblingWindows(10 * ms).WithMaxOutOfOrder(d)).Validate()
		if err == nil || !strings.Contains(err.Error(), "max out-of-order") || !strings.Contains(err.Error(), `"counts"`) {
			t.Errorf("MaxOutOfOrder %v: err = %v", d, err)
		}
	}
}

// TestLateRecordsOneReason: late records of every window type are counted
// under one fixed reason each (the label of samsa_dropped_records_total):
// a reason with the record's times would make one metric series per late
// record.
func TestLateRecordsOneReason(t *testing.T) {
	d := aggDriver(t, windowedCountTopology(topology.TumblingWindows(10*ms)), 1)
	pipeRaw(t, d, "in", "a", "x", 100, "a", "x", 1, "a", "x", 2, "b", "x", 3, "a", "x", 50)
	got := d.DroppedByReason()
	if len(got) != 1 || got["late record in a windowed aggregation"] != 4 {
		t.Errorf("dropped by reason = %v, want 4 under one reason", got)
	}
	top := topology.New()
	topology.SessionCount(topology.StreamOf(top, serde.String, serde.String, "in"), topology.SessionWindows(5*ms), "sessions", serde.String).
		To("out", topology.SessionWindowedSerde(serde.String), serde.Int64)
	d = aggDriver(t, top, 1)
	pipeRaw(t, d, "in", "a", "x", 100, "a", "x", 1, "b", "x", 2)
	if got := d.DroppedByReason(); len(got) != 1 || got["late record in a session aggregation"] != 2 {
		t.Errorf("sessions: dropped by reason = %v, want 2 under one reason", got)
	}
	top = topology.New()
	topology.SlidingCount(topology.StreamOf(top, serde.String, serde.String, "in"), topology.SlidingWindows(5*ms), "sliding", serde.String).
		To("out", topology.TimeWindowedSerde(serde.String, 5*ms), serde.Int64)
	d = aggDriver(t, top, 1)
	pipeRaw(t, d, "in", "a", "x", 100, "a", "x", 1, "b", "x", 2)
	if got := d.DroppedByReason(); len(got) != 1 || got["late record in a sliding window aggregation"] != 2 {
		t.Errorf("sliding: dropped by reason = %v, want 2 under one reason", got)
	}
}

// TestLateRecordsCountedPerOperator: two windowed counts of one stream,
// with no grace and with 20 ms, drop different late records; the drops
// are counted per operator (node), as the node label of
// samsa_dropped_records_total.
func TestLateRecordsCountedPerOperator(t *testing.T) {
	top := topology.New()
	in := topology.StreamOf(top, serde.String, serde.String, "in")
	topology.WindowedCount(in, topology.TumblingWindows(10*ms), "strict", serde.String).Named("strict-count").
		To("out-strict", topology.TimeWindowedSerde(serde.String, 10*ms), serde.Int64)
	topology.WindowedCount(in, topology.TumblingWindows(10*ms).WithGrace(20*ms), "lenient", serde.String).Named("lenient-count").
		To("out-lenient", topology.TimeWindowedSerde(serde.String, 10*ms), serde.Int64)
	d := aggDriver(t, top, 1)
	pipeRaw(t, d, "in",
		"a", "x", 100,
		"a", "x", 95, // late without grace; on time with 20 ms
		"a", "x", 50, // late for both
	)
	got := d.DroppedByNode()
	if len(got) != 2 || got["strict-count"] != 2 || got["lenient-count"] != 1 {
		t.Errorf("dropped by operator = %v, want strict-count 2, lenient-count 1", got)
	}
}
