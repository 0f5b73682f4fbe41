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
	"github.com/samsa-streams/samsa/topology"
)

func TestMetrics(t *testing.T) {
	d, err := testkit.NewDriver(Build(Topics{Requests: "requests", PerMinute: "per-minute"}), testkit.DriverConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "requests", serde.String, serde.JSON[Request]())
	for _, r := range input() {
		if err := in.PipeRaw(r.Key, r.Value, r.Timestamp, nil, -1); err != nil {
			t.Fatal(err)
		}
	}
	last := map[string]Stats{}
	out := testkit.OutputTopic(d, "per-minute", topology.TimeWindowedSerde(serde.String, Windows.Size()), serde.JSON[Stats]())
	kvs, err := out.ReadKeyValues()
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range kvs {
		last[kv.Key.Key+"@"+kv.Key.Start.UTC().Format("15:04")] = kv.Value
	}
	want := map[string]Stats{
		"/search@09:00":   {Count: 6, Sum: 20 + 30 + 40 + 50 + 60 + 20, Max: 60},
		"/search@09:01":   {Count: 7, Sum: 30 + 40 + 50 + 60 + 20 + 30 + 900, Max: 900},
		"/search@09:02":   {Count: 6, Sum: 40 + 50 + 60 + 20 + 30 + 40, Max: 60},
		"/checkout@09:00": {Count: 6, Sum: 100 + 150 + 200 + 100 + 150 + 200, Max: 200},
		"/checkout@09:01": {Count: 6, Sum: 900, Max: 200},
		"/checkout@09:02": {Count: 6, Sum: 900, Max: 200},
	}
	for k, w := range want {
		if last[k] != w {
			t.Errorf("%s: %+v, want %+v", k, last[k], w)
		}
	}
	if len(last) != len(want) {
		t.Errorf("windows %v, want %d", last, len(want))
	}
	if d.Dropped() != 1 {
		t.Errorf("dropped %d, want the one late record", d.Dropped())
	}
}

func TestMetricsRuns(t *testing.T) {
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := run.Run(ctx, example(), "", &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), `/search   09:01-09:02 {"count":7,"sum_ms":1130,"max_ms":900}`) {
		t.Errorf("output lacks the final /search 09:01 window:\n%s", out.String())
	}
}
