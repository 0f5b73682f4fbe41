package topology_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// sessionCounts is a session count over w written to "out", its store
// "sessions".
func sessionCounts(w topology.Sessions) *topology.Topology {
	top := topology.New()
	in := topology.StreamOf(top, serde.String, serde.String, "in")
	topology.SessionCount(in, w, "sessions", serde.String).
		To("out", topology.SessionWindowedSerde(serde.String), serde.Int64)
	return top
}

// sessionStep pipes records and returns the records of "out" that they
// emitted, as key[start,end]=count@time.
func sessionStep(t *testing.T, d *testkit.Driver, recs ...any) []string {
	t.Helper()
	pipeRaw(t, d, "in", recs...)
	out := readSessions(t, d, "out", serde.Int64)
	n := readSoFar[d]
	readSoFar[d] = len(out)
	return out[n:] // the records not returned before
}

// TestSessionEmitFinal: with EmitFinal a session aggregation emits nothing
// on update or merge; each session's count comes once, when end + gap +
// grace <= stream time (not a millisecond before), by end then key, at
// the session's end; out-of-order records within the grace are counted,
// late ones dropped; two sessions merged by a record emit one result; a
// session made exactly at the close time is emitted by its own record.
func TestSessionEmitFinal(t *testing.T) {
	d := aggDriver(t, sessionCounts(topology.SessionWindows(10*ms).WithGrace(5*ms).EmitFinal()), 1)
	checkOut(t, sessionStep(t, d,
		"a", "x", 0,
		"a", "x", 5,
		"b", "x", 3,
		"a", "x", 12, // a[0,12]
		"a", "x", 2, // out of order, counted
		"b", "x", 17, // b[17,17]: b[3,3] is gone (3 < 17 - 10)
	), nil)
	checkOut(t, sessionStep(t, d, "c", "x", 20), []string{"b[3,3]=1@3"}) // 3 <= 20 - 15
	checkOut(t, sessionStep(t, d,
		"b", "x", 4, // late: [4,4] ends before 20 - 15
		"a", "x", 26, // a[26,26]
		"a", "x", 19, // merges a[0,12] and a[26,26] into a[0,26]
	), nil)
	// Stream time 40: a[0,26] is still open (26 > 40 - 15).
	checkOut(t, sessionStep(t, d, "c", "x", 40), []string{"b[17,17]=1@17", "c[20,20]=1@20"})
	checkOut(t, sessionStep(t, d, "c", "x", 41), []string{"a[0,26]=6@26"})
	checkOut(t, sessionStep(t, d,
		"d", "x", 25, // late: 25 < 41 - 15
		"d", "x", 26, // on time, and closed at once
		"a", "x", 27, // a new session: a[0,26] no longer merges
	), []string{"d[26,26]=1@26"})
	if n := d.Dropped(); n != 2 {
		t.Errorf("dropped = %d, want 2 (b@4, d@25)", n)
	}
	checkOut(t, sessionStep(t, d, "e", "x", 100), []string{"a[27,27]=1@27", "c[40,41]=2@41"})

	// Without EmitFinal: every update, a tombstone per session merged away.
	d = aggDriver(t, sessionCounts(topology.SessionWindows(10*ms).WithGrace(5*ms)), 1)
	checkOut(t, sessionStep(t, d, "a", "x", 12, "a", "x", 26, "a", "x", 19), []string{
		"a[12,12]=1@12", "a[26,26]=1@26", "a[12,12]=null@12", "a[26,26]=null@26", "a[12,26]=3@26",
	})
}

// TestSessionMaxOutOfOrderFinal: with MaxOutOfOrder a session's one result
// comes when end + gap + grace <= stream time - MaxOutOfOrder.
func TestSessionMaxOutOfOrderFinal(t *testing.T) {
	d := aggDriver(t, sessionCounts(topology.SessionWindows(10*ms).WithMaxOutOfOrder(5*ms).EmitFinal()), 1)
	checkOut(t, sessionStep(t, d, "a", "x", 0, "b", "x", 14), nil)
	checkOut(t, sessionStep(t, d, "b", "x", 15), []string{"a[0,0]=1@0"})
	d = aggDriver(t, sessionCounts(topology.SessionWindows(10*ms).EmitFinal()), 1)
	checkOut(t, sessionStep(t, d, "a", "x", 0, "b", "x", 10), []string{"a[0,0]=1@0"})
}

// TestSessionMaxOutOfOrderApartFromGrace: the watermark trails the stream
// time by MaxOutOfOrder, so a record 15 ms behind the stream time is on
// time with MaxOutOfOrder 5, gap 10 and grace 3 (late with grace 3
// alone); a late record is not applied, is counted, and goes to the
// late-records topic with the session it would have made and the
// watermark at its arrival.
func TestSessionMaxOutOfOrderApartFromGrace(t *testing.T) {
	w := topology.SessionWindows(10 * ms).WithGrace(3 * ms).WithMaxOutOfOrder(5 * ms).LateRecordsTo("late")
	d := aggDriver(t, sessionCounts(w), 1)
	checkOut(t, sessionStep(t, d,
		"a", "x", 2,
		"a", "x", 30, // watermark 25: sessions ending before 12 are closed
		"b", "x", 15, // 15 behind: on time
	), []string{"a[2,2]=1@2", "a[30,30]=1@30", "b[15,15]=1@15"})
	checkOut(t, sessionStep(t, d,
		"a", "x", 35, // watermark 30: sessions ending before 17 are closed
		"b", "y", 16, // late: b[15,15] is gone, [16,16] ends before 17
		"c", "z", 5, // late
	), []string{"a[30,30]=null@30", "a[30,35]=2@35"})
	if n := d.Dropped(); n != 2 {
		t.Errorf("dropped = %d, want 2", n)
	}
	checkOut(t, lateRecords(t, d, "late"), []string{
		"b=y@00.016 late.reason=session closed late.window.start=16 late.window.end=16 late.watermark=30 source.topic=in source.offset=4",
		"c=z@00.005 late.reason=session closed late.window.start=5 late.window.end=5 late.watermark=30 source.topic=in source.offset=5",
	})

	// Grace 3 alone: the record 15 ms behind is late.
	d = aggDriver(t, sessionCounts(topology.SessionWindows(10*ms).WithGrace(3*ms)), 1)
	checkOut(t, sessionStep(t, d, "a", "x", 2, "a", "x", 30, "b", "x", 15), []string{"a[2,2]=1@2", "a[30,30]=1@30"})
	if n := d.Dropped(); n != 1 {
		t.Errorf("grace alone: dropped = %d, want 1", n)
	}
}

// TestSessionKnobsValidated: a negative or fractional MaxOutOfOrder fails
// validation naming the store; LateRecordsTo declares the topic as a side
// topic of the aggregation (checked at startup as a sink topic).
func TestSessionKnobsValidated(t *testing.T) {
	for _, d := range []time.Duration{-ms, ms / 2} {
		err := sessionCounts(topology.SessionWindows(10 * ms).WithMaxOutOfOrder(d)).Validate()
		if err == nil || !strings.Contains(err.Error(), "max out-of-order") || !strings.Contains(err.Error(), `"sessions"`) {
			t.Errorf("MaxOutOfOrder %v: err = %v", d, err)
		}
	}
	w := topology.SessionWindows(10 * ms).WithMaxOutOfOrder(5 * ms).WithGrace(3 * ms).LateRecordsTo("late").EmitFinal()
	if !w.Final() || w.MaxOutOfOrder() != 5*ms || w.LateTopic() != "late" || w.Retention() != 18*ms {
		t.Errorf("knobs: final %v, max out-of-order %v, late topic %q, retention %v", w.Final(), w.MaxOutOfOrder(), w.LateTopic(), w.Retention())
	}
	desc, err := sessionCounts(w).Describe()
	if err != nil {
		t.Fatal(err)
	}
	if s := desc.String(); !strings.Contains(s, "sessions-emitted") {
		t.Errorf("no emitted store in\n%s", s)
	}
}

// TestSessionEmitFinalAcrossRestart: after a restart the stream time starts
// again, but the sessions emitted before stay closed: they no longer merge
// (a record next to one makes a new session, emitted at once as it is
// closed already) and a record for one is late; the sessions not emitted
// yet are emitted once when they close.
func TestSessionEmitFinalAcrossRestart(t *testing.T) {
	d := aggDriver(t, sessionCounts(topology.SessionWindows(10*ms).EmitFinal()), 1)
	checkOut(t, sessionStep(t, d, "a", "x", 0, "a", "x", 5, "b", "x", 3, "b", "x", 16), []string{"b[3,3]=1@3", "a[0,5]=2@5"})
	if err := d.Restart(); err != nil {
		t.Fatal(err)
	}
	// Without the emitted close time, a@6 would extend a[0,5] (stream time
	// 6) and emit a[0,6]=3 later.
	checkOut(t, sessionStep(t, d, "a", "x", 6, "a", "x", 5), []string{"a[6,6]=1@6"})
	if n := d.Dropped(); n != 1 {
		t.Errorf("dropped = %d, want 1 (a@5)", n)
	}
	checkOut(t, sessionStep(t, d, "c", "x", 30), []string{"b[16,16]=1@16"})
	if err := d.Restart(); err != nil {
		t.Fatal(err)
	}
	checkOut(t, sessionStep(t, d,
		"b", "x", 19, // late: 19 < 20, the close time emitted up to before
		"b", "x", 20, // on time, closed at once
		"c", "x", 45,
	), []string{"b[20,20]=1@20", "c[30,30]=1@30"})
	if n := d.Dropped(); n != 1 {
		t.Errorf("dropped since the restart = %d, want 1 (b@19)", n)
	}
}

// TestSessionEmitFinalAbortedPipe: a pipe that fails after the aggregation
// emitted final results is rolled back, outputs, emitted close time and
// sessions alike; processed again after a restart it emits them once, and
// the results emitted before are not emitted again.
func TestSessionEmitFinalAbortedPipe(t *testing.T) {
	top := topology.New()
	in := topology.StreamOf(top, serde.String, serde.String, "in")
	errOnce := errors.New("downstream failure")
	failOnceOnB(topology.SessionCount(in, topology.SessionWindows(10*ms).EmitFinal(), "sessions", serde.String), errOnce).
		To("out", topology.SessionWindowedSerde(serde.String), serde.Int64)
	d := aggDriver(t, top, 1)
	checkOut(t, sessionStep(t, d, "a", "x", 1, "b", "x", 2, "a", "x", 8), nil)
	raw := testkit.InputTopic(d, "in", serde.String, serde.String)
	if err := raw.PipeAt("c", "x", time.UnixMilli(21)); !errors.Is(err, errOnce) {
		t.Fatalf("pipe = %v, want the downstream failure", err)
	}
	checkOut(t, sessionStep(t, d), nil) // the aborted transaction's results
	if err := d.Restart(); err != nil {
		t.Fatal(err)
	}
	checkOut(t, sessionStep(t, d, "c", "x", 21), []string{"b[2,2]=1@2", "a[1,8]=2@8"}) // processed again
	checkOut(t, sessionStep(t, d, "b", "x", 5, "d", "x", 40), []string{"c[21,21]=1@21"})
	if n := d.Dropped(); n != 1 {
		t.Errorf("dropped = %d, want 1 (b@5)", n)
	}
}
