// Command metrics is a metrics pipeline: request measurements, keyed by
// endpoint, aggregated per endpoint and minute of event time (count, sum,
// max of the latency) in tumbling one-minute windows that accept records up
// to 30 s out of order; a later record is dropped by the window and counted
// as dropped. The output key is Kafka Streams' time-windowed key (endpoint,
// then the window start), so Kafka Streams consumers read it as they would
// their own.
//
//	go run ./examples/metrics            # on an embedded cluster
//	go run ./examples/metrics -bootstrap host:port
package main

import (
	"time"

	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/topology"
)

// Request is one measurement, keyed by endpoint, at its record timestamp.
type Request struct {
	LatencyMs int64 `json:"latency_ms"`
}

// Stats is the aggregate of a window.
type Stats struct {
	Count int64 `json:"count"`
	Sum   int64 `json:"sum_ms"`
	Max   int64 `json:"max_ms"`
}

// Topics names the pipeline's topics.
type Topics struct {
	Requests, PerMinute string
}

// Windows are the pipeline's windows.
var Windows = topology.TumblingWindows(time.Minute).WithGrace(30 * time.Second)

// Build returns the pipeline's topology.
func Build(t Topics) *topology.Topology {
	top := topology.New()
	reqs := topology.StreamOf(top, serde.String, serde.JSON[Request](), t.Requests)
	topology.WindowedAggregate(reqs, Windows, "latency-per-minute", func() Stats { return Stats{} },
		func(_ string, r Request, s Stats) Stats {
			s.Count++
			s.Sum += r.LatencyMs
			s.Max = max(s.Max, r.LatencyMs)
			return s
		}, serde.String, serde.JSON[Stats]()).
		To(t.PerMinute, topology.TimeWindowedSerde(serde.String, Windows.Size()), serde.JSON[Stats]())
	return top
}
