package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa/internal/engine"
	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit/cluster"
	"github.com/samsa-streams/samsa/topology"
)

// globalApp returns an App for a topology with one global table of topic
// (string keys, values of the serde) joined by a stream of "in".
func globalApp[V any](t *testing.T, c *cluster.Cluster, topic string, value serde.Serde[V], policies Policies) *App {
	t.Helper()
	top := topology.New()
	in := topology.StreamOf(top, serde.String, serde.String, "in")
	g := topology.GlobalTableOf(top, topic, "products", serde.String, value)
	topology.JoinGlobal(in, g, func(_, v string) string { return v }, func(_, v string, _ V) string { return v }).
		To("out", serde.String, serde.String)
	appID := cluster.UniqueName("global-rt")
	compiled, err := top.Compile(appID)
	if err != nil {
		t.Fatal(err)
	}
	return New(compiled.(*engine.Plan), Config{
		ApplicationID: appID, Bootstrap: c.Bootstrap, TaskTimeout: 30 * time.Second, Errors: policies,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
}

// testWriter writes log lines to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// produceTxn writes records in one transaction, committed or aborted.
func produceTxn(ctx context.Context, t *testing.T, c *cluster.Cluster, commit bool, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap...), kgo.TransactionalID(cluster.UniqueName("txn")))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		t.Fatal(err)
	}
}

// TestGlobalRestoreBeforeStart: startGlobals returns with the global store
// holding every committed record of every partition of the topic — a large
// topic whose partitions end with transaction markers, an aborted
// transaction last — without the poll loop applying anything; later
// records reach the store only when the poll loop applies them
// (updateGlobals), never behind its back.
func TestGlobalRestoreBeforeStart(t *testing.T) {
	for _, kind := range []string{"embedded", "real"} {
		t.Run(kind, func(t *testing.T) {
			var c *cluster.Cluster
			if kind == "real" {
				c = realBroker(t)
			} else {
				var err error
				if c, err = cluster.Embedded(1); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(c.Close)
			}
			testGlobalRestoreBeforeStart(t, c)
		})
	}
}

func testGlobalRestoreBeforeStart(t *testing.T, c *cluster.Cluster) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	topic := cluster.UniqueName("global-topic")
	if err := c.CreateTopic(ctx, topic, 3, nil); err != nil {
		t.Fatal(err)
	}
	const n = 30000
	want := map[string]string{}
	var recs []*kgo.Record
	for i := range n {
		k, v := fmt.Sprintf("k%05d", i%(n/3)), fmt.Sprintf("v%d-%s", i/(n/3), strings.Repeat("x", 100))
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(k), Value: []byte(v)})
		want[k] = v
	}
	if err := c.Produce(ctx, false, recs...); err != nil {
		t.Fatal(err)
	}
	recs = recs[:0]
	for i := range 100 {
		k := fmt.Sprintf("k%05d", i)
		if i%2 == 0 {
			recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(k), Value: []byte("txn")})
			want[k] = "txn"
		} else {
			recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(k)}) // a delete
			delete(want, k)
		}
	}
	produceTxn(ctx, t, c, true, recs...)
	for _, r := range recs {
		r.Value = []byte("aborted")
	}
	produceTxn(ctx, t, c, false, recs...)

	a := globalApp(t, c, topic, serde.String, Policies{})
	gs, err := a.startGlobals(ctx, map[string]int32{topic: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer gs.close()
	a.globals = gs // as Run does
	store := gs.stores()["products"].(processor.KeyValueStore[string, string])
	check := func(want map[string]string) {
		t.Helper()
		got := map[string]string{}
		for kv, err := range store.All() {
			if err != nil {
				t.Fatal(err)
			}
			got[kv.Key] = kv.Value
		}
		if len(got) != len(want) {
			t.Fatalf("global store holds %d keys, want %d", len(got), len(want))
		}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("global store: %q = %.10q, want %.10q", k, got[k], v)
			}
		}
	}
	check(want)
	if got := a.Restored(); got != n+100 {
		t.Errorf("Restored = %d, want %d (the committed records)", got, n+100)
	}

	if err := c.Produce(ctx, false, &kgo.Record{Topic: topic, Key: []byte("new"), Value: []byte("late")}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // the reader fetches it meanwhile
	check(want)
	want["new"] = "late"
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := a.updateGlobals(); err != nil {
			t.Fatal(err)
		}
		if v, _, err := store.Get("new"); err != nil {
			t.Fatal(err)
		} else if v == "late" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the record written after the restore never reached the global store")
		}
		time.Sleep(50 * time.Millisecond)
	}
	check(want)
}

// TestGlobalUnreadableRecord: a record of a global topic that the serdes
// cannot read fails the restore under the Fail policy, naming the store,
// and is skipped (and counted) under Skip.
func TestGlobalUnreadableRecord(t *testing.T) {
	c, err := cluster.Embedded(1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	topic := cluster.UniqueName("global-topic")
	if err := c.CreateTopic(ctx, topic, 2, nil); err != nil {
		t.Fatal(err)
	}
	good, _ := serde.Int64.Serialize(topic, 7)
	if err := c.Produce(ctx, false,
		&kgo.Record{Topic: topic, Key: []byte("a"), Value: good},
		&kgo.Record{Topic: topic, Key: []byte("b"), Value: []byte("bad")}); err != nil {
		t.Fatal(err)
	}

	a := globalApp(t, c, topic, serde.Int64, Policies{Deserialization: engine.Fail})
	if gs, err := a.startGlobals(ctx, map[string]int32{topic: 2}); err == nil {
		gs.close()
		t.Fatal("startGlobals accepted an unreadable record under the Fail policy")
	} else if !strings.Contains(err.Error(), `global store "products"`) {
		t.Fatalf("startGlobals = %v, want an error naming the store", err)
	}

	a = globalApp(t, c, topic, serde.Int64, Policies{Deserialization: engine.Skip})
	gs, err := a.startGlobals(ctx, map[string]int32{topic: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer gs.close()
	store := gs.stores()["products"].(processor.KeyValueStore[string, int64])
	if v, ok, err := store.Get("a"); err != nil || !ok || v != 7 {
		t.Errorf("a = %d, %v, %v; want 7", v, ok, err)
	}
	if _, ok, err := store.Get("b"); err != nil || ok {
		t.Errorf("b: found %v (%v), want skipped", ok, err)
	}
	if a.Skipped() != 1 {
		t.Errorf("Skipped = %d, want 1", a.Skipped())
	}
}
