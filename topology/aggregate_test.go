package topology_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

func aggDriver(t *testing.T, top *topology.Topology, partitions int32) *testkit.Driver {
	t.Helper()
	d, err := testkit.NewDriver(top, testkit.DriverConfig{DefaultPartitions: partitions})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// pipeRaw sends key/value records (nil = null) with the given times.
func pipeRaw(t *testing.T, d *testkit.Driver, topic string, recs ...any) {
	t.Helper()
	in := testkit.InputTopic(d, topic, serde.Bytes, serde.Bytes)
	for i := 0; i < len(recs); i += 3 {
		var k, v []byte
		if s, ok := recs[i].(string); ok {
			k = []byte(s)
		}
		if s, ok := recs[i+1].(string); ok {
			v = []byte(s)
		}
		if err := in.PipeRaw(k, v, time.UnixMilli(int64(recs[i+2].(int))), nil, -1); err != nil {
			t.Fatal(err)
		}
	}
}

func readAll[V any](t *testing.T, d *testkit.Driver, topic string, value serde.Serde[V]) []string {
	t.Helper()
	o := testkit.OutputTopic(d, topic, serde.String, value)
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

func checkOut(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

// TestCountDropsNullsAndKeepsTheHighestTime: Count ignores null keys and
// values, counts the empty key, and never moves a key's count back in time.
func TestCountDropsNullsAndKeepsTheHighestTime(t *testing.T) {
	top := topology.New()
	topology.Count(topology.StreamOf(top, serde.String, serde.String, "in"), "counts", serde.String).
		To("out", serde.String, serde.Int64)
	d := aggDriver(t, top, 2)
	pipeRaw(t, d, "in",
		"a", "x", 100,
		"a", "x", 50,
		"a", nil, 200,
		nil, "x", 300,
		"", "x", 10,
		"a", "", 120,
		"", "", 5)
	got := readAll(t, d, "out", serde.Int64)
	checkOut(t, got, []string{"a=1@100", "a=2@100", "=1@10", "a=3@120", "=2@10"})
	total := int64(0)
	for p := range int32(2) {
		st, err := testkit.KeyValueStoreOf[string, int64](d, "counts", p)
		if err != nil {
			t.Fatal(err)
		}
		for kv, err := range st.All() {
			if err != nil {
				t.Fatal(err)
			}
			total += kv.Value
		}
	}
	if total != 5 {
		t.Fatalf("the stores hold %d counts, want 5", total)
	}
}

// TestReduce: the first value of a key is its result, later ones are
// reduced into it; nulls are dropped; the time is the highest seen.
func TestReduce(t *testing.T) {
	top := topology.New()
	topology.Reduce(topology.StreamOf(top, serde.String, serde.String, "in"), "joined",
		func(agg, v string) string { return agg + "," + v }, serde.String, serde.String).
		To("out", serde.String, serde.String)
	d := aggDriver(t, top, 1)
	pipeRaw(t, d, "in",
		"a", nil, 1,
		"a", "1", 30,
		"b", "2", 20,
		"a", "3", 10,
		nil, "4", 40,
		"a", "", 50)
	checkOut(t, readAll(t, d, "out", serde.String), []string{"a=1@30", "b=2@20", "a=1,3@30", "a=1,3,@50"})
}

type total struct {
	Sum int `json:"sum"`
}

// TestAggregateNilDeletesAndRestarts: an aggregate written as null (a nil
// pointer with serde.JSON) deletes the key and is emitted as a tombstone;
// the key's next record starts again from the initializer.
func TestAggregateNilDeletesAndRestarts(t *testing.T) {
	top := topology.New()
	s := topology.StreamOf(top, serde.String, serde.String, "in")
	topology.Aggregate(s, "totals", func() *total { return &total{} },
		func(_ string, v string, a *total) *total {
			if v == "reset" {
				return nil
			}
			return &total{Sum: a.Sum + len(v)}
		}, serde.String, serde.JSON[*total]()).
		To("out", serde.String, serde.JSON[*total]())
	d := aggDriver(t, top, 1)
	pipeRaw(t, d, "in", "a", "xx", 10, "a", "reset", 20, "a", "xxx", 5)
	checkOut(t, readAll(t, d, "out", serde.JSON[*total]()), []string{"a=&{2}@10", "a=null@20", "a=&{3}@5"})
	st, err := testkit.KeyValueStoreOf[string, *total](d, "totals", 0)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok, err := st.Get("a"); !ok || err != nil || v.Sum != 3 {
		t.Fatalf("store: %v %v %v, want a=3", v, ok, err)
	}
}

// TestGroupByKeepsTombstones: GroupBy re-keys a tombstone without making
// it a value, so the count after the repartition drops it.
func TestGroupByKeepsTombstones(t *testing.T) {
	top := topology.New()
	s := topology.StreamOf(top, serde.String, serde.String, "in")
	byLen := topology.GroupBy(s, "by-len", func(k, _ string) string { return fmt.Sprint(len(k)) }, serde.String, serde.String)
	topology.Count(byLen, "counts", serde.String).To("out", serde.String, serde.Int64)
	d := aggDriver(t, top, 2)
	pipeRaw(t, d, "in", "ab", "x", 1, "cd", nil, 2, "ef", "", 3)
	checkOut(t, readAll(t, d, "out", serde.Int64), []string{"2=1@1", "2=2@3"})
}

// TestProcessEmitsAStringTombstone: the documented way to emit a tombstone
// of a type without nil: a processor that forwards r.AsTombstone().
func TestProcessEmitsAStringTombstone(t *testing.T) {
	top := topology.New()
	s := topology.StreamOf(top, serde.String, serde.String, "in")
	topology.Process(s, processor.Func[string, string, string, string](
		func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
			switch {
			case r.IsTombstone():
				ctx.Forward(processor.WithValue(r, "was null"))
			case r.Value == "delete":
				ctx.Forward(r.AsTombstone())
			default:
				ctx.Forward(r)
			}
			return nil
		}).Supplier()).To("out", serde.String, serde.String)
	d := aggDriver(t, top, 1)
	pipeRaw(t, d, "in", "a", "delete", 1, "b", nil, 2, "c", "", 3)
	checkOut(t, readAll(t, d, "out", serde.String), []string{"a=null@1", "b=was null@2", "c=@3"})
}
