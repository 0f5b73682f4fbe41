package conformance

import (
	"time"

	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/topology"
)

// The sliding-window aggregations. Their twins are in
// streams/src/main/java/io/github/samsastreams/conformance/SlidingTopologies.java;
// windowed keys are written as key@start/end (milliseconds, the end
// inclusive), as in topologies_window_test.go.
func init() {
	ms := time.Millisecond
	// windowedBy(SlidingWindows.ofTimeDifferenceWithNoGrace(10ms)).count()
	topologies["slidingCount"] = func() *topology.Topology {
		top, in := source()
		windowedLongs(topology.SlidingCount(in, topology.SlidingWindows(10*ms), "sliding-store", serde.String))
		return top
	}
	// windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(10ms, 5ms)).count()
	topologies["slidingCountGrace"] = func() *topology.Topology {
		top, in := source()
		windowedLongs(topology.SlidingCount(in, topology.SlidingWindows(10*ms).WithGrace(5*ms), "sliding-store", serde.String))
		return top
	}
	// selectKey((k, v) -> v).groupByKey()
	// .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(10ms, 5ms)).count():
	// samsa repartitions after the key change by itself.
	topologies["slidingCountRekey"] = func() *topology.Topology {
		top, in := source()
		rekeyed := topology.Map(in, func(_, v string) (string, string) { return v, v })
		windowedLongs(topology.SlidingCount(rekeyed, topology.SlidingWindows(10*ms).WithGrace(5*ms), "sliding-store", serde.String))
		return top
	}
	// windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(10ms, 5ms)).count()
	// .suppress(Suppressed.untilWindowCloses(unbounded()))
	topologies["slidingCountFinal"] = func() *topology.Topology {
		top, in := source()
		windowedLongs(topology.SlidingCount(in, topology.SlidingWindows(10*ms).WithGrace(5*ms).EmitFinal(), "sliding-store", serde.String))
		return top
	}
	// windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(10ms, 5ms))
	// .reduce(agg + "+" + v)
	topologies["slidingReduce"] = func() *topology.Topology {
		top, in := source()
		windowedStrings(topology.SlidingReduce(in, topology.SlidingWindows(10*ms).WithGrace(5*ms), "sliding-store",
			func(agg, v string) string { return agg + "+" + v }, serde.String, serde.String))
		return top
	}
	// windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(10ms, 20ms))
	// .aggregate(() -> "[", (k, v, agg) -> agg + v + ";")
	topologies["slidingAggregate"] = func() *topology.Topology {
		top, in := source()
		windowedStrings(topology.SlidingAggregate(in, topology.SlidingWindows(10*ms).WithGrace(20*ms), "sliding-store",
			func() string { return "[" }, func(_, v, agg string) string { return agg + v + ";" }, serde.String, serde.String))
		return top
	}
}
