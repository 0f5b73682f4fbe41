package conformance

import (
	"time"

	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/topology"
)

// The windowed cogroups. Their twins are in
// streams/src/main/java/io/github/samsastreams/conformance/CogroupWindowTopologies.java:
// in-a and in-b cogrouped with the adders agg + "a:" + v + ";" and
// agg + "b:" + v + ";" from "", windowed keys written as key@start/end
// (milliseconds), as in topologies_window_test.go.
func init() {
	ms := time.Millisecond
	// windowedBy(TimeWindows.ofSizeAndGrace(10ms, 5ms).advanceBy(5ms))
	// .aggregate(() -> "")
	topologies["cogroupWindowed"] = func() *topology.Topology {
		top, c := cogroupAB()
		windowedStrings(c.WindowedAggregate(topology.HoppingWindows(10*ms, 5*ms).WithGrace(5*ms), "cogroup-store",
			func() string { return "" }, serde.String, serde.String))
		return top
	}
	// windowedBy(TimeWindows.ofSizeAndGrace(10ms, 5ms)).aggregate(() -> "")
	// .suppress(Suppressed.untilWindowCloses(unbounded()))
	topologies["cogroupWindowedFinal"] = func() *topology.Topology {
		top, c := cogroupAB()
		windowedStrings(c.WindowedAggregate(topology.TumblingWindows(10*ms).WithGrace(5*ms).EmitFinal(), "cogroup-store",
			func() string { return "" }, serde.String, serde.String))
		return top
	}
	// windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(10ms, 5ms))
	// .aggregate(() -> "")
	topologies["cogroupSliding"] = func() *topology.Topology {
		top, c := cogroupAB()
		windowedStrings(c.SlidingAggregate(topology.SlidingWindows(10*ms).WithGrace(5*ms), "cogroup-store",
			func() string { return "" }, serde.String, serde.String))
		return top
	}
}

// cogroupAB cogroups in-a and in-b with their adders.
func cogroupAB() (*topology.Topology, *topology.Cogrouped[string, string]) {
	top := topology.New()
	a := topology.StreamOf(top, serde.String, serde.String, "in-a")
	b := topology.StreamOf(top, serde.String, serde.String, "in-b")
	c := topology.Cogroup(a, func(_, v, agg string) string { return agg + "a:" + v + ";" })
	return top, topology.CogroupWith(c, b, func(_, v, agg string) string { return agg + "b:" + v + ";" })
}
