package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streams/samsa/examples/internal/run"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
)

func TestDedup(t *testing.T) {
	d, err := testkit.NewDriver(Build(Topics{Events: "events", Unique: "unique"}), testkit.DriverConfig{DefaultPartitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "events", serde.String, serde.JSON[Event]())
	for _, r := range input() {
		if err := in.PipeRaw(r.Key, r.Value, r.Timestamp, nil, -1); err != nil {
			t.Fatal(err)
		}
	}
	got, err := testkit.OutputTopic(d, "unique", serde.String, serde.JSON[Event]()).ReadValues()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, e := range got {
		seen[e.ID]++
	}
	if len(got) != 20 || len(seen) != 20 {
		t.Fatalf("%d events written, %d distinct, want 20 and 20", len(got), len(seen))
	}
}

func TestDedupRuns(t *testing.T) {
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := run.Run(ctx, example(), "", &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "produced 25 records") || !strings.Contains(out.String(), "events-unique (20 records)") {
		t.Errorf("output:\n%s", out.String())
	}
}
