// Command dedup gives an at-least-once pipeline an exactly-once effect:
// events that a producer retried (same event id, same key) are written
// once. The ids seen live in a logged store for ten minutes of event time,
// so duplicates are caught across restarts and rebalances, and a record
// redelivered after a crash (the same input record) is forwarded again
// rather than lost (see topology.Deduplicate).
//
//	go run ./examples/dedup            # on an embedded cluster
//	go run ./examples/dedup -bootstrap host:port
package main

import (
	"time"

	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/topology"
)

// Event is a device event, keyed by device id; ID is unique per event, and
// a retried send repeats it.
type Event struct {
	ID    string  `json:"id"`
	Value float64 `json:"value"`
}

// Topics names the pipeline's topics.
type Topics struct {
	Events, Unique string
}

// Build returns the pipeline's topology.
func Build(t Topics) *topology.Topology {
	top := topology.New()
	events := topology.StreamOf(top, serde.String, serde.JSON[Event](), t.Events)
	topology.Deduplicate(events, "event-ids", func(r processor.Record[string, Event]) string { return r.Value.ID }, 10*time.Minute).
		To(t.Unique, serde.String, serde.JSON[Event]())
	return top
}
