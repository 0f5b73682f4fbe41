package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa/examples/internal/run"
	"github.com/samsa-streams/samsa/topology"
)

func record(topic, key string, v any, ts time.Time) *kgo.Record {
	var b []byte
	if v != nil {
		b, _ = json.Marshal(v)
	}
	return &kgo.Record{Topic: topic, Key: []byte(key), Value: b, Timestamp: ts}
}

// input: three customers, then orders; then c2 moves up a tier and c3 is
// deleted, then more orders.
func input() []*kgo.Record {
	t0 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	return []*kgo.Record{
		record("customers", "c1", Customer{Name: "Ada", Tier: "gold"}, t0),
		record("customers", "c2", Customer{Name: "Grace", Tier: "silver"}, t0),
		record("customers", "c3", Customer{Name: "Linus", Tier: "bronze"}, t0),
		record("orders", "c1", Order{ID: "o1", Amount: 12.5}, t0.Add(time.Minute)),
		record("orders", "c2", Order{ID: "o2", Amount: 40}, t0.Add(2*time.Minute)),
		record("orders", "c9", Order{ID: "o3", Amount: 7}, t0.Add(3*time.Minute)),
		record("customers", "c2", Customer{Name: "Grace", Tier: "gold"}, t0.Add(4*time.Minute)),
		record("customers", "c3", nil, t0.Add(4*time.Minute)),
		record("orders", "c2", Order{ID: "o4", Amount: 99}, t0.Add(5*time.Minute)),
		record("orders", "c3", Order{ID: "o5", Amount: 3}, t0.Add(6*time.Minute)),
	}
}

// example is the program: run.Main runs it on an embedded cluster.
func example() run.Example {
	return run.Example{
		Name:   "enrichment",
		Topics: []string{"orders", "customers", "enriched-orders"},
		Topology: func(topic func(string) string) *topology.Topology {
			return Build(Topics{Orders: topic("orders"), Customers: topic("customers"), Enriched: topic("enriched-orders")})
		},
		Input:   input(),
		Outputs: []string{"enriched-orders"},
		Format:  func(r *kgo.Record) string { return fmt.Sprintf("%s %s", r.Key, r.Value) },
		Done:    func(out map[string][]*kgo.Record) bool { return len(out["enriched-orders"]) >= 5 },
	}
}

func main() { run.Main(example()) }
