package conformance

import (
	"strings"

	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/topology"
)

// The stream-global table join topologies. Each has a twin of the same
// name in StatelessTopologies.java (with the other stateless operators'
// twins: a global table makes no task).
func init() {
	topologies["globalJoin"] = func() *topology.Topology {
		top, s, g := globalTable()
		topology.JoinGlobal(s, g, globalKey, func(k, v, vg string) string { return k + ":" + v + "|" + vg }).
			To("out", serde.String, serde.String)
		return top
	}
	topologies["globalLeftJoin"] = func() *topology.Topology {
		top, s, g := globalTable()
		topology.LeftJoinGlobal(s, g, globalKey, func(k, v, vg string, found bool) string {
			return k + ":" + v + "|" + orNone(vg, found)
		}).To("out", serde.String, serde.String)
		return top
	}
}

// globalTable is the stream in and the global table of global-in in the
// store global-store.
func globalTable() (*topology.Topology, topology.Stream[string, string], topology.GlobalTable[string, string]) {
	top, in := source()
	return top, in, topology.GlobalTableOf(top, "global-in", "global-store", serde.String, serde.String)
}

// globalKey is the join key of a stream record: its value up to the first
// "/" (the whole value without one).
func globalKey(_, v string) string {
	k, _, _ := strings.Cut(v, "/")
	return k
}
