package topology_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/topology"
)

func pass() processor.Supplier[string, string, string, string] {
	return processor.Func[string, string, string, string](func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
		ctx.Forward(r)
		return nil
	}).Supplier()
}

func src(t *topology.Topology, name string, topics ...string) {
	topology.AddSource(t, name, topology.Source[string, string]{Topics: topics, Key: serde.String, Value: serde.String})
}

func sink(t *topology.Topology, name, topic string, parents ...string) {
	topology.AddSink(t, name, topology.Sink[string, string]{Topic: topic, Key: serde.String, Value: serde.String}, parents...)
}

func TestValidateNamesTheNode(t *testing.T) {
	cases := []struct {
		name  string
		build func(*topology.Topology)
		want  []string
	}{
		{"unknown parent", func(tp *topology.Topology) {
			src(tp, "in", "a")
			topology.AddProcessor(tp, "p", pass(), "nope")
			sink(tp, "out", "b", "p")
		}, []string{`processor "p" has unknown parent "nope"`}},
		{"cycle", func(tp *topology.Topology) {
			src(tp, "in", "a")
			topology.AddProcessor(tp, "p1", pass(), "in", "p2")
			topology.AddProcessor(tp, "p2", pass(), "p1")
			sink(tp, "out", "b", "p2")
		}, []string{"cycle through node"}},
		{"duplicate name", func(tp *topology.Topology) {
			src(tp, "in", "a")
			topology.AddProcessor(tp, "in", pass(), "in")
		}, []string{`duplicate node name "in"`}},
		{"sink without parent", func(tp *topology.Topology) {
			src(tp, "in", "a")
			sink(tp, "out", "b")
		}, []string{`sink "out" has no parent`}},
		{"store not connected", func(tp *topology.Topology) {
			src(tp, "in", "a")
			sink(tp, "out", "b", "in")
			topology.AddKeyValueStore(tp, topology.KeyValueStore[string, int64]{Name: "counts", Key: serde.String, Value: serde.JSON[int64]()})
		}, []string{`store "counts" is not connected to any processor`}},
		{"store on unknown processor", func(tp *topology.Topology) {
			src(tp, "in", "a")
			sink(tp, "out", "b", "in")
			topology.AddKeyValueStore(tp, topology.KeyValueStore[string, int64]{Name: "counts", Key: serde.String, Value: serde.JSON[int64]()}, "ghost")
		}, []string{`store "counts" is connected to unknown processor "ghost"`}},
		{"topic read twice", func(tp *topology.Topology) {
			src(tp, "in1", "a")
			src(tp, "in2", "a")
		}, []string{`topic "a" is read by both source "in1" and source "in2"`}},
		{"missing serde", func(tp *topology.Topology) {
			topology.AddSource(tp, "in", topology.Source[string, string]{Topics: []string{"a"}, Key: serde.String})
		}, []string{`source "in" needs both a key and a value serde`}},
		{"sink parent", func(tp *topology.Topology) {
			src(tp, "in", "a")
			sink(tp, "out", "b", "in")
			sink(tp, "out2", "c", "out")
		}, []string{`sink "out" cannot be the parent of "out2"`}},
		{"several errors at once", func(tp *topology.Topology) {
			src(tp, "in", "a")
			topology.AddProcessor(tp, "p", pass(), "x")
			sink(tp, "out", "b")
		}, []string{`unknown parent "x"`, `sink "out" has no parent`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tp := topology.New()
			c.build(tp)
			err := tp.Validate()
			if err == nil {
				t.Fatal("Validate returned nil")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestDescribeMatchesKafkaStreamsFormat(t *testing.T) {
	tp := topology.New()
	s := topology.StreamOf(tp, serde.String, serde.String, "input")
	s.Filter(func(_, v string) bool { return v != "" }).To("output", serde.String, serde.String)
	other := topology.StreamOf(tp, serde.String, serde.String, "clicks")
	topology.AddProcessor(tp, "counter", pass(), other.Node())
	topology.AddKeyValueStore(tp, topology.KeyValueStore[string, string]{Name: "counts", Key: serde.String, Value: serde.String}, "counter")
	sink(tp, "counts-sink", "counts-out", "counter")

	d, err := tp.Describe()
	if err != nil {
		t.Fatal(err)
	}
	want := `Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [input])
      --> KSTREAM-FILTER-0000000001
    Processor: KSTREAM-FILTER-0000000001 (stores: [])
      --> KSTREAM-SINK-0000000002
      <-- KSTREAM-SOURCE-0000000000
    Sink: KSTREAM-SINK-0000000002 (topic: output)
      <-- KSTREAM-FILTER-0000000001

   Sub-topology: 1
    Source: KSTREAM-SOURCE-0000000003 (topics: [clicks])
      --> counter
    Processor: counter (stores: [counts])
      --> counts-sink
      <-- KSTREAM-SOURCE-0000000003
    Sink: counts-sink (topic: counts-out)
      <-- counter

`
	if got := d.String(); got != want {
		t.Errorf("Describe() =\n%s\nwant\n%s", got, want)
	}
	m := d.Mermaid()
	for _, w := range []string{"flowchart TD", `subgraph sub1["Sub-topology 1"]`, `t_clicks(["clicks"])`, `s_counts[("counts")]`, "n_counter --- s_counts", "n_KSTREAM_SINK_0000000002 --> t_output"} {
		if !strings.Contains(m, w) {
			t.Errorf("Mermaid output lacks %q:\n%s", w, m)
		}
	}
}

func TestTypeMismatchBetweenNodesFailsAtBuild(t *testing.T) {
	tp := topology.New()
	src(tp, "in", "a")
	// The processor expects int64 values but the source emits strings.
	topology.AddProcessor(tp, "p", processor.Func[string, int64, string, int64](func(processor.Context[string, int64], processor.Record[string, int64]) error { return nil }).Supplier(), "in")
	err := tp.Validate()
	if err == nil || !strings.Contains(err.Error(), `node "in" emits records of key string and value string, which child "p" cannot receive`) {
		t.Fatalf("Validate = %v, want a type mismatch naming both nodes", err)
	}
}

// Compiling for one application id copies the topology: a second compile
// for another id changes neither the first result nor the topology.
func TestCompileCopies(t *testing.T) {
	top := topology.New()
	s := topology.StreamOf(top, serde.String, serde.String, "clicks")
	topology.Aggregate(topology.GroupBy(s, "by-user", func(_, v string) string { return v }, serde.String, serde.String),
		"counts", func() int64 { return 0 }, func(_, _ string, n int64) int64 { return n + 1 }, serde.String, serde.Int64).
		To("out", serde.String, serde.Int64)
	a, err := top.Compile("app-a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := top.Compile("app-b")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := a.InternalTopics(), []string{"app-a-by-user-repartition", "app-a-counts-changelog"}; !slices.Equal(got, want) {
		t.Errorf("app-a internal topics %q, want %q", got, want)
	}
	if got, want := b.SourceTopics(), []string{"app-b-by-user-repartition", "clicks"}; !slices.Equal(got, want) {
		t.Errorf("app-b source topics %q, want %q", got, want)
	}
	if a.ApplicationID() != "app-a" || a.Subtopologies() != 2 {
		t.Errorf("app-a: id %q, %d sub-topologies", a.ApplicationID(), a.Subtopologies())
	}
	d, err := top.Describe()
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range d.Subtopologies {
		for _, n := range st.Nodes {
			for _, topic := range append(n.Topics, n.Topic) {
				if strings.HasPrefix(topic, "app-") {
					t.Errorf("the topology itself was renamed: node %q reads/writes %q", n.Name, topic)
				}
			}
		}
	}
}

// TestTopicsAreTheInputTopics: Topics lists the input topics, not the
// repartition topic a GroupBy adds (whose name needs the application id).
func TestTopicsAreTheInputTopics(t *testing.T) {
	top := topology.New()
	orders := topology.StreamOf(top, serde.String, serde.String, "orders")
	topology.Count(topology.SelectKey(orders, func(_, v string) string { return v }), "by-item", serde.String).
		To("counts", serde.String, serde.Int64)
	if got := top.Topics(); len(got) != 1 || got[0] != "orders" {
		t.Fatalf("Topics() = %q, want [orders]", got)
	}
}
