package topology_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// orderLine renders the join outputs as key=value lines, "null" for a null
// key.
func orderLines(t *testing.T, d *testkit.Driver, topic string) []string {
	t.Helper()
	var out []string
	for _, r := range readRecords(t, d, topic) {
		k := r.Key
		if r.KeyIsNull() {
			k = "null"
		}
		out = append(out, k+"="+r.Value)
	}
	return out
}

// globalJoinTopology joins orders (order id -> "product:qty") with the
// global table of products (product id -> name) on the product id.
func globalJoinTopology(left bool) *topology.Topology {
	top := topology.New()
	orders := topology.StreamOf(top, serde.String, serde.String, "orders")
	products := topology.GlobalTableOf(top, "products", "products-store", serde.String, serde.String)
	product := func(_, v string) string { p, _, _ := strings.Cut(v, ":"); return p }
	if left {
		topology.LeftJoinGlobal(orders, products, product, func(k, v, name string, found bool) string {
			if !found {
				name = "?"
			}
			return v + "|" + name
		}).To("out", serde.String, serde.String)
	} else {
		topology.JoinGlobal(orders, products, product, func(k, v, name string) string { return v + "|" + name }).
			To("out", serde.String, serde.String)
	}
	return top
}

// The global table sees every partition of its topic, whatever the
// partitioning of the stream: no co-partitioning, no repartition.
func TestJoinGlobal(t *testing.T) {
	top := globalJoinTopology(false)
	if n := subtopologies(t, top); n != 1 {
		t.Fatalf("sub-topologies: got %d, want 1 (a global table makes no task)", n)
	}
	d := driver(t, top, map[string]int32{"orders": 4, "products": 3})
	products := testkit.InputTopic(d, "products", serde.String, serde.String)
	orders := testkit.InputTopic(d, "orders", serde.String, serde.String)
	for _, p := range [][2]string{{"p1", "pen"}, {"p2", "ink"}, {"p3", "pad"}, {"p4", "cup"}} {
		if err := products.Pipe(p[0], p[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := products.PipeRaw(nil, []byte("ignored"), time.UnixMilli(1), nil, 0); err != nil {
		t.Fatal(err)
	}
	for i, v := range []string{"p1:1", "p2:2", "p3:3", "p4:4", "p9:5"} {
		if err := orders.Pipe("o"+string(rune('1'+i)), v); err != nil {
			t.Fatal(err)
		}
	}
	if err := products.Pipe("p1", "pencil"); err != nil {
		t.Fatal(err)
	}
	if err := products.PipeTombstone("p2", time.UnixMilli(2)); err != nil {
		t.Fatal(err)
	}
	if err := orders.Pipe("o6", "p1:6"); err != nil {
		t.Fatal(err)
	}
	if err := orders.Pipe("o7", "p2:7"); err != nil { // deleted: nothing
		t.Fatal(err)
	}
	if err := orders.PipeTombstone("o8", time.UnixMilli(3)); err != nil { // dropped
		t.Fatal(err)
	}
	if err := orders.PipeRaw(nil, []byte("p3:9"), time.UnixMilli(4), nil, 0); err != nil { // joined, key stays null
		t.Fatal(err)
	}
	got := orderLines(t, d, "out")
	slices.Sort(got[:4]) // from four partitions of orders
	want := []string{"o1=p1:1|pen", "o2=p2:2|ink", "o3=p3:3|pad", "o4=p4:4|cup", "o6=p1:6|pencil", "null=p3:9|pad"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	store, err := testkit.GlobalStoreOf[string, string](d, "products-store")
	if err != nil {
		t.Fatal(err)
	}
	if v, ok, err := store.Get("p1"); err != nil || !ok || v != "pencil" {
		t.Errorf("global store p1: got %q %v %v, want pencil", v, ok, err)
	}
	if _, ok, _ := store.Get("p2"); ok {
		t.Error("global store still has p2 after its tombstone")
	}
	if n, _ := store.ApproximateCount(); n != 3 {
		t.Errorf("global store has %d keys, want 3 (the null key ignored)", n)
	}
	if err := store.Put("p5", "x"); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("Put into the global store: got %v, want a read-only error", err)
	}
}

func TestLeftJoinGlobal(t *testing.T) {
	d := driver(t, globalJoinTopology(true), map[string]int32{"orders": 2})
	if err := testkit.InputTopic(d, "products", serde.String, serde.String).Pipe("p1", "pen"); err != nil {
		t.Fatal(err)
	}
	orders := testkit.InputTopic(d, "orders", serde.String, serde.String)
	if err := orders.Pipe("o1", "p1:1"); err != nil {
		t.Fatal(err)
	}
	if err := orders.Pipe("o2", "p2:1"); err != nil {
		t.Fatal(err)
	}
	if err := orders.PipeTombstone("o3", time.UnixMilli(1)); err != nil {
		t.Fatal(err)
	}
	got := orderLines(t, d, "out")
	slices.Sort(got)
	if want := []string{"o1=p1:1|pen", "o2=p2:1|?"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q (a tombstone dropped)", got, want)
	}
}

// A join with a global table keeps the stream's key and partitioning: no
// repartition before it, and one after it only if the key had changed
// before.
func TestJoinGlobalPartitioning(t *testing.T) {
	join := func(s topology.Stream[string, string], g topology.GlobalTable[string, string]) topology.Stream[string, string] {
		return topology.JoinGlobal(s, g, func(_, v string) string { return v }, func(_, v, vg string) string { return vg })
	}
	top := topology.New()
	in := topology.StreamOf(top, serde.String, serde.String, "in")
	g := topology.GlobalTableOf(top, "g", "g-store", serde.String, serde.String)
	topology.Count(join(in, g), "c1", serde.String)
	if n := subtopologies(t, top); n != 1 {
		t.Errorf("join then Count: %d sub-topologies, want 1", n)
	}
	top = topology.New()
	in = topology.StreamOf(top, serde.String, serde.String, "in")
	g = topology.GlobalTableOf(top, "g", "g-store", serde.String, serde.String)
	topology.Count(join(topology.SelectKey(in, func(_, v string) string { return v }), g), "c1", serde.String)
	if n := subtopologies(t, top); n != 2 {
		t.Errorf("SelectKey, join then Count: %d sub-topologies, want 2 (the join keeps the key change)", n)
	}
}

// A topology may write the topic its global table reads: the table sees
// the records written.
func TestGlobalTableOfATopicTheTopologyWrites(t *testing.T) {
	top := topology.New()
	updates := topology.StreamOf(top, serde.String, serde.String, "updates")
	topology.MapValues(updates, func(_, v string) string { return strings.ToUpper(v) }).To("names", serde.String, serde.String)
	names := topology.GlobalTableOf(top, "names", "names-store", serde.String, serde.String)
	lookups := topology.StreamOf(top, serde.String, serde.String, "lookups")
	topology.JoinGlobal(lookups, names, func(k, _ string) string { return k }, func(_, _, n string) string { return n }).
		To("out", serde.String, serde.String)
	d := driver(t, top, nil)
	if err := testkit.InputTopic(d, "updates", serde.String, serde.String).Pipe("a", "ann"); err != nil {
		t.Fatal(err)
	}
	if err := testkit.InputTopic(d, "lookups", serde.String, serde.String).Pipe("a", ""); err != nil {
		t.Fatal(err)
	}
	if got := orderLines(t, d, "out"); !slices.Equal(got, []string{"a=ANN"}) {
		t.Errorf("got %q, want [a=ANN]", got)
	}
}

func TestGlobalTableMistakes(t *testing.T) {
	cases := []struct {
		name  string
		build func(top *topology.Topology)
		want  string
	}{
		{"topic read by a source too", func(top *topology.Topology) {
			topology.StreamOf(top, serde.String, serde.String, "g").To("out", serde.String, serde.String)
			topology.GlobalTableOf(top, "g", "g-store", serde.String, serde.String)
		}, `topic "g" is read by both source`},
		{"two global tables of one topic", func(top *topology.Topology) {
			topology.GlobalTableOf(top, "g", "a", serde.String, serde.String)
			topology.GlobalTableOf(top, "g", "b", serde.String, serde.String)
		}, `read by both global store "a" and global store "b"`},
		{"duplicate store", func(top *topology.Topology) {
			topology.GlobalTableOf(top, "g1", "s", serde.String, serde.String)
			topology.GlobalTableOf(top, "g2", "s", serde.String, serde.String)
		}, `duplicate global store "s"`},
		{"name of another store", func(top *topology.Topology) {
			in := topology.StreamOf(top, serde.String, serde.String, "in")
			topology.Count(in, "s", serde.String)
			topology.GlobalTableOf(top, "g", "s", serde.String, serde.String)
		}, `global store "s" has the name of another store`},
		{"no serde", func(top *topology.Topology) {
			topology.GlobalTableOf[string, string](top, "g", "s", serde.String, nil)
		}, "needs both a key and a value serde"},
		{"another topology's global table", func(top *topology.Topology) {
			in := topology.StreamOf(top, serde.String, serde.String, "in")
			other := topology.GlobalTableOf(topology.New(), "g", "s", serde.String, serde.String)
			topology.JoinGlobal(in, other, func(k, _ string) string { return k }, func(_, v, _ string) string { return v })
		}, "belong to different topologies"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			top := topology.New()
			c.build(top)
			if err := top.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Validate: got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

// A global record whose key or value the serdes cannot read fails the
// update, naming the store.
func TestGlobalTableBadRecord(t *testing.T) {
	top := topology.New()
	in := topology.StreamOf(top, serde.String, serde.String, "in")
	g := topology.GlobalTableOf(top, "g", "g-store", serde.String, serde.Int64)
	topology.JoinGlobal(in, g, func(k, _ string) string { return k }, func(_, v string, n int64) string { return v }).
		To("out", serde.String, serde.String)
	d := driver(t, top, nil)
	err := testkit.InputTopic(d, "g", serde.String, serde.String).Pipe("k", "not eight bytes")
	if err == nil || !strings.Contains(err.Error(), `global store "g-store"`) {
		t.Errorf("Pipe of a bad value: got %v, want an error naming the global store", err)
	}
}

func TestDescribeShowsGlobalStores(t *testing.T) {
	d, err := globalJoinTopology(false).Describe()
	if err != nil {
		t.Fatal(err)
	}
	if len(d.GlobalStores) != 1 || d.GlobalStores[0].Name != "products-store" || d.GlobalStores[0].Topic != "products" ||
		!slices.Equal(d.GlobalStores[0].Processors, []string{"KSTREAM-JOIN-0000000001"}) {
		t.Errorf("GlobalStores: got %+v", d.GlobalStores)
	}
	if s := d.String(); !strings.Contains(s, "Global store: products-store (topic: products)\n      --> KSTREAM-JOIN-0000000001\n") {
		t.Errorf("String does not show the global store:\n%s", s)
	}
	if m := d.Mermaid(); !strings.Contains(m, "t_products --> s_products_store") || !strings.Contains(m, "n_KSTREAM_JOIN_0000000001 --- s_products_store") {
		t.Errorf("Mermaid does not show the global store:\n%s", m)
	}
}
