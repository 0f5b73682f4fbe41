package topology_test

import (
	"strings"
	"testing"
	"time"

	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/topology"
)

// TestSlidingMaxOutOfOrderApartFromGrace: with a time difference of 10, grace
// 2 and MaxOutOfOrder 15, the watermark trails the stream time by 15, so a
// record 15 ms behind the stream time (a@25 after a@40) is applied to its
// windows, which it is not with grace 2 alone (late: 25 + 10 + 1 + 2 <= 40).
func TestSlidingMaxOutOfOrderApartFromGrace(t *testing.T) {
	recs := []any{"a", "x", 20, "a", "x", 40, "a", "x", 25}
	w := topology.SlidingWindows(10 * ms).WithGrace(2 * ms)
	d := aggDriver(t, slidingCountTopology(w.WithMaxOutOfOrder(15*ms)), 1)
	pipeRaw(t, d, "in", recs...)
	checkOut(t, readSliding(t, d, "out", 10*ms, serde.Int64), []string{
		"a@[10,20]=1@20", "a@[30,40]=1@40",
		// a@25: the right window of a@20, then its left window.
		"a@[21,31]=1@25", "a@[15,25]=2@25",
	})
	if n := d.Dropped(); n != 0 {
		t.Errorf("dropped = %d, want 0", n)
	}

	d = aggDriver(t, slidingCountTopology(w), 1)
	pipeRaw(t, d, "in", recs...)
	checkOut(t, readSliding(t, d, "out", 10*ms, serde.Int64), []string{"a@[10,20]=1@20", "a@[30,40]=1@40"})
	if n := d.Dropped(); n != 1 {
		t.Errorf("grace alone: dropped = %d, want 1", n)
	}
}

// TestSlidingMaxOutOfOrderFinal: with final results, a window's one result
// comes once end + grace <= stream time - MaxOutOfOrder; the record that is
// late with grace alone has its windows emitted.
func TestSlidingMaxOutOfOrderFinal(t *testing.T) {
	recs := []any{"a", "x", 20, "a", "x", 40, "a", "x", 25, "a", "x", 60}
	w := topology.SlidingWindows(10 * ms).WithGrace(2 * ms).EmitFinal()
	d := aggDriver(t, slidingCountTopology(w.WithMaxOutOfOrder(15*ms)), 1)
	pipeRaw(t, d, "in", recs[:6]...)
	// a@40: watermark 25, [10,20] closes (20 + 2 <= 25).
	checkOut(t, readSliding(t, d, "out", 10*ms, serde.Int64), []string{"a@[10,20]=1@20"})
	pipeRaw(t, d, "in", recs[6:]...)
	// a@60: watermark 45 closes the windows ending by 43, by end.
	checkOut(t, readSliding(t, d, "out", 10*ms, serde.Int64), []string{
		"a@[10,20]=1@20",
		"a@[15,25]=2@25", "a@[21,31]=1@25", "a@[30,40]=1@40",
	})

	d = aggDriver(t, slidingCountTopology(w), 1)
	pipeRaw(t, d, "in", recs...)
	checkOut(t, readSliding(t, d, "out", 10*ms, serde.Int64), []string{"a@[10,20]=1@20", "a@[30,40]=1@40"})
	if n := d.Dropped(); n != 1 {
		t.Errorf("grace alone: dropped = %d, want 1", n)
	}
}

// TestSlidingLateRecordsTopic: a late record (b@12: 12 + 10 + 1 + 2 <= 25,
// the watermark) goes to the late-records topic with its left window and
// the watermark; so does a record that is not late but whose only window,
// its left one, is closed (c@20: [10,20] ends before the close time 23),
// with that window; a record applied to open windows (a@22, in [15,25]
// and [21,31]) does not, although its left window [12,22] is closed.
func TestSlidingLateRecordsTopic(t *testing.T) {
	w := topology.SlidingWindows(10 * ms).WithGrace(2 * ms).WithMaxOutOfOrder(15 * ms).LateRecordsTo("late")
	d := aggDriver(t, slidingCountTopology(w), 1)
	pipeRaw(t, d, "in",
		"a", "x", 20,
		"a", "x", 40, // watermark 25, close time 23
		"a", "x", 25,
		"b", "y", 12, // late
		"c", "z", 20, // not late, its one window closed
		"a", "w", 22, // its left window [12,22] closed
		"d", "v", 1, // late: [0,10]
	)
	checkOut(t, readSliding(t, d, "out", 10*ms, serde.Int64), []string{
		"a@[10,20]=1@20", "a@[30,40]=1@40",
		"a@[21,31]=1@25", "a@[15,25]=2@25",
		"a@[21,31]=2@25", "a@[15,25]=3@25", "a@[23,33]=1@25",
	})
	checkOut(t, lateRecords(t, d, "late"), []string{
		"b=y@00.012 late.reason=window closed late.window.start=2 late.window.end=12 late.watermark=25 source.topic=in source.offset=3",
		"c=z@00.020 late.reason=window closed late.window.start=10 late.window.end=20 late.watermark=25 source.topic=in source.offset=4",
		"d=v@00.001 late.reason=window closed late.window.start=0 late.window.end=10 late.watermark=25 source.topic=in source.offset=6",
	})
	if n := d.Dropped(); n != 4 {
		t.Errorf("dropped = %d, want 4 (b@12, c@20's window, a@22's left window, d@1)", n)
	}
}

// TestSlidingKnobsValidated: a negative or fractional MaxOutOfOrder of
// sliding windows fails validation naming the operator's store; Retention
// includes it.
func TestSlidingKnobsValidated(t *testing.T) {
	for _, d := range []time.Duration{-ms, ms / 2} {
		err := slidingCountTopology(topology.SlidingWindows(10 * ms).WithMaxOutOfOrder(d)).Validate()
		if err == nil || !strings.Contains(err.Error(), "max out-of-order") || !strings.Contains(err.Error(), `store "counts"`) {
			t.Errorf("MaxOutOfOrder %v: err = %v", d, err)
		}
	}
	w := topology.SlidingWindows(10 * ms).WithGrace(2 * ms).WithMaxOutOfOrder(15 * ms).LateRecordsTo("late")
	if got := w.Retention(); got != 37*ms {
		t.Errorf("Retention() = %v, want 2×10 + 2 + 15 ms", got)
	}
	if w.MaxOutOfOrder() != 15*ms || w.LateTopic() != "late" {
		t.Errorf("MaxOutOfOrder() = %v, LateTopic() = %q", w.MaxOutOfOrder(), w.LateTopic())
	}
}
