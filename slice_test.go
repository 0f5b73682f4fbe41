package samsa_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

type sliceEvent struct {
	ID     int    `json:"id"`
	Kind   string `json:"kind"`
	Amount int    `json:"amount"`
}

type sliceOut struct {
	ID    int    `json:"id"`
	Kind  string `json:"kind"`
	Cents int    `json:"cents"`
}

// sliceTopology is source → map → filter → sink with string and JSON serdes.
func sliceTopology(in, out string) *topology.Topology {
	t := topology.New()
	events := topology.StreamOf(t, serde.String, serde.JSON[sliceEvent](), in)
	mapped := topology.MapValues(events, func(_ string, e sliceEvent) sliceOut {
		return sliceOut{ID: e.ID, Kind: strings.ToUpper(e.Kind), Cents: e.Amount * 100}
	})
	mapped.Filter(func(_ string, o sliceOut) bool { return o.Kind != "NOISE" }).
		To(out, serde.String, serde.JSON[sliceOut]())
	return t
}

func sliceInput(i int) (key string, e sliceEvent) {
	kinds := []string{"click", "view", "noise", "buy", "scroll"}
	return fmt.Sprintf("user-%d", i%97), sliceEvent{ID: i, Kind: kinds[i%len(kinds)], Amount: i % 13}
}

// TestVerticalSlice runs the first slice on the embedded cluster and on the
// real broker: 10,000 records through a 4-partition topic under
// at-least-once, exact output multiset, per-partition order, committed
// offsets at the end of the input.
func TestVerticalSlice(t *testing.T) {
	t.Run("embedded", func(t *testing.T) { runSlice(t, testkit.EmbeddedCluster(t), samsa.AtLeastOnce) })
	t.Run("real", func(t *testing.T) { runSlice(t, testkit.RealCluster(t), samsa.AtLeastOnce) })
	t.Run("embedded-eos", func(t *testing.T) { runSlice(t, testkit.EmbeddedCluster(t), samsa.ExactlyOnce) })
	t.Run("real-eos", func(t *testing.T) { runSlice(t, testkit.RealCluster(t), samsa.ExactlyOnce) })
}

func runSlice(t *testing.T, c *testkit.Cluster, g samsa.Guarantee) {
	const n, parts = 10000, 4
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	in := c.Topic(t, "slice-in", parts)
	out := c.Topic(t, "slice-out", parts)
	appID := testkit.UniqueName("slice-app")

	// Input partition p gets the records whose key murmur2-hashes to p, so
	// the sink (same key, same partition count) writes them to output
	// partition p too: per-partition order is then checkable end to end.
	recs := make([]*kgo.Record, 0, n)
	want := map[int32][]string{}
	for i := range n {
		k, e := sliceInput(i)
		v, _ := json.Marshal(e)
		recs = append(recs, &kgo.Record{Topic: in, Key: []byte(k), Value: v})
	}
	if err := c.Produce(ctx, false, recs...); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		var e sliceEvent
		_ = json.Unmarshal(r.Value, &e)
		if e.Kind == "noise" {
			continue
		}
		o, _ := json.Marshal(sliceOut{ID: e.ID, Kind: strings.ToUpper(e.Kind), Cents: e.Amount * 100})
		want[r.Partition] = append(want[r.Partition], string(r.Key)+"="+string(o))
	}
	wantTotal := 0
	for _, w := range want {
		wantTotal += len(w)
	}

	app, err := samsa.New(sliceTopology(in, out), samsa.Config{
		ApplicationID:  appID,
		Bootstrap:      c.Bootstrap,
		CommitInterval: 200 * time.Millisecond,
		Guarantee:      g,
		Logger:         testkit.Logger(t, slog.LevelInfo),
	})
	if err != nil {
		t.Fatal(err)
	}
	run := testkit.Start(t, app)
	run.WaitFor(t, 90*time.Second, "all input processed", func() bool { return app.Processed() >= n })
	if err := run.Stop(); err != nil {
		t.Fatalf("Run returned %v", err)
	}
	if got := app.State(); got != samsa.StateNotRunning {
		t.Errorf("state after Stop = %s, want NOT_RUNNING", got)
	}

	got, err := c.ReadTopic(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	gotTotal := 0
	for p := int32(0); p < parts; p++ {
		var gs []string
		for _, r := range got[p] {
			gs = append(gs, string(r.Key)+"="+string(r.Value))
		}
		gotTotal += len(gs)
		if len(gs) != len(want[p]) {
			t.Errorf("partition %d: %d records out, want %d", p, len(gs), len(want[p]))
			continue
		}
		for i := range gs {
			if gs[i] != want[p][i] {
				t.Errorf("partition %d index %d: got %s, want %s (order or content differs)", p, i, gs[i], want[p][i])
				break
			}
		}
	}
	if gotTotal != wantTotal {
		t.Errorf("total output %d, want %d", gotTotal, wantTotal)
	}

	ends, err := c.EndOffsets(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := c.CommittedOffsets(ctx, appID)
	if err != nil {
		t.Fatal(err)
	}
	for p, end := range ends {
		if committed[in][p] != end {
			t.Errorf("committed offset of %s[%d] = %d, want end offset %d", in, p, committed[in][p], end)
		}
	}
	t.Logf("%d in, %d out, committed %v", n, gotTotal, committed[in])
}
