package conformance

import (
	"time"

	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/topology"
)

// orNull prints a missing side of a left or outer join as Java's string
// concatenation prints a null.
func orNull(v string, found bool) string {
	if !found {
		return "null"
	}
	return v
}

func init() {
	// a.leftJoin(b, v1+"+"+v2, JoinWindows.ofTimeDifferenceAndGrace(10ms,
	// 5ms), StreamJoined.as("j")).
	topologies["leftJoinStreams"] = func() *topology.Topology {
		top := topology.New()
		a := topology.StreamOf(top, serde.String, serde.String, "in-a")
		b := topology.StreamOf(top, serde.String, serde.String, "in-b")
		topology.LeftJoinStreams(a, b, "j", topology.JoinTimeDifference(10*time.Millisecond).WithGrace(5*time.Millisecond),
			func(_, v1, v2 string, found2 bool) string { return v1 + "+" + orNull(v2, found2) },
			serde.String, serde.String, serde.String).
			To("out", serde.String, serde.String)
		return top
	}
	// a.outerJoin(b, v1+"+"+v2, the same windows, StreamJoined.as("j")).
	topologies["outerJoinStreams"] = func() *topology.Topology {
		top := topology.New()
		a := topology.StreamOf(top, serde.String, serde.String, "in-a")
		b := topology.StreamOf(top, serde.String, serde.String, "in-b")
		topology.OuterJoinStreams(a, b, "j", topology.JoinTimeDifference(10*time.Millisecond).WithGrace(5*time.Millisecond),
			func(_, v1, v2 string, found1, found2 bool) string {
				return orNull(v1, found1) + "+" + orNull(v2, found2)
			},
			serde.String, serde.String, serde.String).
			To("out", serde.String, serde.String)
		return top
	}
}
