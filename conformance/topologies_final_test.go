package conformance

import (
	"time"

	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/topology"
)

// Final results of windowed aggregations (Windows.EmitFinal). Their twins
// are in streams/src/main/java/io/github/samsastreams/conformance/FinalTopologies.java:
// suppress(untilWindowCloses(unbounded())) for <name>, and
// emitStrategy(onWindowClose()) for <name>Emit, which samsa builds the same.
func init() {
	ms := time.Millisecond
	tumbling := topology.TumblingWindows(10 * ms).WithGrace(5 * ms).EmitFinal()
	hopping := topology.HoppingWindows(10*ms, 5*ms).WithGrace(3 * ms).EmitFinal()
	// windowedBy(TimeWindows.ofSizeAndGrace(10ms, 5ms)).count() + final
	tumblingCount := func() *topology.Topology {
		top, in := source()
		windowedLongs(topology.WindowedCount(in, tumbling, "window-store", serde.String))
		return top
	}
	topologies["tumblingCountFinal"] = tumblingCount
	topologies["tumblingCountFinalEmit"] = tumblingCount
	// windowedBy(TimeWindows.ofSizeAndGrace(10ms, 3ms).advanceBy(5ms)).count() + final
	hoppingCount := func() *topology.Topology {
		top, in := source()
		windowedLongs(topology.WindowedCount(in, hopping, "window-store", serde.String))
		return top
	}
	topologies["hoppingCountFinal"] = hoppingCount
	topologies["hoppingCountFinalEmit"] = hoppingCount
	// windowedBy(TimeWindows.ofSizeAndGrace(10ms, 5ms)).reduce(agg + "+" + v) + final
	topologies["windowedReduceFinal"] = func() *topology.Topology {
		top, in := source()
		windowedStrings(topology.WindowedReduce(in, tumbling, "window-store",
			func(agg, v string) string { return agg + "+" + v }, serde.String, serde.String))
		return top
	}
}
