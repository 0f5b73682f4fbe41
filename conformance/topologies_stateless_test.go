package conformance

import (
	"strings"

	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/topology"
)

// The stateless operator topologies (SelectKey, FlatMapValues, Split,
// ToTopicFunc, MapValuesWithHeaders). Each has a twin of the same name in
// streams/src/main/java/io/github/samsastreams/conformance/StatelessTopologies.java.
// Kafka Streams' functions see null for a null key or a tombstone, samsa's
// the zero value: the Java side maps null to "" where samsa sees "".
func init() {
	// selectKey(first letter of the value) with samsa's SelectKey (the
	// selectKey topology says it with Map).
	topologies["selectKeyOp"] = func() *topology.Topology {
		top, in := source()
		topology.SelectKey(in, func(_, v string) string { return firstLetter(v) }).To("out", serde.String, serde.String)
		return top
	}
	// selectKey().groupByKey().count(): Count after SelectKey repartitions
	// by itself, as Kafka Streams does.
	topologies["selectKeyOpCount"] = func() *topology.Topology {
		top, in := source()
		topology.Count(topology.SelectKey(in, func(_, v string) string { return firstLetter(v) }), "count-store", serde.String).
			To("counts", serde.String, serde.Int64)
		return top
	}
	// flatMapValues(split on ",", empty parts dropped).
	topologies["flatMapValues"] = func() *topology.Topology {
		top, in := source()
		topology.FlatMapValues(in, func(_, v string) []string {
			var out []string
			for _, part := range strings.Split(v, ",") {
				if part != "" {
					out = append(out, part)
				}
			}
			return out
		}).To("out", serde.String, serde.String)
		return top
	}
	// split(Named.as("s-")) into a named branch, an unnamed one (s-2) and
	// an unnamed default branch (s-0): the branch names must be Kafka
	// Streams' on both sides, or the lookups fail.
	topologies["split"] = func() *topology.Topology {
		top, in := source()
		branches := in.Split("s-").
			Branch(func(_, v string) bool { return strings.HasPrefix(v, "a") }, "a").
			Branch(func(_, v string) bool { return strings.Contains(v, "b") }, "").
			DefaultBranch("")
		for name, topic := range map[string]string{"s-a": "out-a", "s-2": "out-2", "s-0": "out-0"} {
			b, ok := branches[name]
			if !ok {
				panic("split: no branch named " + name)
			}
			b.To(topic, serde.String, serde.String)
		}
		return top
	}
	// to(TopicNameExtractor) over two merged inputs: a "route" header
	// names the topic, else a tombstone goes to deletes, else the record
	// goes to from-<its input topic>.
	topologies["toTopicFunc"] = func() *topology.Topology {
		top := topology.New()
		a := topology.StreamOf(top, serde.String, serde.String, "in-a")
		b := topology.StreamOf(top, serde.String, serde.String, "in-b")
		a.Merge(b).ToTopicFunc(func(r processor.Record[string, string]) string {
			if h, ok := r.Header("route"); ok {
				return string(h)
			}
			if r.IsTombstone() {
				return "deletes"
			}
			return "from-" + r.Topic()
		}, serde.String, serde.String)
		return top
	}
	// processValues with a FixedKeyProcessor that reads the last "h"
	// header into the value, drops the "drop" headers and adds a "seen"
	// header (samsa: MapValuesWithHeaders).
	topologies["headers"] = func() *topology.Topology {
		top, in := source()
		topology.MapValuesWithHeaders(in, func(_, v string, hs []processor.Header) (string, []processor.Header) {
			seen := "none"
			for i := len(hs) - 1; i >= 0; i-- {
				if hs[i].Key == "h" {
					seen = string(hs[i].Value)
					break
				}
			}
			var out []processor.Header
			for _, h := range hs {
				if h.Key != "drop" {
					out = append(out, h)
				}
			}
			return v + "|" + seen, append(out, processor.Header{Key: "seen", Value: []byte(seen)})
		}).To("out", serde.String, serde.String)
		return top
	}
}
