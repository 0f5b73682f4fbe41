package conformance

import (
	"strings"

	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/topology"
)

// The twins of FkMaterializedTopologies.java: the result of a foreign-key
// join used as a table (materialized in fk-result-store).
func init() {
	// enriched = orders.join(customers, customerOf, o|c, "fk");
	// in.join(enriched) to out, in.leftJoin(enriched) to out-left.
	topologies["fkMatStreamJoin"] = func() *topology.Topology {
		top, orders, customers := fkTables()
		enriched := topology.FKJoin(orders, customers, "fk", customerOf, func(_, o, c string) string { return o + "|" + c },
			topology.FKSerdes[string, string, string, string, string]{})
		in := topology.StreamOf(top, serde.String, serde.String, "in")
		topology.Join(in, enriched, func(k, v, e string) string { return k + ":" + v + ">" + e }).
			To("out", serde.String, serde.String)
		topology.LeftJoin(in, enriched, func(k, v, e string, found bool) string { return k + ":" + v + ">" + orNone(e, found) }).
			To("out-left", serde.String, serde.String)
		return top
	}
	// enriched = orders.leftJoin(customers, ..., o|(c or none), "fk");
	// enriched.filter(not |none) to out; enriched.groupBy(customer name,
	// Grouped.as("g")).count() to counts.
	topologies["fkMatFilterCount"] = func() *topology.Topology {
		top, orders, customers := fkTables()
		enriched := topology.FKLeftJoin(orders, customers, "fk", customerOf, func(_, o, c string, found bool) string { return o + "|" + orNone(c, found) },
			topology.FKSerdes[string, string, string, string, string]{})
		enriched.Filter(func(_, v string) bool { return !strings.HasSuffix(v, "|none") }).
			ToStream().To("out", serde.String, serde.String)
		g := topology.GroupTable(enriched, "g", func(_, v string) (string, string) { return v[strings.LastIndexByte(v, '|')+1:], v }, serde.String, serde.String)
		topology.TableCount(g, "count-store").ToStream().To("counts", serde.String, serde.Int64)
		return top
	}
	// fkMatFilterCount's program, for Kafka Streams' without Materialized
	// (the known divergence fkFilterCountLazy).
	topologies["fkFilterCountLazy"] = topologies["fkMatFilterCount"]
	// orders.join(customers, ..., "fk").join(shipments, e#s): the result
	// on the left of a table-table join.
	topologies["fkMatTableJoin"] = func() *topology.Topology {
		top, orders, customers := fkTables()
		enriched := topology.FKJoin(orders, customers, "fk", customerOf, func(_, o, c string) string { return o + "|" + c },
			topology.FKSerdes[string, string, string, string, string]{})
		shipments := topology.TableOf(top, "shipments", "shipments-store", serde.String, serde.String)
		topology.TableJoin(enriched, shipments, func(_, e, s string) string { return e + "#" + s }).
			ToStream().To("out", serde.String, serde.String)
		return top
	}
}
