package conformance

import (
	"time"

	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/topology"
)

// Final results of session aggregations (Sessions.EmitFinal). Their twins
// are in streams/src/main/java/io/github/samsastreams/conformance/FinalTopologies.java:
// suppress(untilWindowCloses(unbounded())) for sessionCountFinal, and
// emitStrategy(onWindowClose()) for sessionCountFinalEmit, which samsa
// builds the same.
func init() {
	// windowedBy(SessionWindows.ofInactivityGapAndGrace(10ms, 5ms)).count() + final
	sessionCount := func() *topology.Topology {
		top, in := source()
		sessions := topology.SessionWindows(10 * time.Millisecond).WithGrace(5 * time.Millisecond).EmitFinal()
		windowedLongs(topology.SessionCount(in, sessions, "session-store", serde.String))
		return top
	}
	topologies["sessionCountFinal"] = sessionCount
	topologies["sessionCountFinalEmit"] = sessionCount
}
