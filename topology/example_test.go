package topology_test

import (
	"fmt"
	"strings"

	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/topology"
)

// The DSL: read a topic, transform, filter, write a topic.
func Example() {
	t := topology.New()
	words := topology.StreamOf(t, serde.String, serde.String, "sentences")
	topology.MapValues(words, func(_ string, s string) string { return strings.ToUpper(s) }).
		Filter(func(_ string, s string) bool { return s != "" }).
		To("shouted", serde.String, serde.String)

	d, err := t.Describe()
	if err != nil {
		panic(err)
	}
	fmt.Print(d)
	// Output:
	// Topologies:
	//    Sub-topology: 0
	//     Source: KSTREAM-SOURCE-0000000000 (topics: [sentences])
	//       --> KSTREAM-MAPVALUES-0000000001
	//     Processor: KSTREAM-MAPVALUES-0000000001 (stores: [])
	//       --> KSTREAM-FILTER-0000000002
	//       <-- KSTREAM-SOURCE-0000000000
	//     Processor: KSTREAM-FILTER-0000000002 (stores: [])
	//       --> KSTREAM-SINK-0000000003
	//       <-- KSTREAM-MAPVALUES-0000000001
	//     Sink: KSTREAM-SINK-0000000003 (topic: shouted)
	//       <-- KSTREAM-FILTER-0000000002
}

// The low-level builder: named nodes, a processor with a store.
func ExampleAddProcessor() {
	t := topology.New()
	topology.AddSource(t, "clicks", topology.Source[string, string]{Topics: []string{"clicks"}, Key: serde.String, Value: serde.String})
	topology.AddProcessor(t, "count", processor.Func[string, string, string, string](
		func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
			counts, err := processor.GetKeyValueStore[string, string](ctx, "counts")
			if err != nil {
				return err
			}
			n, _, err := counts.Get(r.Key)
			if err != nil {
				return err
			}
			if err := counts.Put(r.Key, n+"|"); err != nil {
				return err
			}
			ctx.Forward(processor.WithValue(r, n+"|"))
			return nil
		}).Supplier(), "clicks")
	topology.AddKeyValueStore(t, topology.KeyValueStore[string, string]{Name: "counts", Key: serde.String, Value: serde.String}, "count")
	topology.AddSink(t, "out", topology.Sink[string, string]{Topic: "click-counts", Key: serde.String, Value: serde.String}, "count")

	d, err := t.Describe()
	if err != nil {
		panic(err)
	}
	fmt.Print(d)
	// Output:
	// Topologies:
	//    Sub-topology: 0
	//     Source: clicks (topics: [clicks])
	//       --> count
	//     Processor: count (stores: [counts])
	//       --> out
	//       <-- clicks
	//     Sink: out (topic: click-counts)
	//       <-- count
}
