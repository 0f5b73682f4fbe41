package conformance

import (
	"time"

	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/topology"
)

// The session-windowed cogroups. Their twins are in
// streams/src/main/java/io/github/samsastreams/conformance/CogroupSessionTopologies.java:
// in-a and in-b cogrouped as in topologies_cogroup_window_test.go, in
// sessions of a 10 ms inactivity gap and 5 ms grace merged with a + b,
// keys written as key@start/end (milliseconds, end inclusive).
func init() {
	sessions := topology.SessionWindows(10 * time.Millisecond).WithGrace(5 * time.Millisecond)
	// windowedBy(SessionWindows.ofInactivityGapAndGrace(10ms, 5ms))
	// .aggregate(() -> "", (k, x, y) -> x + y)
	topologies["cogroupSession"] = func() *topology.Topology {
		return cogroupSessions(sessions)
	}
	// the same + suppress(Suppressed.untilWindowCloses(unbounded()))
	topologies["cogroupSessionFinal"] = func() *topology.Topology {
		return cogroupSessions(sessions.EmitFinal())
	}
}

// cogroupSessions aggregates in-a and in-b cogrouped into sessions,
// written to out.
func cogroupSessions(sessions topology.Sessions) *topology.Topology {
	top, c := cogroupAB()
	windowedStrings(c.SessionAggregate(sessions, "cogroup-store", func() string { return "" },
		func(_, x, y string) string { return x + y }, serde.String, serde.String))
	return top
}
