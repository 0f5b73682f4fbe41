package topology_test

import (
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

// storeContents returns the entries of a key-value store of partition 0 as
// key=value, in key order.
func storeContents[V any](t *testing.T, d *testkit.Driver, store string) []string {
	t.Helper()
	st, err := testkit.KeyValueStoreOf[string, V](d, store, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for kv, err := range st.All() {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s=%v", kv.Key, kv.Value))
	}
	return out
}

// TestTableUpsertsDeletesAndDropsNullKeys: a table source keeps the latest
// value of a key, deletes it on a tombstone, forwards every update (a
// tombstone also for a key it never had) with its own time, and drops a
// record with a null key.
func TestTableUpsertsDeletesAndDropsNullKeys(t *testing.T) {
	top := topology.New()
	topology.TableOf(top, "in", "tbl", serde.String, serde.String).ToStream().To("out", serde.String, serde.String)
	d := aggDriver(t, top, 1)
	pipeRaw(t, d, "in",
		"a", "1", 10,
		"b", "2", 20,
		"a", "3", 5, // out of order: still the latest update
		nil, "x", 30,
		"b", nil, 40,
		"never", nil, 50,
		"", "", 60)
	checkOut(t, readAll(t, d, "out", serde.String), []string{"a=1@10", "b=2@20", "a=3@5", "b=null@40", "never=null@50", "=@60"})
	checkOut(t, storeContents[string](t, d, "tbl"), []string{"=", "a=3"})
}

// TestTableStoreIsLogged: the table's store has its own changelog, and
// the source and the store's processor make one sub-topology.
func TestTableStoreIsLogged(t *testing.T) {
	top := topology.New()
	topology.TableOf(top, "in", "tbl", serde.String, serde.String).ToStream().To("out", serde.String, serde.String)
	c, err := top.Compile("app")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.InternalTopics(); !slices.Equal(got, []string{"app-tbl-changelog"}) {
		t.Fatalf("internal topics %v, want [app-tbl-changelog]", got)
	}
	if n := c.Subtopologies(); n != 1 {
		t.Fatalf("%d sub-topologies, want 1", n)
	}
}

// TestTableOfDuplicateStore: two tables in one store is a build error.
func TestTableOfDuplicateStore(t *testing.T) {
	top := topology.New()
	topology.TableOf(top, "a", "tbl", serde.String, serde.String).ToStream().To("out", serde.String, serde.String)
	topology.TableOf(top, "b", "tbl", serde.String, serde.String).ToStream().To("out2", serde.String, serde.String)
	if err := top.Validate(); err == nil || !strings.Contains(err.Error(), `duplicate store name "tbl"`) {
		t.Fatalf("Validate = %v, want a duplicate store error", err)
	}
}

// TestTableFilter: an update the predicate rejects deletes the key from
// the filtered table, forwarded as a tombstone only when the filtered
// table had it; the predicate never sees a tombstone.
func TestTableFilter(t *testing.T) {
	top := topology.New()
	var seen []string
	topology.TableOf(top, "in", "tbl", serde.String, serde.String).
		Filter(func(k, v string) bool { seen = append(seen, k+"="+v); return !strings.HasPrefix(v, "x") }).
		ToStream().To("out", serde.String, serde.String)
	d := aggDriver(t, top, 1)
	pipeRaw(t, d, "in",
		"a", "1", 10, // in
		"a", "x", 20, // leaves: tombstone
		"a", "x2", 30, // still out: nothing
		"a", nil, 40, // deleted while out: nothing
		"b", "x", 50, // never in: nothing
		"c", nil, 60, // never seen: nothing
		"b", "2", 70, // in
		"b", nil, 80, // deleted while in: tombstone
		"b", "3", 90, // in again
		"b", "4", 100) // updated while in
	checkOut(t, readAll(t, d, "out", serde.String), []string{"a=1@10", "a=null@20", "b=2@70", "b=null@80", "b=3@90", "b=4@100"})
	for _, s := range seen {
		if s == "a=" || s == "b=" || s == "c=" {
			t.Errorf("the predicate saw a tombstone: %q (all calls: %q)", s, seen)
		}
	}
	// The source's store keeps the unfiltered table.
	checkOut(t, storeContents[string](t, d, "tbl"), []string{"b=4"})
}

// TestTableFilterNot: FilterNot is Filter with the predicate negated.
func TestTableFilterNot(t *testing.T) {
	top := topology.New()
	topology.TableOf(top, "in", "tbl", serde.String, serde.String).
		FilterNot(func(_, v string) bool { return v == "drop" }).
		ToStream().To("out", serde.String, serde.String)
	d := aggDriver(t, top, 1)
	pipeRaw(t, d, "in", "a", "keep", 1, "a", "drop", 2, "b", "drop", 3)
	checkOut(t, readAll(t, d, "out", serde.String), []string{"a=keep@1", "a=null@2"})
}

// TestTableMapValues: values are mapped with key, time and headers kept;
// a tombstone stays one and is not given to the mapper; a filter after
// the mapping sees the mapped values, old and new.
func TestTableMapValues(t *testing.T) {
	top := topology.New()
	tb := topology.TableOf(top, "in", "tbl", serde.String, serde.String)
	var mapped []string
	upper := topology.TableMapValues(tb, func(k, v string) int64 {
		mapped = append(mapped, k+"="+v)
		return int64(len(v))
	})
	upper.ToStream().To("lens", serde.String, serde.Int64)
	upper.Filter(func(_ string, n int64) bool { return n > 1 }).ToStream().To("long", serde.String, serde.Int64)
	d := aggDriver(t, top, 1)
	in := testkit.InputTopic(d, "in", serde.String, serde.String)
	if err := in.PipeRecord(processor.Record[string, string]{Key: "a", Value: "xy", Timestamp: time.UnixMilli(1), Headers: []processor.Header{{Key: "h", Value: []byte("1")}}}, -1); err != nil {
		t.Fatal(err)
	}
	pipeRaw(t, d, "in", "a", "z", 20, "a", nil, 30, "b", nil, 40, "b", "", 50)
	checkOut(t, readAll(t, d, "lens", serde.Int64), []string{"a=2@1", "a=1@20", "a=null@30", "b=null@40", "b=0@50"})
	checkOut(t, readAll(t, d, "long", serde.Int64), []string{"a=2@1", "a=null@20"})
	// The mapper maps new and old values, never a tombstone (b's first
	// record).
	checkOut(t, mapped, []string{"a=xy", "a=z", "a=xy", "a=z", "b="})
	r, err := testkit.OutputTopic(d, "lens", serde.String, serde.Int64).ReadRecord()
	if err != nil {
		t.Fatal(err)
	}
	if h, ok := r.Header("h"); !ok || string(h) != "1" {
		t.Fatalf("first update's header h = %q, %v; want \"1\"", h, ok)
	}
}
