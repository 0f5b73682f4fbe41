package conformance

import (
	"time"

	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/topology"
)

func init() {
	// a.join(b, v1|v2, JoinWindows.ofTimeDifferenceAndGrace(10ms, 5ms),
	// StreamJoined.as("j")).
	topologies["streamStreamJoin"] = func() *topology.Topology {
		top := topology.New()
		a := topology.StreamOf(top, serde.String, serde.String, "in-a")
		b := topology.StreamOf(top, serde.String, serde.String, "in-b")
		topology.JoinStreams(a, b, "j", topology.JoinTimeDifference(10*time.Millisecond).WithGrace(5*time.Millisecond),
			func(_, v1, v2 string) string { return v1 + "|" + v2 }, serde.String, serde.String, serde.String).
			To("out", serde.String, serde.String)
		return top
	}
}

func init() {
	// a.groupByKey().cogroup(agg+"a:"+v).cogroup(b.groupByKey(),
	// agg+"b:"+v).aggregate("").
	topologies["cogroup"] = func() *topology.Topology {
		top := topology.New()
		a := topology.StreamOf(top, serde.String, serde.String, "in-a")
		b := topology.StreamOf(top, serde.String, serde.String, "in-b")
		c := topology.Cogroup(a, func(_, v, agg string) string { return agg + "a:" + v + ";" })
		c = topology.CogroupWith(c, b, func(_, v, agg string) string { return agg + "b:" + v + ";" })
		c.Aggregate("cogroup-store", func() string { return "" }, serde.String, serde.String).To("out", serde.String, serde.String)
		return top
	}
}
