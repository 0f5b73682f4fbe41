package conformance

import (
	"strconv"
	"strings"
	"time"

	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/topology"
)

// The windowed aggregations. Their twins are in
// streams/src/main/java/io/github/samsastreams/conformance/WindowTopologies.java.
// Both sides write a windowed key as key@start/end (milliseconds) with the
// String serde, so that their outputs compare as strings.
func init() {
	ms := time.Millisecond
	// windowedBy(TimeWindows.ofSizeWithNoGrace(10ms)).count()
	topologies["tumblingCount"] = func() *topology.Topology {
		top, in := source()
		windowedLongs(topology.WindowedCount(in, topology.TumblingWindows(10*ms), "window-store", serde.String))
		return top
	}
	// windowedBy(TimeWindows.ofSizeWithNoGrace(10ms).advanceBy(5ms)).count()
	topologies["hoppingCount"] = func() *topology.Topology {
		top, in := source()
		windowedLongs(topology.WindowedCount(in, topology.HoppingWindows(10*ms, 5*ms), "window-store", serde.String))
		return top
	}
	// windowedBy(TimeWindows.ofSizeAndGrace(10ms, 5ms)).reduce(agg + "+" + v):
	// Kafka Streams' reducer sees null for a tombstone where samsa's sees "".
	topologies["windowedReduce"] = func() *topology.Topology {
		top, in := source()
		windowedStrings(topology.WindowedReduce(in, topology.TumblingWindows(10*ms).WithGrace(5*ms), "window-store",
			func(agg, v string) string { return agg + "+" + v }, serde.String, serde.String))
		return top
	}
	// windowedBy(TimeWindows.ofSizeAndGrace(10ms, 3ms).advanceBy(5ms))
	// .aggregate(() -> "[", (k, v, agg) -> agg + v + ";")
	topologies["windowedAggregate"] = func() *topology.Topology {
		top, in := source()
		windowedStrings(topology.WindowedAggregate(in, topology.HoppingWindows(10*ms, 5*ms).WithGrace(3*ms), "window-store",
			func() string { return "[" }, func(_, v, agg string) string { return agg + v + ";" }, serde.String, serde.String))
		return top
	}
	// windowedBy(SessionWindows.ofInactivityGapAndGrace(10ms, 5ms)).count()
	topologies["sessionCount"] = func() *topology.Topology {
		top, in := source()
		windowedLongs(topology.SessionCount(in, topology.SessionWindows(10*ms).WithGrace(5*ms), "session-store", serde.String))
		return top
	}
	// filterNot(v starts with "skip").groupByKey()
	// .windowedBy(TimeWindows.ofSizeAndGrace(10ms, 5ms)).count(): the
	// filtered records do not advance the aggregation's stream time.
	topologies["windowedLate"] = func() *topology.Topology {
		top, in := source()
		kept := in.FilterNot(func(_, v string) bool { return strings.HasPrefix(v, "skip") })
		windowedLongs(topology.WindowedCount(kept, topology.TumblingWindows(10*ms).WithGrace(5*ms), "window-store", serde.String))
		return top
	}
}

// windowedKeys maps a windowed key to key@start/end, keeping a tombstone one
// (Kafka Streams' map passes a null value on).
func windowedKeys[V any](s topology.Stream[topology.Windowed[string], V]) topology.Stream[string, V] {
	fn := processor.Func[topology.Windowed[string], V, string, V](func(ctx processor.Context[string, V], r processor.Record[topology.Windowed[string], V]) error {
		k := r.Key.Key + "@" + strconv.FormatInt(r.Key.Start.UnixMilli(), 10) + "/" + strconv.FormatInt(r.Key.End.UnixMilli(), 10)
		out := processor.WithKeyValue(r, k, r.Value)
		if r.IsTombstone() {
			out = out.AsTombstone()
		}
		ctx.Forward(out)
		return nil
	})
	return topology.Process(s, fn.Supplier())
}

func windowedLongs(s topology.Stream[topology.Windowed[string], int64]) {
	windowedKeys(s).To("counts", serde.String, serde.Int64)
}

func windowedStrings(s topology.Stream[topology.Windowed[string], string]) {
	windowedKeys(s).To("out", serde.String, serde.String)
}
