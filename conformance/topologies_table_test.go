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
}

// leftJoiner is the joiner of the left joins: Kafka Streams' sees a null
// table value where samsa's sees found false.
func leftJoiner(k, v, vt string, found bool) string {
	if !found {
		vt = "none"
	}
	return k + ":" + v + "|" + vt
}
