package conformance

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/topology"
)

// topologies are the samsa side of every conformance topology, by name. Each
// one has a twin of the same name in
// streams/src/main/java/io/github/samsastreams/conformance/Topologies.java
// built with Kafka Streams' DSL; the two must stay the same program. Where
// samsa's DSL has no operator of Kafka Streams (selectKey, groupByKey, count,
// a table), the topology says it with the existing DSL as a user would.
var topologies = map[string]func() *topology.Topology{
	"passthrough": func() *topology.Topology {
		top, in := source()
		in.Filter(func(_, _ string) bool { return true }).To("out", serde.String, serde.String)
		return top
	},
	"filter": func() *topology.Topology {
		top, in := source()
		in.Filter(func(_, v string) bool { return !strings.HasPrefix(v, "x") }).To("out", serde.String, serde.String)
		return top
	},
	"filterNot": func() *topology.Topology {
		top, in := source()
		in.FilterNot(func(k, v string) bool { return v == "" || v == k }).To("out", serde.String, serde.String)
		return top
	},
	"mapValues": func() *topology.Topology {
		top, in := source()
		topology.MapValues(in, func(k, v string) string { return k + ":" + strings.ToUpper(v) }).
			To("out", serde.String, serde.String)
		return top
	},
	"map": func() *topology.Topology {
		top, in := source()
		topology.Map(in, func(k, v string) (string, string) { return v, k }).To("out", serde.String, serde.String)
		return top
	},
	"flatMap": func() *topology.Topology {
		top, in := source()
		topology.FlatMap(in, func(k, v string) []processor.KeyValue[string, string] {
			var out []processor.KeyValue[string, string]
			for _, part := range strings.Split(v, ",") {
				if part != "" {
					out = append(out, processor.KeyValue[string, string]{Key: k + "#" + strconv.Itoa(len(out)), Value: part})
				}
			}
			return out
		}).To("out", serde.String, serde.String)
		return top
	},
	// selectKey: a Map that keeps the value.
	"selectKey": func() *topology.Topology {
		top, in := source()
		topology.Map(in, func(_, v string) (string, string) { return firstLetter(v), v }).To("out", serde.String, serde.String)
		return top
	},
	// split().branch(a).branch(b).defaultBranch(other): the default branch
	// is a last predicate that accepts everything.
	"branch": func() *topology.Topology {
		top, in := source()
		b := in.Branch(
			func(_, v string) bool { return strings.HasPrefix(v, "a") },
			func(_, v string) bool { return strings.Contains(v, "b") },
			func(_, _ string) bool { return true },
		)
		b[0].To("out-a", serde.String, serde.String)
		b[1].To("out-b", serde.String, serde.String)
		b[2].To("out-other", serde.String, serde.String)
		return top
	},
	"merge": func() *topology.Topology {
		top := topology.New()
		a := topology.StreamOf(top, serde.String, serde.String, "in-a")
		b := topology.StreamOf(top, serde.String, serde.String, "in-b")
		a.Merge(b).To("out", serde.String, serde.String)
		return top
	},
	"peek": func() *topology.Topology {
		top, in := source()
		peeked = nil
		in.Peek(func(k, v string) { peeked = append(peeked, k+"="+v) }).To("out", serde.String, serde.String)
		return top
	},
	// groupByKey().count().toStream(): Count, no repartition since the key
	// is unchanged.
	"count": func() *topology.Topology {
		top, in := source()
		topology.Count(in, "count-store", serde.String).To("counts", serde.String, serde.Int64)
		return top
	},
	// groupBy(value).count().toStream(): GroupBy (a re-keying and a
	// repartition topic, as Kafka Streams' by-value-repartition) then Count.
	"groupByCount": func() *topology.Topology {
		top, in := source()
		byValue := topology.GroupBy(in, "by-value", func(_, v string) string { return v }, serde.String, serde.String)
		topology.Count(byValue, "count-store", serde.String).To("counts", serde.String, serde.Int64)
		return top
	},
	// groupByKey().reduce((agg, v) -> agg + "+" + v).toStream(): Reduce.
	"reduce": func() *topology.Topology {
		top, in := source()
		topology.Reduce(in, "reduce-store", func(agg, v string) string { return agg + "+" + v }, serde.String, serde.String).
			To("out", serde.String, serde.String)
		return top
	},
	// mapValues(v -> v) over JSON objects: samsa reads and writes them as
	// *jsonValue with serde.JSON, Kafka Streams as Strings; the bytes
	// (canonical JSON as encoding/json writes it) and the nulls must agree,
	// so a nil pointer must be written as a tombstone, not as null.
	"jsonPassthrough": func() *topology.Topology {
		top := topology.New()
		in := topology.StreamOf(top, serde.String, serde.JSON[*jsonValue](), "in")
		topology.MapValues(in, func(_ string, v *jsonValue) *jsonValue { return v }).
			To("out", serde.String, serde.JSON[*jsonValue]())
		return top
	},
	// merge, peek, filterNot and split with tombstones and null keys: the
	// stateless operators pass them on unchanged. Kafka Streams'
	// predicates test for null; samsa's see "" for a null, which they
	// treat as Kafka Streams' treat null.
	"tombstoneOperators": func() *topology.Topology {
		top := topology.New()
		a := topology.StreamOf(top, serde.String, serde.String, "in-a")
		b := topology.StreamOf(top, serde.String, serde.String, "in-b")
		br := a.Merge(b).
			Peek(func(_, _ string) {}).
			FilterNot(func(_, v string) bool { return v == "drop" }).
			Branch(
				func(_, v string) bool { return strings.HasPrefix(v, "a") },
				func(_, _ string) bool { return true },
			)
		br[0].To("out-a", serde.String, serde.String)
		br[1].To("out-other", serde.String, serde.String)
		return top
	},
	// selectKey(first letter).groupByKey().count(): Map, Repartition, and
	// Aggregate with a counter.
	"selectKeyCount": func() *topology.Topology {
		top, in := source()
		rekeyed := topology.Map(in, func(_, v string) (string, string) { return firstLetter(v), v })
		count(topology.Repartition(rekeyed, "by-letter", serde.String, serde.String)).To("counts", serde.String, serde.Int64)
		return top
	},
	// map().filter().mapValues().groupByKey().count(): the key changed at
	// Map, so Count reads through a repartition topic that samsa inserts
	// (no Repartition written here), as Kafka Streams does.
	"mapCount": func() *topology.Topology {
		top, in := source()
		rekeyed := topology.Map(in, func(_, v string) (string, string) { return firstLetter(v), v }).
			Filter(func(_, v string) bool { return v != "skip" })
		topology.Count(topology.MapValues(rekeyed, func(_, v string) string { return strings.ToUpper(v) }), "count-store", serde.String).
			To("counts", serde.String, serde.Int64)
		return top
	},
	// flatMap(words).groupByKey().reduce(): Reduce after a key change,
	// repartitioned with the serdes given to Reduce.
	"flatMapReduce": func() *topology.Topology {
		top, in := source()
		words := topology.FlatMap(in, func(k, v string) []processor.KeyValue[string, string] {
			var out []processor.KeyValue[string, string]
			for _, w := range strings.Split(v, " ") {
				if w != "" {
					out = append(out, processor.KeyValue[string, string]{Key: w, Value: k})
				}
			}
			return out
		})
		topology.Reduce(words, "reduce-store", func(agg, v string) string { return agg + "+" + v }, serde.String, serde.String).
			To("out", serde.String, serde.String)
		return top
	},
	"repartition": func() *topology.Topology {
		top, in := source()
		topology.MapValues(topology.Repartition(in, "rp", serde.String, serde.String), func(_, v string) string { return v + "!" }).
			To("out", serde.String, serde.String)
		return top
	},
}

func source() (*topology.Topology, topology.Stream[string, string]) {
	top := topology.New()
	return top, topology.StreamOf(top, serde.String, serde.String, "in")
}

func count(s topology.Stream[string, string]) topology.Stream[string, int64] {
	return topology.Aggregate(s, "count-store", func() int64 { return 0 },
		func(_, _ string, n int64) int64 { return n + 1 }, serde.String, serde.Int64)
}

// jsonValue is the value type of the jsonPassthrough topology; its fields
// are in the order encoding/json writes them, so that the scenario's inputs
// come out byte for byte.
type jsonValue struct {
	ID string `json:"id"`
	N  int    `json:"n"`
}

// firstLetter is Java's v.substring(0, 1) for the ASCII and BMP values of
// the scenarios, and "" for "".
func firstLetter(v string) string {
	if v == "" {
		return ""
	}
	_, n := utf8.DecodeRuneInString(v)
	return v[:n]
}

// peeked is what the peek topology's Peek saw, in order; the peek scenario
// checks it saw every input record (tests run one at a time).
var peeked []string
