package samsa_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

type order struct {
	ID     int `json:"id"`
	Amount int `json:"amount"`
}

// ordersTopology reads JSON orders; an amount of 13 makes the processor fail.
func ordersTopology(in, out string) *topology.Topology {
	top := topology.New()
	s := topology.StreamOf(top, serde.String, serde.JSON[order](), in)
	topology.Process(s, processor.Func[string, order, string, order](func(ctx processor.Context[string, order], r processor.Record[string, order]) error {
		if r.Value.Amount == 13 {
			return errors.New("unlucky amount")
		}
		ctx.Forward(r)
		return nil
	}).Supplier()).To(out, serde.String, serde.JSON[order]())
	return top
}

// producePoison writes 3 partitions × 100 good orders, with one invalid JSON
// record in the middle of partition 1 and one unlucky order in partition 2.
func producePoison(t *testing.T, c *testkit.Cluster, in string) {
	t.Helper()
	var recs []*kgo.Record
	for p := int32(0); p < 3; p++ {
		for i := range 100 {
			v := fmt.Sprintf(`{"id":%d,"amount":%d}`, int(p)*1000+i, i%10)
			switch {
			case p == 1 && i == 50:
				v = `{"id":` // truncated JSON: a poison record
			case p == 2 && i == 70:
				v = fmt.Sprintf(`{"id":%d,"amount":13}`, int(p)*1000+i)
			}
			recs = append(recs, &kgo.Record{Topic: in, Partition: p, Key: []byte("k" + strconv.Itoa(i)), Value: []byte(v),
				Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte("t-" + strconv.Itoa(i))}}})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Produce(ctx, true, recs...); err != nil {
		t.Fatal(err)
	}
}

func TestErrorPolicies(t *testing.T) {
	for _, name := range []string{"embedded", "real"} {
		t.Run(name, func(t *testing.T) {
			c := testkit.EmbeddedCluster(t)
			if name == "real" {
				c = testkit.RealCluster(t)
			}
			t.Run("skip", func(t *testing.T) { runPolicy(t, c, samsa.Skip) })
			t.Run("dead-letter", func(t *testing.T) { runPolicy(t, c, samsa.DeadLetter) })
			t.Run("fail", func(t *testing.T) { runPolicy(t, c, samsa.Fail) })
		})
	}
}

func runPolicy(t *testing.T, c *testkit.Cluster, pol samsa.ErrorPolicy) {
	in, out, dlq := c.Topic(t, "orders", 3), c.Topic(t, "orders-out", 3), c.Topic(t, "orders-dlq", 1)
	producePoison(t, c, in)
	appID := testkit.UniqueName("orders-app")
	app, err := samsa.New(ordersTopology(in, out), samsa.Config{
		ApplicationID: appID, Bootstrap: c.Bootstrap, StateDir: t.TempDir(), CommitInterval: 100 * time.Millisecond,
		Errors:          samsa.ErrorPolicies{Deserialization: pol, Processing: pol},
		DeadLetterTopic: dlq,
		Logger:          testkit.Logger(t, slog.LevelWarn),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if pol == samsa.Fail {
		err := app.Run(ctx)
		if err == nil || !strings.Contains(err.Error(), "partition 1 offset 50") && !strings.Contains(err.Error(), "partition 2 offset 70") {
			t.Fatalf("Run = %v, want the poison record's place", err)
		}
		return
	}
	runUntil(t, app, 300)
	got, err := c.ReadTopic(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, rs := range got {
		for _, r := range rs {
			o, err := serde.JSON[order]().Deserialize(out, r.Value)
			if err != nil {
				t.Fatal(err)
			}
			ids[strconv.Itoa(o.ID)] = true
		}
	}
	// Every record but the two bad ones flowed, in every partition.
	for p := range 3 {
		for i := range 100 {
			id := strconv.Itoa(p*1000 + i)
			bad := (p == 1 && i == 50) || (p == 2 && i == 70)
			if ids[id] == bad {
				t.Errorf("order %s in the output: %v, want %v", id, ids[id], !bad)
			}
		}
	}
	switch pol {
	case samsa.Skip:
		if app.Skipped() != 2 || app.DeadLettered() != 0 {
			t.Errorf("skipped %d, dead-lettered %d; want 2 and 0", app.Skipped(), app.DeadLettered())
		}
	case samsa.DeadLetter:
		if app.DeadLettered() != 2 {
			t.Errorf("dead-lettered %d, want 2", app.DeadLettered())
		}
		dl, err := c.ReadTopic(ctx, dlq)
		if err != nil {
			t.Fatal(err)
		}
		if len(dl[0]) != 2 {
			t.Fatalf("%d dead letters, want 2", len(dl[0]))
		}
		kinds := map[string]bool{}
		for _, r := range dl[0] {
			h := map[string]string{}
			for _, x := range r.Headers {
				h[x.Key] = string(x.Value)
			}
			kinds[h[samsa.HeaderErrorKind]] = true
			switch h[samsa.HeaderErrorKind] {
			case "deserialization":
				if string(r.Value) != `{"id":` || string(r.Key) != "k50" || h[samsa.HeaderSourcePartition] != "1" || h[samsa.HeaderSourceOffset] != "50" {
					t.Errorf("deserialization dead letter: key %s value %s headers %v", r.Key, r.Value, h)
				}
			case "processing":
				if !strings.Contains(h[samsa.HeaderErrorMessage], "unlucky amount") || h[samsa.HeaderSourcePartition] != "2" || h[samsa.HeaderSourceOffset] != "70" {
					t.Errorf("processing dead letter headers %v", h)
				}
			}
			if h[samsa.HeaderSourceTopic] != in || h[samsa.HeaderApplicationID] != appID || h[samsa.HeaderTask] == "" || h[samsa.HeaderTimestamp] == "" || h["trace"] == "" {
				t.Errorf("dead letter headers incomplete: %v", h)
			}
		}
		if !kinds["deserialization"] || !kinds["processing"] {
			t.Errorf("dead letter kinds %v", kinds)
		}
	}
}

// TestProductionErrorPolicy: a record larger than the output topic's
// max.message.bytes is rejected by the real broker; the production policy
// skips it or dead-letters the input that caused it, and the rest flows.
func TestProductionErrorPolicy(t *testing.T) {
	c := testkit.RealCluster(t)
	for _, pol := range []samsa.ErrorPolicy{samsa.Skip, samsa.DeadLetter} {
		t.Run(pol.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			in, dlq := c.Topic(t, "big-in", 1), c.Topic(t, "big-dlq", 1)
			out := testkit.UniqueName("big-out")
			small := "2000"
			if err := c.CreateTopic(ctx, out, 1, map[string]*string{"max.message.bytes": &small}); err != nil {
				t.Fatal(err)
			}
			top := topology.New()
			s := topology.StreamOf(top, serde.String, serde.String, in)
			topology.MapValues(s, func(_, v string) string {
				if v == "inflate" {
					return strings.Repeat("x", 50000) // over the topic's limit
				}
				return v
			}).To(out, serde.String, serde.String)
			var recs []*kgo.Record
			for i := range 20 {
				v := "ok-" + strconv.Itoa(i)
				if i == 10 {
					v = "inflate"
				}
				recs = append(recs, &kgo.Record{Topic: in, Key: []byte("k"), Value: []byte(v)})
			}
			if err := c.Produce(ctx, true, recs...); err != nil {
				t.Fatal(err)
			}
			app, err := samsa.New(top, samsa.Config{ApplicationID: testkit.UniqueName("big-app"), Bootstrap: c.Bootstrap,
				StateDir: t.TempDir(), CommitInterval: 100 * time.Millisecond,
				Errors: samsa.ErrorPolicies{Production: pol}, DeadLetterTopic: dlq, Logger: testkit.Logger(t, slog.LevelWarn)})
			if err != nil {
				t.Fatal(err)
			}
			runUntil(t, app, 20)
			got, err := c.ReadTopic(ctx, out)
			if err != nil {
				t.Fatal(err)
			}
			if len(got[0]) != 19 {
				t.Errorf("%d records out, want 19", len(got[0]))
			}
			if pol == samsa.Skip && app.Skipped() != 1 {
				t.Errorf("skipped %d, want 1", app.Skipped())
			}
			if pol == samsa.DeadLetter {
				dl, err := c.ReadTopic(ctx, dlq)
				if err != nil {
					t.Fatal(err)
				}
				if len(dl[0]) != 1 || string(dl[0][0].Value) != "inflate" {
					t.Fatalf("dead letters %v, want the original input", dl[0])
				}
			}
		})
	}
}
