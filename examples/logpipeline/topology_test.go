package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/examples/internal/run"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
)

func TestLogPipeline(t *testing.T) {
	tp := Topics{Logs: "logs", Clean: "clean", Alerts: "alerts", DeadLetters: "dlq"}
	var cfg samsa.Config
	Configure(&cfg, tp)
	d, err := testkit.NewDriver(Build(tp), testkit.DriverConfig{Errors: cfg.Errors, DeadLetterTopic: cfg.DeadLetterTopic})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "logs", serde.String, serde.String)
	for _, v := range []string{
		`{"level":"info","msg":"mail bob@example.com"}`,
		`{"level":"debug","msg":"noise"}`,
		`{"level":"error","msg":"disk full"}`,
		`not json`,
	} {
		if err := in.Pipe("svc", v); err != nil {
			t.Fatal(err)
		}
	}
	clean, _ := testkit.OutputTopic(d, "clean", serde.String, serde.JSON[Line]()).ReadValues()
	alerts, _ := testkit.OutputTopic(d, "alerts", serde.String, serde.JSON[Line]()).ReadValues()
	dead, _ := testkit.OutputTopic(d, "dlq", serde.String, serde.String).ReadValues()
	if len(clean) != 1 || clean[0].Msg != "mail <redacted>" {
		t.Errorf("clean: %+v", clean)
	}
	if len(alerts) != 1 || alerts[0].Msg != "disk full" {
		t.Errorf("alerts: %+v", alerts)
	}
	if len(dead) != 1 || dead[0] != "not json" || d.DeadLettered() != 1 {
		t.Errorf("dead letters: %q (%d)", dead, d.DeadLettered())
	}
}

func TestLogPipelineRuns(t *testing.T) {
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := run.Run(ctx, example(), "", &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"alerts (2 records)", "logs-clean (2 records)", "logs-dead-letters (1 records)", "redacted", "samsa.error.message"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
