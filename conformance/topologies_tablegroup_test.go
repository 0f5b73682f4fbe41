package conformance

import (
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/topology"
)

func init() {
	// table().groupBy(first letter of the value, Grouped.as("g")).count():
	// a value moving between groups is subtracted from the old one, then
	// added to the new one.
	topologies["tableGroupCount"] = func() *topology.Topology {
		top := topology.New()
		tb := topology.TableOf(top, "in", "table-store", serde.String, serde.String)
		g := topology.GroupTable(tb, "g", func(_, v string) (string, string) { return firstLetter(v), v }, serde.String, serde.String)
		topology.TableCount(g, "count-store").ToStream().To("counts", serde.String, serde.Int64)
		return top
	}
	// table().groupBy(first letter → key).aggregate("", agg+"+"+k,
	// agg+"-"+k): the order of subtractions and additions shows.
	topologies["tableGroupAggregate"] = func() *topology.Topology {
		top := topology.New()
		tb := topology.TableOf(top, "in", "table-store", serde.String, serde.String)
		g := topology.GroupTable(tb, "g", func(k, v string) (string, string) { return firstLetter(v), k }, serde.String, serde.String)
		topology.TableAggregate(g, "agg-store", func() string { return "" },
			func(_, k, agg string) string { return agg + "+" + k },
			func(_, k, agg string) string { return agg + "-" + k }, serde.String).
			ToStream().To("out", serde.String, serde.String)
		return top
	}
}
