package testkit_test

import (
	"fmt"
	"strings"

	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// Test a topology in microseconds, without a broker.
func ExampleDriver() {
	top := topology.New()
	sentences := topology.StreamOf(top, serde.String, serde.String, "sentences")
	words := topology.FlatMap(sentences, func(_ string, s string) []processor.KeyValue[string, string] {
		var out []processor.KeyValue[string, string]
		for _, w := range strings.Fields(s) {
			out = append(out, processor.KeyValue[string, string]{Key: w, Value: w})
		}
		return out
	})
	counts := topology.Aggregate(
		topology.GroupBy(words, "by-word", func(_, w string) string { return strings.ToLower(w) }, serde.String, serde.String),
		"word-counts", func() int64 { return 0 }, func(_, _ string, n int64) int64 { return n + 1 },
		serde.String, serde.Int64)
	counts.To("word-counts", serde.String, serde.Int64)

	d, err := testkit.NewDriver(top, testkit.DriverConfig{DefaultPartitions: 3})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "sentences", serde.String, serde.String)
	for _, s := range []string{"Kafka samsa", "kafka Gregor", "KAFKA"} {
		if err := in.Pipe("", s); err != nil {
			panic(err)
		}
	}
	final, err := testkit.ReadKeyValuesToMap(testkit.OutputTopic(d, "word-counts", serde.String, serde.Int64))
	if err != nil {
		panic(err)
	}
	fmt.Println(final["kafka"], final["samsa"], final["gregor"])

	store, err := testkit.KeyValueStoreOf[string, int64](d, "word-counts", 0)
	if err != nil {
		panic(err)
	}
	n, _ := store.ApproximateCount()
	fmt.Println(n <= 3)
	// Output:
	// 3 1 1
	// true
}
