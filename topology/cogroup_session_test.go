package topology_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// cogroupSessionDriver runs a cogrouped session aggregation of a and b
// (cogroupedAB) over the store "agg", merging sessions by concatenation,
// written to "out" as session-windowed strings.
func cogroupSessionDriver(t *testing.T, w topology.Sessions) *testkit.Driver {
	t.Helper()
	top := topology.New()
	cogroupedAB(top).SessionAggregate(w, "agg", func() string { return "" },
		func(_ string, a, b string) string { return a + b }, serde.String, serde.String).
		To("out", topology.SessionWindowedSerde(serde.String), serde.String)
	return aggDriver(t, top, 1)
}

// readSessions reads every session-windowed result of topic as
// key[start,end]=value@time.
func readSessions[V any](t *testing.T, d *testkit.Driver, topic string, value serde.Serde[V]) []string {
	t.Helper()
	o := testkit.OutputTopic(d, topic, topology.SessionWindowedSerde(serde.String), value)
	var out []string
	for !o.IsEmpty() {
		r, err := o.ReadRecord()
		if err != nil {
			t.Fatal(err)
		}
		v := fmt.Sprint(r.Value)
		if r.IsTombstone() {
			v = "null"
		}
		out = append(out, fmt.Sprintf("%s[%d,%d]=%s@%d", r.Key.Key, r.Key.Start.UnixMilli(), r.Key.End.UnixMilli(), v, r.Timestamp.UnixMilli()))
	}
	return out
}

// TestCogroupSessionAggregate: records of a (strings) and b (ints) of a
// key make one session, each added with its own stream's adder; a record
// of one stream extends a session of the other, one fills the gap
// between a session of each stream and merges them (their aggregates
// merged from initial, a tombstone for each session merged away); keys
// keep their own sessions; the stream time is the aggregation's, over
// both streams: a record of b is late after a record of a moved the
// stream time past its session's close (in Kafka Streams b's own stream
// time would keep it on time).
func TestCogroupSessionAggregate(t *testing.T) {
	d := cogroupSessionDriver(t, topology.SessionWindows(10*ms).WithGrace(20*ms))
	pipeAB(t, d,
		"a", "k1", "x", 0,
		"b", "k1", 3, 5, // extends a's session
		"b", "k2", 7, 6,
		"a", "k1", "y", 30, // a new session
		"b", "k1", 1, 15, // out of order: extends [0,5]
		"a", "k1", "z", 25, // fills the gap: merges [0,15] and [30,30]
		"a", "k2", "w", 40, // stream time 40: sessions ending before 10 closed
		"b", "k2", 9, 8, // late: k2[6,6] is closed
	)
	checkOut(t, readSessions(t, d, "out", serde.String), []string{
		"k1[0,0]=ax@0",
		"k1[0,0]=null@0", "k1[0,5]=axb3@5",
		"k2[6,6]=b7@6",
		"k1[30,30]=ay@30",
		"k1[0,5]=null@5", "k1[0,15]=axb3b1@15",
		"k1[0,15]=null@15", "k1[30,30]=null@30", "k1[0,30]=axb3b1ayaz@30",
		"k2[40,40]=aw@40",
	})
	if n := d.Dropped(); n != 1 {
		t.Errorf("dropped = %d, want 1", n)
	}
	st, err := testkit.SessionStoreOf[string, string](d, "agg", 0)
	if err != nil {
		t.Fatal(err)
	}
	// One store for both streams: k1's one session merged from both, and
	// k2's (k2[6,6] closed, not deleted yet).
	var sessions []string
	for _, k := range []string{"k1", "k2"} {
		for kv, err := range st.FindSessions(k, time.UnixMilli(0), time.UnixMilli(100)) {
			if err != nil {
				t.Fatal(err)
			}
			sessions = append(sessions, fmt.Sprintf("%s[%d,%d]=%s", k, kv.Key.Start.UnixMilli(), kv.Key.End.UnixMilli(), kv.Value))
		}
	}
	checkOut(t, sessions, []string{"k1[0,30]=axb3b1ayaz", "k2[6,6]=b7", "k2[40,40]=aw"})
}

// TestCogroupSessionFinalLate: EmitFinal, MaxOutOfOrder and LateRecordsTo
// work on a cogrouped session aggregation as on one stream's: sessions
// merged across the streams emit nothing until they close; a record of b
// 26 ms behind the stream time still joins the session of both streams
// (MaxOutOfOrder 5: the watermark is the stream time - 5); each session's
// result comes once, when watermark - gap passes its end, whichever
// stream moves the stream time; a late record goes to the late-records
// topic with the session it would have made and the watermark.
func TestCogroupSessionFinalLate(t *testing.T) {
	w := topology.SessionWindows(10 * ms).WithMaxOutOfOrder(5 * ms).EmitFinal().LateRecordsTo("late")
	d := cogroupSessionDriver(t, w)
	pipeAB(t, d,
		"a", "k1", "x", 0,
		"b", "k1", 1, 8, // merged into a's session
		"b", "k2", 2, 12,
		"a", "k1", "y", 18, // extends k1[0,8]
	)
	checkOut(t, readSessions(t, d, "out", serde.String), nil)
	pipeAB(t, d,
		"a", "k2", "z", 30, // closes the sessions ending at or before 15: k2[12,12]
		"b", "k1", 3, 4, // 26 ms behind, joins k1[0,18] (open until 30 - 15)
		"a", "k2", "v", 13, // late: [13,13] would end before 15
		"b", "k2", 1, 40, // closes k1[0,18]
	)
	checkOut(t, readSessions(t, d, "out", serde.String), []string{
		"k2[12,12]=b2@12",
		"k1[0,18]=axb1ayb3@18",
	})
	if n := d.Dropped(); n != 1 {
		t.Errorf("dropped = %d, want 1", n)
	}
	checkOut(t, lateRecords(t, d, "late"), []string{
		"k2=v@00.013 late.reason=session closed late.window.start=13 late.window.end=13 late.watermark=25 source.topic=a source.offset=3",
	})
}

// TestCogroupSessionValidated: a cogrouped session aggregation checks its
// sessions and merger as SessionAggregate does, naming the store, and
// with EmitFinal has the one emitted store of its one aggregation node.
func TestCogroupSessionValidated(t *testing.T) {
	build := func(w topology.Sessions, merge func(string, string, string) string) *topology.Topology {
		top := topology.New()
		cogroupedAB(top).SessionAggregate(w, "agg", func() string { return "" }, merge, serde.String, serde.String).
			To("out", topology.SessionWindowedSerde(serde.String), serde.String)
		return top
	}
	concat := func(_ string, a, b string) string { return a + b }
	err := build(topology.SessionWindows(10*ms).WithMaxOutOfOrder(-ms), concat).Validate()
	if err == nil || !strings.Contains(err.Error(), "max out-of-order") || !strings.Contains(err.Error(), `"agg"`) {
		t.Errorf("negative MaxOutOfOrder: err = %v", err)
	}
	if err := build(topology.SessionWindows(10*ms), nil).Validate(); err == nil || !strings.Contains(err.Error(), "merge") {
		t.Errorf("nil merge: err = %v", err)
	}
	desc, err := build(topology.SessionWindows(10*ms).EmitFinal(), concat).Describe()
	if err != nil {
		t.Fatal(err)
	}
	if s := desc.String(); strings.Count(s, "Processor: KSTREAM-AGGREGATE") != 1 || !strings.Contains(s, "(stores: [agg, agg-emitted])") {
		t.Errorf("want one aggregation node with the emitted store in\n%s", s)
	}
}
