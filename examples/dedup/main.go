package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa/examples/internal/run"
	"github.com/samsa-streams/samsa/topology"
)

// input: 20 events from 4 devices, events 3, 7 and 11 sent twice (a
// producer retry), event 5 three times.
func input() []*kgo.Record {
	t0 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	var recs []*kgo.Record
	send := func(i int) {
		v, _ := json.Marshal(Event{ID: fmt.Sprintf("e%02d", i), Value: float64(i) / 2})
		recs = append(recs, &kgo.Record{Topic: "events", Key: []byte(fmt.Sprintf("device-%d", i%4)), Value: v, Timestamp: t0.Add(time.Duration(i) * time.Second)})
	}
	for i := range 20 {
		send(i)
		switch i {
		case 3, 7, 11:
			send(i)
		case 5:
			send(i)
			send(i)
		}
	}
	return recs
}

func example() run.Example {
	return run.Example{
		Name:   "dedup",
		Topics: []string{"events", "events-unique"},
		Topology: func(topic func(string) string) *topology.Topology {
			return Build(Topics{Events: topic("events"), Unique: topic("events-unique")})
		},
		Input:   input(),
		Outputs: []string{"events-unique"},
		Format:  func(r *kgo.Record) string { return fmt.Sprintf("%s %s", r.Key, r.Value) },
		Done:    func(out map[string][]*kgo.Record) bool { return len(out["events-unique"]) >= 20 },
	}
}

func main() { run.Main(example()) }
