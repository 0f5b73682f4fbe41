package samsa_test

import (
	"time"

	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/topology"
)

// finalWindowsTopology is a metrics pipeline: per-minute counts per key by
// event time, on time up to 5 s behind the newest record, late records
// accepted for 10 s more, one final result per window and key, late
// records to a topic of their own.
func finalWindowsTopology(in, out, late string) *topology.Topology {
	top := topology.New()
	w := topology.TumblingWindows(time.Minute).WithMaxOutOfOrder(5 * time.Second).WithGrace(10 * time.Second).
		EmitFinal().LateRecordsTo(late)
	topology.WindowedCount(topology.StreamOf(top, serde.String, serde.String, in), w, "per-minute", serde.String).
		To(out, topology.TimeWindowedSerde(serde.String, time.Minute), serde.Int64)
	return top
}
