package topology_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

const ms = time.Millisecond

// readWindowed reads every windowed result as key@[start,end)=value@time,
// the key through TimeWindowedSerde (the bytes Kafka Streams writes).
func readWindowed[V any](t *testing.T, d *testkit.Driver, topic string, size time.Duration, value serde.Serde[V]) []string {
	t.Helper()
	o := testkit.OutputTopic(d, topic, topology.TimeWindowedSerde(serde.String, size), value)
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
		out = append(out, fmt.Sprintf("%s=%s@%d", r.Key, v, r.Timestamp.UnixMilli()))
	}
	return out
}

func windowedCountTopology(w topology.Windows) *topology.Topology {
	top := topology.New()
	in := topology.StreamOf(top, serde.String, serde.String, "in")
	topology.WindowedCount(in, w, "counts", serde.String).
		To("out", topology.TimeWindowedSerde(serde.String, w.Size()), serde.Int64)
	return top
}

// TestTumblingWindowBoundaries: a window is [start, start+size): a record at
// the end of one is the first of the next, and windows start at multiples
// of the size from the epoch.
func TestTumblingWindowBoundaries(t *testing.T) {
	d := aggDriver(t, windowedCountTopology(topology.TumblingWindows(10*ms)), 1)
	pipeRaw(t, d, "in",
		"a", "x", 0,
		"a", "x", 9,
		"a", "x", 10,
		"a", "x", 19,
		"b", "x", 17,
		"a", "x", 20,
	)
	checkOut(t, readWindowed(t, d, "out", 10*ms, serde.Int64), []string{
		"a@[0,10)=1@0", "a@[0,10)=2@9",
		"a@[10,20)=1@10", "a@[10,20)=2@19",
		"b@[10,20)=1@17",
		"a@[20,30)=1@20",
	})
	if n := d.Dropped(); n != 0 {
		t.Errorf("dropped = %d, want 0", n)
	}
}

// TestHoppingWindowsUpdateEveryWindowOfARecord: with size 10 and advance 4,
// a record at 13 is in [4,14), [8,18) and [12,22), updated in that order;
// one at 3 only in [0,10).
func TestHoppingWindowsUpdateEveryWindowOfARecord(t *testing.T) {
	d := aggDriver(t, windowedCountTopology(topology.HoppingWindows(10*ms, 4*ms).WithGrace(5*ms)), 1)
	pipeRaw(t, d, "in",
		"a", "x", 13,
		"a", "x", 3, // [0,10) is open: 10 + 5 > 13
	)
	checkOut(t, readWindowed(t, d, "out", 10*ms, serde.Int64), []string{
		"a@[4,14)=1@13", "a@[8,18)=1@13", "a@[12,22)=1@13",
		"a@[0,10)=1@3",
	})
}

// TestLateRecordsAreCountedNotApplied: with grace 5, the window [0,10)
// accepts records until stream time 15 and not at 15; each late record is
// counted as dropped and changes neither the output nor the store.
func TestLateRecordsAreCountedNotApplied(t *testing.T) {
	d := aggDriver(t, windowedCountTopology(topology.TumblingWindows(10*ms).WithGrace(5*ms)), 1)
	pipeRaw(t, d, "in",
		"a", "x", 5,
		"a", "x", 14, // stream time 14
		"b", "x", 2, // [0,10) closes at 15 > 14: on time
		"a", "x", 15, // stream time 15
		"b", "x", 3, // late: 10 + 5 <= 15
		"a", "x", 9, // late
	)
	checkOut(t, readWindowed(t, d, "out", 10*ms, serde.Int64), []string{
		"a@[0,10)=1@5", "a@[10,20)=1@14", "b@[0,10)=1@2", "a@[10,20)=2@15",
	})
	if n := d.Dropped(); n != 2 {
		t.Errorf("dropped = %d, want 2 (the two late records)", n)
	}
	st, err := testkit.WindowStoreOf[string, int64](d, "counts", 0)
	if err != nil {
		t.Fatal(err)
	}
	got := fetchAll(t, st, 0, 100)
	checkOut(t, got, []string{"a@0=1", "b@0=1", "a@10=2"})
}

// TestNullKeyDroppedTombstoneCounted: as Kafka Streams' windowed count, a
// null key is dropped and does not advance the stream time; a tombstone is
// a record like any other.
func TestNullKeyDroppedTombstoneCounted(t *testing.T) {
	d := aggDriver(t, windowedCountTopology(topology.TumblingWindows(10*ms)), 1)
	pipeRaw(t, d, "in",
		"a", "x", 1,
		nil, "x", 500, // dropped; had it moved the stream time, the next would be late
		"a", nil, 2,
		"", "x", 3,
	)
	checkOut(t, readWindowed(t, d, "out", 10*ms, serde.Int64), []string{
		"a@[0,10)=1@1", "a@[0,10)=2@2", "@[0,10)=1@3",
	})
	if n := d.Dropped(); n != 1 {
		t.Errorf("dropped = %d, want 1 (the null key)", n)
	}
}

// TestWindowedUpdateCarriesTheHighestTime: an out-of-order record within a
// window does not move the window's result back in time.
func TestWindowedUpdateCarriesTheHighestTime(t *testing.T) {
	top := topology.New()
	in := topology.StreamOf(top, serde.String, serde.String, "in")
	w := topology.TumblingWindows(10 * ms).WithGrace(10 * ms)
	topology.WindowedReduce(in, w, "joined", func(agg, v string) string { return agg + v }, serde.String, serde.String).
		To("out", topology.TimeWindowedSerde(serde.String, w.Size()), serde.String)
	d := aggDriver(t, top, 1)
	pipeRaw(t, d, "in",
		"a", "p", 8,
		"a", "q", 3,
		"a", "r", 12,
		"a", "s", 1,
	)
	checkOut(t, readWindowed(t, d, "out", 10*ms, serde.String), []string{
		"a@[0,10)=p@8", "a@[0,10)=pq@8", "a@[10,20)=r@12", "a@[0,10)=pqs@8",
	})
}

// TestWindowedReduceTombstones: a tombstone as a window's first record
// emits a tombstone and stores nothing; after a value, the reducer gets the
// zero value.
func TestWindowedReduceTombstones(t *testing.T) {
	top := topology.New()
	in := topology.StreamOf(top, serde.String, serde.String, "in")
	w := topology.TumblingWindows(10 * ms)
	topology.WindowedReduce(in, w, "joined", func(agg, v string) string { return agg + "+" + v }, serde.String, serde.String).
		To("out", topology.TimeWindowedSerde(serde.String, w.Size()), serde.String)
	d := aggDriver(t, top, 1)
	pipeRaw(t, d, "in",
		"a", nil, 1,
		"b", "p", 2,
		"b", nil, 3,
		"a", "q", 4,
	)
	checkOut(t, readWindowed(t, d, "out", 10*ms, serde.String), []string{
		"a@[0,10)=null@1", "b@[0,10)=p@2", "b@[0,10)=p+@3", "a@[0,10)=q@4",
	})
}

// TestWindowStoreContents: the aggregation's store, looked up by a
// processor with processor.GetWindowStore, shows the aggregates by key and
// window start, and no more once they are past the retention.
func TestWindowStoreContents(t *testing.T) {
	top := topology.New()
	in := topology.StreamOf(top, serde.String, serde.String, "in")
	w := topology.HoppingWindows(10*ms, 5*ms)
	counts := topology.WindowedCount(in, w, "counts", serde.String)
	var seen []string
	lookup := processor.Func[topology.Windowed[string], int64, string, string](
		func(ctx processor.Context[string, string], r processor.Record[topology.Windowed[string], int64]) error {
			st, err := processor.GetWindowStore[string, int64](ctx, "counts")
			if err != nil {
				return err
			}
			for win, err := range st.Fetch(r.Key.Key, r.Key.Start, r.Key.Start) {
				if err != nil {
					return err
				}
				seen = append(seen, fmt.Sprintf("%s@%d=%d", r.Key.Key, win.Start.UnixMilli(), win.Value))
			}
			return nil
		})
	p := topology.Process(counts, lookup.Supplier())
	top.ConnectStore("counts", p.Node())
	d := aggDriver(t, top, 1)
	pipeRaw(t, d, "in",
		"a", "x", 7,
		"b", "x", 3,
		"a", "x", 8,
	)
	// What the downstream processor read is what was emitted, stored.
	checkOut(t, seen, []string{"a@0=1", "a@5=1", "b@0=1", "a@0=2", "a@5=2"})
	st, err := testkit.WindowStoreOf[string, int64](d, "counts", 0)
	if err != nil {
		t.Fatal(err)
	}
	checkOut(t, fetchAll(t, st, 0, 100), []string{"a@0=2", "b@0=1", "a@5=2"})
	var a []string
	for win, err := range st.Fetch("a", time.UnixMilli(0), time.UnixMilli(100)) {
		if err != nil {
			t.Fatal(err)
		}
		a = append(a, fmt.Sprintf("%d=%d", win.Start.UnixMilli(), win.Value))
	}
	checkOut(t, a, []string{"0=2", "5=2"})
	// Far ahead: the windows of 0 and 5 are past the retention (size +
	// grace = 10ms) and gone.
	pipeRaw(t, d, "in", "c", "x", 1000)
	checkOut(t, fetchAll(t, st, 0, 100), nil)
	if _, err := testkit.WindowStoreOf[string, string](d, "counts", 0); err == nil {
		t.Error("WindowStoreOf with the wrong value type: no error")
	}
}

func fetchAll[V any](t *testing.T, st processor.WindowStore[string, V], from, to int64) []string {
	t.Helper()
	var out []string
	for kv, err := range st.FetchAll(time.UnixMilli(from), time.UnixMilli(to)) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s@%d=%v", kv.Key, kv.Start.UnixMilli(), kv.Value))
	}
	return out
}

// TestWindowedAggregateErrChangesNothing: an adder error on one of a
// record's windows leaves all of them as they were and reaches the
// processing-error policy (the driver's default fails the pipe).
func TestWindowedAggregateErrChangesNothing(t *testing.T) {
	top := topology.New()
	in := topology.StreamOf(top, serde.String, serde.String, "in")
	w := topology.HoppingWindows(10*ms, 5*ms)
	errBad := errors.New("bad value")
	topology.WindowedAggregateErr(in, w, "agg", func() string { return "" },
		func(_, v, agg string) (string, error) {
			if v == "bad" && agg != "" { // fails in [0,10), not in [5,15)
				return "", errBad
			}
			return agg + v, nil
		}, serde.String, serde.String).
		To("out", topology.TimeWindowedSerde(serde.String, w.Size()), serde.String)
	d := aggDriver(t, top, 1)
	pipeRaw(t, d, "in", "a", "x", 1)
	in2 := testkit.InputTopic(d, "in", serde.String, serde.String)
	if err := in2.PipeAt("a", "bad", time.UnixMilli(6)); !errors.Is(err, errBad) {
		t.Fatalf("pipe = %v, want %v", err, errBad)
	}
	checkOut(t, readWindowed(t, d, "out", 10*ms, serde.String), []string{"a@[0,10)=x@1"})
	st, err := testkit.WindowStoreOf[string, string](d, "agg", 0)
	if err != nil {
		t.Fatal(err)
	}
	checkOut(t, fetchAll(t, st, 0, 100), []string{"a@0=x"})
}

// TestWindowedAggregateNullDeletesTheWindow: an aggregate its serde writes
// as null deletes the window; the next record starts it again.
func TestWindowedAggregateNullDeletesTheWindow(t *testing.T) {
	type total struct{ N int }
	top := topology.New()
	in := topology.StreamOf(top, serde.String, serde.String, "in")
	w := topology.TumblingWindows(10 * ms)
	topology.WindowedAggregate(in, w, "totals", func() *total { return &total{} },
		func(_, v string, agg *total) *total {
			if v == "reset" {
				return nil
			}
			return &total{agg.N + 1}
		}, serde.String, serde.JSON[*total]()).
		To("out", topology.TimeWindowedSerde(serde.String, w.Size()), serde.JSON[*total]())
	d := aggDriver(t, top, 1)
	pipeRaw(t, d, "in", "a", "x", 1, "a", "x", 2, "a", "reset", 3, "a", "x", 4)
	o := testkit.OutputTopic(d, "out", topology.TimeWindowedSerde(serde.String, w.Size()), serde.Bytes)
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
		got = append(got, v)
	}
	checkOut(t, got, []string{`{"N":1}`, `{"N":2}`, "null", `{"N":1}`})
}

// TestTimeWindowedSerdeFormat: the key's bytes, then the window start as 8
// big-endian bytes; reading sets the end to start + size.
func TestTimeWindowedSerdeFormat(t *testing.T) {
	s := topology.TimeWindowedSerde(serde.String, 10*ms)
	w := topology.Windowed[string]{Key: "ab", Start: time.UnixMilli(0x0102), End: time.UnixMilli(0x0102 + 10)}
	b, err := s.Serialize("t", w)
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{'a', 'b', 0, 0, 0, 0, 0, 0, 1, 2}; !bytes.Equal(b, want) {
		t.Fatalf("bytes = %v, want %v", b, want)
	}
	back, err := s.Deserialize("t", b)
	if err != nil {
		t.Fatal(err)
	}
	if back.Key != w.Key || !back.Start.Equal(w.Start) || !back.End.Equal(w.End) {
		t.Fatalf("read back %v, want %v", back, w)
	}
	if back.String() != "ab@[258,268)" {
		t.Errorf("String() = %q", back.String())
	}
	if _, err := s.Deserialize("t", []byte{1, 2, 3}); !errors.Is(err, serde.ErrDeserialize) {
		t.Errorf("short input: err = %v, want ErrDeserialize", err)
	}
}

// TestInvalidWindowsFailValidation: a window definition Kafka Streams
// refuses makes the topology invalid, naming the store.
func TestInvalidWindowsFailValidation(t *testing.T) {
	for name, w := range map[string]topology.Windows{
		"zero size":         topology.TumblingWindows(0),
		"advance > size":    topology.HoppingWindows(10*ms, 11*ms),
		"zero advance":      topology.HoppingWindows(10*ms, 0),
		"negative grace":    topology.TumblingWindows(10 * ms).WithGrace(-ms),
		"sub-millisecond":   topology.TumblingWindows(1500 * time.Microsecond),
		"sub-millisecond g": topology.TumblingWindows(ms).WithGrace(time.Microsecond),
	} {
		err := windowedCountTopology(w).Validate()
		if err == nil || !strings.Contains(err.Error(), `store "counts"`) {
			t.Errorf("%s: Validate() = %v, want an error naming the store", name, err)
		}
	}
	if err := windowedCountTopology(topology.HoppingWindows(10*ms, 10*ms).WithGrace(0)).Validate(); err != nil {
		t.Errorf("valid windows: %v", err)
	}
}

// TestSessionCountMerges: records within the gap extend a session; one that
// fills the gap between two sessions merges them, emitting a tombstone for
// each merged-away session; results carry the session's end; the store
// keeps only the merged session; a late record is dropped and counted.
func TestSessionCountMerges(t *testing.T) {
	top := topology.New()
	in := topology.StreamOf(top, serde.String, serde.String, "in")
	topology.SessionCount(in, topology.SessionWindows(10*ms).WithGrace(20*ms), "sessions", serde.String).
		To("out", topology.SessionWindowedSerde(serde.String), serde.Int64)
	d := aggDriver(t, top, 1)
	pipeRaw(t, d, "in",
		"a", "x", 0,
		"a", "x", 20, // a new session: 20 - 0 > 10
		"a", "x", 10, // within 10 of 0 and of 20: merges both
		"b", "x", 9,
		"a", "x", 60, // stream time 60
		"b", "x", 14, // late: [14,14] ends before 60 - 10 - 20 ([9,9] is gone)
	)
	o := testkit.OutputTopic(d, "out", topology.SessionWindowedSerde(serde.String), serde.Int64)
	var got []string
	for !o.IsEmpty() {
		r, err := o.ReadRecord()
		if err != nil {
			t.Fatal(err)
		}
		v := fmt.Sprint(r.Value)
		if r.IsTombstone() {
			v = "null"
		}
		got = append(got, fmt.Sprintf("%s[%d,%d]=%s@%d", r.Key.Key, r.Key.Start.UnixMilli(), r.Key.End.UnixMilli(), v, r.Timestamp.UnixMilli()))
	}
	checkOut(t, got, []string{
		"a[0,0]=1@0",
		"a[20,20]=1@20",
		"a[0,0]=null@0", "a[20,20]=null@20", "a[0,20]=3@20",
		"b[9,9]=1@9",
		"a[60,60]=1@60",
	})
	if n := d.Dropped(); n != 1 {
		t.Errorf("dropped = %d, want 1", n)
	}
	b, err := topology.SessionWindowedSerde(serde.String).Serialize("t", topology.Windowed[string]{Key: "k", Start: time.UnixMilli(1), End: time.UnixMilli(2)})
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{'k', 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1}; !bytes.Equal(b, want) {
		t.Errorf("session key bytes = %v, want %v (key, end, start)", b, want)
	}
	if err := func() error {
		top := topology.New()
		topology.SessionCount(topology.StreamOf(top, serde.String, serde.String, "in"), topology.SessionWindows(0), "s", serde.String)
		return top.Validate()
	}(); err == nil {
		t.Error("a zero gap: Validate() = nil")
	}
}
