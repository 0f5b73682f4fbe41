package conformance

import (
	"strings"

	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/topology"
)

// The table and stream-table join topologies. Each has a twin of the same
// name in streams/src/main/java/io/github/samsastreams/conformance/TableTopologies.java.
func init() {
	topologies["table"] = func() *topology.Topology {
		top := topology.New()
		topology.TableOf(top, "in", "table-store", serde.String, serde.String).
			ToStream().To("out", serde.String, serde.String)
		return top
	}
	topologies["tableFilter"] = func() *topology.Topology {
		top := topology.New()
		topology.TableOf(top, "in", "table-store", serde.String, serde.String).
			Filter(func(_, v string) bool { return !strings.HasPrefix(v, "x") }).
			ToStream().To("out", serde.String, serde.String)
		return top
	}
	topologies["tableMapValues"] = func() *topology.Topology {
		top := topology.New()
		tb := topology.TableOf(top, "in", "table-store", serde.String, serde.String)
		topology.TableMapValues(tb, func(k, v string) string { return k + ":" + strings.ToUpper(v) }).
			ToStream().To("out", serde.String, serde.String)
		return top
	}
	topologies["streamTableJoin"] = func() *topology.Topology {
		top := topology.New()
		s := topology.StreamOf(top, serde.String, serde.String, "in")
		tb := topology.TableOf(top, "table-in", "table-store", serde.String, serde.String)
		topology.Join(s, tb, func(k, v, vt string) string { return k + ":" + v + "|" + vt }).
			To("out", serde.String, serde.String)
		return top
	}
	topologies["streamTableLeftJoin"] = func() *topology.Topology {
		top := topology.New()
		s := topology.StreamOf(top, serde.String, serde.String, "in")
		tb := topology.TableOf(top, "table-in", "table-store", serde.String, serde.String)
		topology.LeftJoin(s, tb, leftJoiner).To("out", serde.String, serde.String)
		return top
	}
	topologies["streamFilteredTableJoin"] = func() *topology.Topology {
		top := topology.New()
		s := topology.StreamOf(top, serde.String, serde.String, "in")
		tb := topology.TableOf(top, "table-in", "table-store", serde.String, serde.String).
			Filter(func(_, v string) bool { return !strings.HasPrefix(v, "x") })
		upper := topology.TableMapValues(tb, func(_, v string) string { return strings.ToUpper(v) })
		topology.LeftJoin(s, upper, leftJoiner).To("out", serde.String, serde.String)
		return top
	}
	topologies["tableJoin"] = func() *topology.Topology {
		top, a, b := twoTables()
		topology.TableJoin(a, b, func(_, va, vb string) string { return va + "|" + vb }).
			ToStream().To("out", serde.String, serde.String)
		return top
	}
	topologies["tableLeftJoin"] = func() *topology.Topology {
		top, a, b := twoTables()
		topology.TableLeftJoin(a, b, func(_, va, vb string, found bool) string { return va + "|" + orNone(vb, found) }).
			ToStream().To("out", serde.String, serde.String)
		return top
	}
	topologies["tableOuterJoin"] = func() *topology.Topology {
		top, a, b := twoTables()
		topology.TableOuterJoin(a, b, func(_, va, vb string, foundA, foundB bool) string {
			return orNone(va, foundA) + "|" + orNone(vb, foundB)
		}).ToStream().To("out", serde.String, serde.String)
		return top
	}
	topologies["tableLeftJoinFilter"] = func() *topology.Topology {
		top, a, b := twoTables()
		topology.TableLeftJoin(a, b, func(_, va, vb string, found bool) string { return va + "|" + orNone(vb, found) }).
			Filter(func(_, v string) bool { return !strings.HasPrefix(v, "x") }).
			ToStream().To("out", serde.String, serde.String)
		return top
	}
}

// twoTables returns a topology with the tables of in-a and in-b.
func twoTables() (*topology.Topology, topology.Table[string, string], topology.Table[string, string]) {
	top := topology.New()
	a := topology.TableOf(top, "in-a", "a-store", serde.String, serde.String)
	b := topology.TableOf(top, "in-b", "b-store", serde.String, serde.String)
	return top, a, b
}

// orNone is Kafka Streams' twin's v == null ? "none" : v.
func orNone(v string, found bool) string {
	if !found {
		return "none"
	}
	return v
}

// leftJoiner is the joiner of the left joins: Kafka Streams' sees a null
// table value where samsa's sees found false.
func leftJoiner(k, v, vt string, found bool) string {
	if !found {
		vt = "none"
	}
	return k + ":" + v + "|" + vt
}
