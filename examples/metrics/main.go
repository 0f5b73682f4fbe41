package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa/examples/internal/run"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/topology"
)

// Start is the event time of the first measurement.
var Start = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)

// input: /search and /checkout every 10 s for three minutes, one /search
// 20 s out of order (counted), one 2 minutes late (dropped).
func input() []*kgo.Record {
	var recs []*kgo.Record
	add := func(endpoint string, latency int64, at time.Duration) {
		v, _ := json.Marshal(Request{LatencyMs: latency})
		recs = append(recs, &kgo.Record{Topic: "requests", Key: []byte(endpoint), Value: v, Timestamp: Start.Add(at)})
	}
	for i := range 18 {
		at := time.Duration(i) * 10 * time.Second
		add("/search", 20+int64(i%5)*10, at)
		add("/checkout", 100+int64(i%3)*50, at)
		if i == 8 {
			add("/search", 900, at-20*time.Second) // 09:01:00, after 09:01:20: out of order, within the grace
		}
		if i == 17 {
			add("/search", 5000, at-2*time.Minute) // too late: dropped
		}
	}
	return recs
}

func example() run.Example {
	wk := topology.TimeWindowedSerde(serde.String, Windows.Size())
	return run.Example{
		Name:   "metrics",
		Topics: []string{"requests", "latency-per-minute"},
		Topology: func(topic func(string) string) *topology.Topology {
			return Build(Topics{Requests: topic("requests"), PerMinute: topic("latency-per-minute")})
		},
		Input:   input(),
		Outputs: []string{"latency-per-minute"},
		Format: func(r *kgo.Record) string {
			k, err := wk.Deserialize(r.Topic, r.Key)
			if err != nil {
				return err.Error()
			}
			return fmt.Sprintf("%-9s %s-%s %s", k.Key, k.Start.UTC().Format("15:04"), k.End.UTC().Format("15:04"), r.Value)
		},
		// The record cache collapses a window's updates between commits:
		// done when the latest counts of the six windows add up to the
		// counted records, 36 + 1 out of order.
		Done: func(out map[string][]*kgo.Record) bool {
			last := map[string]int64{}
			for _, r := range out["latency-per-minute"] {
				s, err := serde.JSON[Stats]().Deserialize(r.Topic, r.Value)
				if err != nil {
					return false
				}
				last[string(r.Key)] = s.Count
			}
			var n int64
			for _, c := range last {
				n += c
			}
			return len(last) == 6 && n == 37
		},
	}
}

func main() { run.Main(example()) }
