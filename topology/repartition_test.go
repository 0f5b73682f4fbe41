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

// subtopologies counts the sub-topologies of top: one more per repartition
// topic.
func subtopologies(t *testing.T, top *topology.Topology) int {
	t.Helper()
	n, err := top.Subtopologies()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestStatefulOperatorsRepartitionAfterAKeyChangeOnly(t *testing.T) {
	swap := func(k, v string) (string, string) { return v, k }
	cases := []struct {
		name  string
		build func(top *topology.Topology, in topology.Stream[string, string])
		subs  int
	}{
		{"Count on the source", func(_ *topology.Topology, in topology.Stream[string, string]) {
			topology.Count(in, "c", serde.String)
		}, 1},
		{"MapValues, Filter, Peek keep the key", func(_ *topology.Topology, in topology.Stream[string, string]) {
			s := topology.MapValues(in, func(_, v string) int64 { return int64(len(v)) }).
				Filter(func(string, int64) bool { return true }).Peek(func(string, int64) {})
			topology.Count(s, "c", serde.String)
		}, 1},
		{"Map then Count", func(_ *topology.Topology, in topology.Stream[string, string]) {
			topology.Count(topology.Map(in, swap), "c", serde.String)
		}, 2},
		{"Map, MapValues, Filter then Count", func(_ *topology.Topology, in topology.Stream[string, string]) {
			s := topology.MapValues(topology.Map(in, swap), func(_, v string) string { return v }).Filter(func(_, _ string) bool { return true })
			topology.Count(s, "c", serde.String)
		}, 2},
		{"FlatMap then Reduce", func(_ *topology.Topology, in topology.Stream[string, string]) {
			s := topology.FlatMap(in, func(k, v string) []processor.KeyValue[string, string] {
				return []processor.KeyValue[string, string]{{Key: v, Value: k}}
			})
			topology.Reduce(s, "r", func(a, v string) string { return a + v }, serde.String, serde.String)
		}, 2},
		{"MapErr then Aggregate of a standard value type", func(_ *topology.Topology, in topology.Stream[string, string]) {
			s := topology.MapErr(in, func(k, v string) (string, int64, error) { return v, int64(len(k)), nil })
			topology.Aggregate(s, "a", func() int64 { return 0 }, func(_ string, v, a int64) int64 { return a + v }, serde.String, serde.Int64)
		}, 2},
		{"Process then Count", func(_ *topology.Topology, in topology.Stream[string, string]) {
			s := topology.Process(in, processor.Func[string, string, string, string](func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
				ctx.Forward(r)
				return nil
			}).Supplier())
			topology.Count(s, "c", serde.String)
		}, 2},
		{"GroupBy then Count: no second repartition", func(_ *topology.Topology, in topology.Stream[string, string]) {
			topology.Count(topology.GroupBy(in, "g", func(_, v string) string { return v }, serde.String, serde.String), "c", serde.String)
		}, 2},
		{"Map, Repartition then Count: no second repartition", func(_ *topology.Topology, in topology.Stream[string, string]) {
			topology.Count(topology.Repartition(topology.Map(in, swap), "rp", serde.String, serde.String), "c", serde.String)
		}, 2},
		{"Merge of a rekeyed stream and a source", func(top *topology.Topology, in topology.Stream[string, string]) {
			other := topology.StreamOf(top, serde.String, serde.String, "other")
			topology.Count(other.Merge(topology.Map(in, swap)), "c", serde.String)
		}, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			top := topology.New()
			c.build(top, topology.StreamOf(top, serde.String, serde.String, "in"))
			if got := subtopologies(t, top); got != c.subs {
				d, _ := top.Describe()
				t.Fatalf("%d sub-topologies, want %d:\n%s", got, c.subs, d)
			}
		})
	}
}

// TestRepartitionWithoutAValueSerdeIsAValidationError: after a key change,
// a value type samsa has no standard serde for cannot be written to the
// repartition topic; Validate names the operator, the node that changed the
// key and the fix, instead of aggregating per input partition.
func TestRepartitionWithoutAValueSerdeIsAValidationError(t *testing.T) {
	type click struct{ User, Page string }
	type view struct{ User string }
	top := topology.New()
	in := topology.StreamOf(top, serde.String, serde.JSON[click](), "clicks")
	byPage := topology.Map(in, func(_ string, c click) (string, view) { return c.Page, view{c.User} })
	topology.Aggregate(byPage, "per-page", func() int64 { return 0 }, func(_ string, _ view, n int64) int64 { return n + 1 }, serde.String, serde.Int64)
	err := top.Validate()
	if err == nil {
		t.Fatal("Validate accepted an aggregation after a key change with no serde for its values")
	}
	for _, want := range []string{`Aggregate "per-page"`, "KSTREAM-MAP-0000000001", "topology.Repartition"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	// The value serde of the source survives a Map that keeps the value
	// type, so the same topology without changing the value type is fine.
	top2 := topology.New()
	in2 := topology.StreamOf(top2, serde.String, serde.JSON[click](), "clicks")
	byPage2 := topology.Map(in2, func(_ string, c click) (string, click) { return c.Page, c })
	topology.Aggregate(byPage2, "per-page", func() int64 { return 0 }, func(_ string, _ click, n int64) int64 { return n + 1 }, serde.String, serde.Int64)
	if err := top2.Validate(); err != nil {
		t.Fatalf("Map keeping the value type: %v", err)
	}
}

func TestProcessValuesKeepsThePartitioning(t *testing.T) {
	top := topology.New()
	in := topology.StreamOf(top, serde.String, serde.String, "in")
	s := topology.ProcessValues(in, processor.Func[string, string, string, int64](func(ctx processor.Context[string, int64], r processor.Record[string, string]) error {
		ctx.Forward(processor.WithValue(r, int64(len(r.Value))))
		return nil
	}).Supplier())
	topology.Count(s, "c", serde.String)
	if got := subtopologies(t, top); got != 1 {
		t.Fatalf("ProcessValues then Count: %d sub-topologies, want 1 (no repartition)", got)
	}
}

func TestWindowedAggregationsRepartitionAfterAKeyChange(t *testing.T) {
	swap := func(k, v string) (string, string) { return v, k }
	minute := topology.TumblingWindows(time.Minute)
	for name, build := range map[string]func(s topology.Stream[string, string]){
		"WindowedCount": func(s topology.Stream[string, string]) { topology.WindowedCount(s, minute, "w", serde.String) },
		"WindowedReduce": func(s topology.Stream[string, string]) {
			topology.WindowedReduce(s, minute, "w", func(a, v string) string { return a + v }, serde.String, serde.String)
		},
		"WindowedAggregate": func(s topology.Stream[string, string]) {
			topology.WindowedAggregate(s, minute, "w", func() int64 { return 0 }, func(_, _ string, n int64) int64 { return n + 1 }, serde.String, serde.Int64)
		},
		"SessionCount": func(s topology.Stream[string, string]) {
			topology.SessionCount(s, topology.SessionWindows(time.Minute), "w", serde.String)
		},
	} {
		t.Run(name, func(t *testing.T) {
			top := topology.New()
			build(topology.Map(topology.StreamOf(top, serde.String, serde.String, "in"), swap))
			if got := subtopologies(t, top); got != 2 {
				t.Fatalf("%s after Map: %d sub-topologies, want 2 (a repartition)", name, got)
			}
			top = topology.New()
			build(topology.StreamOf(top, serde.String, serde.String, "in"))
			if got := subtopologies(t, top); got != 1 {
				t.Fatalf("%s on the source: %d sub-topologies, want 1", name, got)
			}
		})
	}
}

// TestJoinRepartitionsARekeyedStream: a stream re-keyed by Map and joined
// with a table is read through a repartition topic (named after the join)
// with the partition count of the table's topic, so every order meets its
// customer: on four partitions, without it, most orders would look their
// customer up in the wrong task and find nothing.
func TestJoinRepartitionsARekeyedStream(t *testing.T) {
	top := topology.New()
	orders := topology.StreamOf(top, serde.String, serde.String, "orders") // keyed by order id, value = customer id
	byCustomer := topology.Map(orders, func(order, customer string) (string, string) { return customer, order })
	customers := topology.TableOf(top, "customers", "customers-store", serde.String, serde.String)
	topology.Join(byCustomer, customers, func(_, order, name string) string { return order + " for " + name }).
		To("enriched", serde.String, serde.String)
	d, err := testkit.NewDriver(top, testkit.DriverConfig{DefaultPartitions: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	cin := testkit.InputTopic(d, "customers", serde.String, serde.String)
	oin := testkit.InputTopic(d, "orders", serde.String, serde.String)
	for i := range 8 {
		if err := cin.Pipe(fmt.Sprintf("c%d", i), fmt.Sprintf("name%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 40 {
		if err := oin.Pipe(fmt.Sprintf("o%d", i), fmt.Sprintf("c%d", i%8)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := testkit.OutputTopic(d, "enriched", serde.String, serde.String).ReadValues()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 40 {
		t.Fatalf("%d of 40 orders joined: %v", len(got), got)
	}
	desc, _ := top.Describe()
	if !strings.Contains(desc.String(), "customers-store-join-repartition") {
		t.Fatalf("no repartition named after the table's store before the join:\n%s", desc)
	}
}

// TestNilFunctionsAreValidationErrors: a nil function given to the DSL
// fails Validate with the operator and the parameter, instead of panicking
// on the first record.
func TestNilFunctionsAreValidationErrors(t *testing.T) {
	top := topology.New()
	in := topology.StreamOf(top, serde.String, serde.String, "in")
	topology.Map[string, string, string, string](in, nil)
	in.Filter(nil)
	topology.Aggregate(in, "agg", func() int64 { return 0 }, nil, serde.String, serde.Int64)
	topology.Reduce(in, "red", nil, serde.String, serde.String)
	in.Branch(func(_, _ string) bool { return true }, nil)
	customers := topology.TableOf(top, "customers", "customers", serde.String, serde.String)
	topology.Join[string, string, string, string](in, customers, nil)
	err := top.Validate()
	if err == nil {
		t.Fatal("Validate accepted nil functions")
	}
	for _, want := range []string{
		"topology: Map: fn is nil",
		"topology: Filter: keep is nil",
		`topology: Aggregate "agg": add is nil`,
		`topology: Reduce "red": reducer is nil`,
		"topology: Branch: predicate 1 is nil",
		"topology: Join: joiner is nil",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error lacks %q:\n%v", want, err)
		}
	}
	if _, err := testkit.NewDriver(top, testkit.DriverConfig{}); err == nil {
		t.Error("NewDriver accepted nil functions")
	}
}

// TestAddingOperatorsRenamesNoTopic: the same application with stateless
// operators added upstream (which shifts every generated node name) keeps
// the names of its changelogs and repartition topics, so an upgraded
// application finds its state again.
func TestAddingOperatorsRenamesNoTopic(t *testing.T) {
	build := func(extra bool) *topology.Topology {
		top := topology.New()
		in := topology.StreamOf(top, serde.String, serde.String, "orders")
		if extra {
			in = topology.MapValues(in.Filter(func(_, v string) bool { return v != "" }).Peek(func(string, string) {}),
				func(_, v string) string { return v })
		}
		customers := topology.TableOf(top, "customers", "customers-store", serde.String, serde.String)
		byCustomer := topology.Map(in, func(k, v string) (string, string) { return v, k })
		topology.Join(byCustomer, customers, func(_, o, c string) string { return o + c }).To("enriched", serde.String, serde.String)
		topology.Count(topology.Map(in, func(_, v string) (string, string) { return v, v }), "per-value", serde.String).
			To("counts", serde.String, serde.Int64)
		topology.WindowedCount(topology.GroupBy(in, "by-key", func(k, _ string) string { return k }, serde.String, serde.String),
			topology.TumblingWindows(time.Minute), "per-minute", serde.String).
			To("per-minute", topology.TimeWindowedSerde(serde.String, time.Minute), serde.Int64)
		return top
	}
	topics := func(top *topology.Topology) string {
		c, err := top.Compile("app")
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(c.InternalTopics(), " ")
	}
	before, after := topics(build(false)), topics(build(true))
	if before != after {
		t.Fatalf("internal topics changed when operators were added:\nbefore %s\nafter  %s", before, after)
	}
	for _, want := range []string{"app-customers-store-changelog", "app-customers-store-join-repartition", "app-per-value-repartition",
		"app-per-value-changelog", "app-by-key-repartition", "app-per-minute-changelog"} {
		if !strings.Contains(before, want) {
			t.Errorf("internal topics %s lack %s", before, want)
		}
	}
}

// TestJoinStreamsRepartitionsARekeyedSide: a click stream re-keyed by user
// is joined with a stream keyed by user on four partitions: every click
// meets its user's view within the window.
func TestJoinStreamsRepartitionsARekeyedSide(t *testing.T) {
	top := topology.New()
	clicks := topology.StreamOf(top, serde.String, serde.String, "clicks") // key: click id, value: user
	views := topology.StreamOf(top, serde.String, serde.String, "views")   // key: user
	byUser := topology.Map(clicks, func(id, user string) (string, string) { return user, id })
	topology.JoinStreams(byUser, views, "click-view", topology.JoinTimeDifference(time.Minute),
		func(user, click, view string) string { return click + "@" + view }, serde.String, serde.String, serde.String).
		To("joined", serde.String, serde.String)
	d, err := testkit.NewDriver(top, testkit.DriverConfig{DefaultPartitions: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	vin := testkit.InputTopic(d, "views", serde.String, serde.String)
	cin := testkit.InputTopic(d, "clicks", serde.String, serde.String)
	at := time.Unix(1000, 0)
	for i := range 10 {
		if err := vin.PipeAt(fmt.Sprintf("u%d", i), fmt.Sprintf("view%d", i), at); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 40 {
		if err := cin.PipeAt(fmt.Sprintf("c%d", i), fmt.Sprintf("u%d", i%10), at.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := testkit.OutputTopic(d, "joined", serde.String, serde.String).ReadValues()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 40 {
		t.Fatalf("%d of 40 clicks joined", len(got))
	}
	c, err := top.Compile("app")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(c.InternalTopics(), " "), "app-click-view-left-repartition") {
		t.Fatalf("internal topics %v", c.InternalTopics())
	}
}

// TestCogroupOnFourPartitions: two streams cogrouped by user, one of them
// re-keyed first (repartitioned by itself), give one aggregate per user
// with every record of both.
func TestCogroupOnFourPartitions(t *testing.T) {
	top := topology.New()
	logins := topology.StreamOf(top, serde.String, serde.String, "logins") // key: user
	orders := topology.StreamOf(top, serde.String, serde.String, "orders") // key: order id, value: user
	byUser := topology.Map(orders, func(id, user string) (string, string) { return user, id })
	c := topology.Cogroup(logins, func(_, _ string, n int64) int64 { return n + 1 })
	c = topology.CogroupWith(c, byUser, func(_, _ string, n int64) int64 { return n + 100 })
	c.Aggregate("activity", func() int64 { return 0 }, serde.String, serde.Int64).To("activity", serde.String, serde.Int64)
	d, err := testkit.NewDriver(top, testkit.DriverConfig{DefaultPartitions: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	lin := testkit.InputTopic(d, "logins", serde.String, serde.String)
	oin := testkit.InputTopic(d, "orders", serde.String, serde.String)
	for i := range 20 {
		if err := lin.Pipe(fmt.Sprintf("u%d", i%5), "x"); err != nil {
			t.Fatal(err)
		}
		if err := oin.Pipe(fmt.Sprintf("o%d", i), fmt.Sprintf("u%d", i%5)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := testkit.ReadKeyValuesToMap(testkit.OutputTopic(d, "activity", serde.String, serde.Int64))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if u := fmt.Sprintf("u%d", i); got[u] != 404 {
			t.Errorf("%s: %d, want 404 (4 logins, 4 orders)", u, got[u])
		}
	}
}
