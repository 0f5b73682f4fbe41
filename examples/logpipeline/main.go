package main

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/examples/internal/run"
	"github.com/samsa-streams/samsa/topology"
)

func input() []*kgo.Record {
	t0 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	lines := []struct{ service, value string }{
		{"auth", `{"level":"info","msg":"user ada@example.com signed in"}`},
		{"auth", `{"level":"debug","msg":"token refreshed"}`},
		{"billing", `{"level":"error","msg":"payment failed for grace@example.org"}`},
		{"search", `{"level":"warn","msg":"slow query: 830ms"}`},
		{"billing", `{"level":"info","msg":"invoice sent`}, // truncated: not JSON
		{"auth", `{"level":"error","msg":"too many attempts"}`},
	}
	var recs []*kgo.Record
	for i, l := range lines {
		recs = append(recs, &kgo.Record{Topic: "logs", Key: []byte(l.service), Value: []byte(l.value), Timestamp: t0.Add(time.Duration(i) * time.Second)})
	}
	return recs
}

func example() run.Example {
	topics := func(topic func(string) string) Topics {
		return Topics{Logs: topic("logs"), Clean: topic("logs-clean"), Alerts: topic("alerts"), DeadLetters: topic("logs-dead-letters")}
	}
	return run.Example{
		Name:     "logpipeline",
		Topics:   []string{"logs", "logs-clean", "alerts", "logs-dead-letters"},
		Topology: func(topic func(string) string) *topology.Topology { return Build(topics(topic)) },
		Config: func(cfg *samsa.Config) {
			Configure(cfg, topics(func(t string) string { return t })) // run.Run renames the dead-letter topic
		},
		Input:   input(),
		Outputs: []string{"alerts", "logs-clean", "logs-dead-letters"},
		Format: func(r *kgo.Record) string {
			s := fmt.Sprintf("%s %s", r.Key, r.Value)
			for _, h := range r.Headers {
				if h.Key == samsa.HeaderErrorMessage {
					s += fmt.Sprintf("  (%s: %s)", h.Key, h.Value)
				}
			}
			return s
		},
		Done: func(out map[string][]*kgo.Record) bool {
			return len(out["alerts"]) >= 2 && len(out["logs-clean"]) >= 2 && len(out["logs-dead-letters"]) >= 1
		},
	}
}

func main() { run.Main(example()) }
