// Command logpipeline is a logging pipeline: structured log lines are
// parsed, debug lines dropped, e-mail addresses redacted, errors routed to
// an alerts topic and the rest to a clean topic; a line that is not valid
// JSON goes to a dead-letter topic with the error in its headers
// (samsa.Config.Errors), and the pipeline goes on.
//
//	go run ./examples/logpipeline            # on an embedded cluster
//	go run ./examples/logpipeline -bootstrap host:port
package main

import (
	"regexp"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/topology"
)

// Line is a structured log line, keyed by service.
type Line struct {
	Level string `json:"level"`
	Msg   string `json:"msg"`
}

// Topics names the pipeline's topics.
type Topics struct {
	Logs, Clean, Alerts, DeadLetters string
}

var email = regexp.MustCompile(`[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-z]{2,}`)

// Build returns the pipeline's topology.
func Build(t Topics) *topology.Topology {
	top := topology.New()
	lines := topology.StreamOf(top, serde.String, serde.JSON[Line](), t.Logs).
		FilterNot(func(_ string, l Line) bool { return l.Level == "debug" })
	redacted := topology.MapValues(lines, func(_ string, l Line) Line {
		l.Msg = email.ReplaceAllString(l.Msg, "<redacted>")
		return l
	})
	routes := redacted.Branch(
		func(_ string, l Line) bool { return l.Level == "error" },
		func(string, Line) bool { return true },
	)
	routes[0].To(t.Alerts, serde.String, serde.JSON[Line]())
	routes[1].To(t.Clean, serde.String, serde.JSON[Line]())
	return top
}

// Configure sets the error policy: malformed lines are dead-lettered.
func Configure(cfg *samsa.Config, t Topics) {
	cfg.Errors.Deserialization = samsa.DeadLetter
	cfg.DeadLetterTopic = t.DeadLetters
}
