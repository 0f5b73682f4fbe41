package samsa_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/internal/runtime"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// tableJoinAfterOrders makes a table topic of 200 names and an orders
// topic of 200 orders produced after them (both named after prefix), and
// the join of the orders with the table to the topic out.
func tableJoinAfterOrders(t *testing.T, c *testkit.Cluster, prefix string) (top *topology.Topology, table, orders, out string) {
	t.Helper()
	table, orders, out = c.Topic(t, prefix+"-table", 1), c.Topic(t, prefix+"-orders", 1), c.Topic(t, prefix+"-joined", 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, side := range []struct{ topic, value string }{{table, "name"}, {orders, "order"}} {
		var recs []*kgo.Record
		for i := range 200 {
			recs = append(recs, &kgo.Record{Topic: side.topic, Key: fmt.Appendf(nil, "k%03d", i), Value: fmt.Appendf(nil, "%s-%03d", side.value, i)})
		}
		if err := c.Produce(ctx, false, recs...); err != nil {
			t.Fatal(err)
		}
	}
	top = topology.New()
	os := topology.StreamOf(top, serde.String, serde.String, orders)
	ts := topology.TableOf(top, table, "names", serde.String, serde.String)
	topology.Join(os, ts, func(_ string, o, name string) string { return o + "@" + name }).To(out, serde.String, serde.String)
	return top, table, orders, out
}

// TestMaxTaskIdleWaitsForTheTable runs a stream–table join whose table
// topic (200 records) is fetched 2s late, after 200 orders that were
// produced after the table. With MaxTaskIdle 0 (default) the task waits
// for the table, which is known to have records, and joins every order;
// with MaxTaskIdle -1 (never wait) it processes the orders first and joins
// fewer: the test can fail.
func TestMaxTaskIdleWaitsForTheTable(t *testing.T) {
	c := testkit.RealCluster(t)
	run := func(t *testing.T, maxIdle time.Duration) int {
		top, table, _, out := tableJoinAfterOrders(t, c, "idle")
		// The table's first fetch comes 2s after the task starts.
		defer runtime.DelayFetchForTest(table, 2*time.Second)()
		appID := testkit.UniqueName("idle-app")
		app, err := samsa.New(top, samsa.Config{
			ApplicationID: appID, Bootstrap: c.Bootstrap, CommitInterval: 100 * time.Millisecond,
			MaxTaskIdle: maxIdle, StateDir: t.TempDir(), Logger: testkit.Logger(t, 0),
		})
		if err != nil {
			t.Fatal(err)
		}
		r := testkit.Start(t, app)
		r.WaitFor(t, 90*time.Second, "400 records processed", func() bool { return app.Processed() >= 400 })
		if err := r.Stop(); err != nil {
			t.Fatal(err)
		}
		joined := readAll(t, c, out)
		for _, rec := range joined {
			if want := "order-" + string(rec.Key[1:]) + "@name-" + string(rec.Key[1:]); string(rec.Value) != want {
				t.Errorf("order %s joined as %q, want %q", rec.Key, rec.Value, want)
			}
		}
		return len(joined)
	}
	t.Run("default waits", func(t *testing.T) {
		if n := run(t, 0); n != 200 {
			t.Errorf("%d orders of 200 joined with MaxTaskIdle 0: the task did not wait for the table", n)
		}
	})
	t.Run("never wait", func(t *testing.T) {
		if n := run(t, -1); n >= 200 {
			t.Errorf("%d orders of 200 joined with MaxTaskIdle -1: the table was not fetched late, the test proves nothing", n)
		} else {
			t.Logf("%d orders of 200 joined without waiting", n)
		}
	})
}

// TestMaxTaskIdleWaitsForAnEmptyInput runs a stream–table left join whose
// table topic is empty (caught up from the start): with MaxTaskIdle d the
// task waits d for table records before it processes the orders, then
// processes them all ("enforced processing").
func TestMaxTaskIdleWaitsForAnEmptyInput(t *testing.T) {
	const idle = 2 * time.Second
	c := testkit.RealCluster(t)
	table, orders, out := c.Topic(t, "idle-empty-table", 1), c.Topic(t, "idle-early-orders", 1), c.Topic(t, "idle-left", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var recs []*kgo.Record
	for i := range 50 {
		recs = append(recs, &kgo.Record{Topic: orders, Key: fmt.Appendf(nil, "k%03d", i), Value: []byte("order")})
	}
	if err := c.Produce(ctx, false, recs...); err != nil {
		t.Fatal(err)
	}
	var running, first atomic.Int64 // unix nanoseconds
	top := topology.New()
	os := topology.StreamOf(top, serde.String, serde.String, orders)
	ts := topology.TableOf(top, table, "names", serde.String, serde.String)
	topology.LeftJoin(os, ts, func(_ string, o, _ string, found bool) string {
		first.CompareAndSwap(0, time.Now().UnixNano())
		return fmt.Sprint(o, found)
	}).To(out, serde.String, serde.String)
	app, err := samsa.New(top, samsa.Config{
		ApplicationID: testkit.UniqueName("idle-empty-app"), Bootstrap: c.Bootstrap, CommitInterval: 100 * time.Millisecond,
		MaxTaskIdle: idle, StateDir: filepath.Join(t.TempDir(), "state"), Logger: testkit.Logger(t, 0),
		StateListener: func(_, s samsa.State) {
			if s == samsa.StateRunning {
				running.CompareAndSwap(0, time.Now().UnixNano())
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := testkit.Start(t, app)
	r.WaitFor(t, 90*time.Second, "50 orders processed", func() bool { return app.Processed() >= 50 })
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	if running.Load() == 0 || first.Load() == 0 {
		t.Fatalf("running at %d, first order joined at %d: one never happened", running.Load(), first.Load())
	}
	// The task is active (and its wait can begin) only once the app is
	// running: the first order comes at least MaxTaskIdle later.
	waited := time.Duration(first.Load() - running.Load())
	t.Logf("first order processed %s after the app was running (MaxTaskIdle %s)", waited, idle)
	if waited < idle {
		t.Errorf("first order processed %s after the app was running, before MaxTaskIdle %s", waited, idle)
	}
	if got := readAll(t, c, out); len(got) != 50 {
		t.Errorf("%d orders joined, want 50", len(got))
	}
}

// messages is a slog.Handler that keeps the messages logged, at every level.
type messages struct {
	mu   sync.Mutex
	msgs []string
}

func (m *messages) Enabled(context.Context, slog.Level) bool { return true }

func (m *messages) Handle(_ context.Context, r slog.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.msgs = append(m.msgs, r.Message)
	return nil
}

func (m *messages) WithAttrs([]slog.Attr) slog.Handler { return m }
func (m *messages) WithGroup(string) slog.Handler      { return m }

// containing returns the messages logged that contain s.
func (m *messages) containing(s string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, msg := range m.msgs {
		if strings.Contains(msg, s) {
			out = append(out, msg)
		}
	}
	return out
}

// TestMaxTaskIdleTransactionalTableIsCaughtUp joins orders with a table
// written in a transaction: its end offset counts the commit marker, which
// the consumer fetches after the last record. With MaxTaskIdle 0 the table
// is caught up once that marker is fetched, so the orders are processed
// without any enforced processing (which would mean the task waited for
// the bound: the marker's offset did not count).
func TestMaxTaskIdleTransactionalTableIsCaughtUp(t *testing.T) {
	c := testkit.RealCluster(t)
	table, orders, out := c.Topic(t, "idle-txn-table", 1), c.Topic(t, "idle-txn-orders", 1), c.Topic(t, "idle-txn-joined", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	txn, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap...), kgo.TransactionalID(testkit.UniqueName("idle-txn")))
	if err != nil {
		t.Fatal(err)
	}
	defer txn.Close()
	if err := txn.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		rec := &kgo.Record{Topic: table, Key: fmt.Appendf(nil, "k%02d", i), Value: fmt.Appendf(nil, "name-%02d", i)}
		if err := txn.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := txn.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for i := range 20 {
		recs = append(recs, &kgo.Record{Topic: orders, Key: fmt.Appendf(nil, "k%02d", i), Value: []byte("order")})
	}
	if err := c.Produce(ctx, false, recs...); err != nil {
		t.Fatal(err)
	}
	top := topology.New()
	os := topology.StreamOf(top, serde.String, serde.String, orders)
	ts := topology.TableOf(top, table, "names", serde.String, serde.String)
	topology.Join(os, ts, func(_ string, o, name string) string { return o + "@" + name }).To(out, serde.String, serde.String)
	logs := &messages{}
	app, err := samsa.New(top, samsa.Config{
		ApplicationID: testkit.UniqueName("idle-txn-app"), Bootstrap: c.Bootstrap, CommitInterval: 100 * time.Millisecond,
		StateDir: t.TempDir(), Logger: slog.New(logs),
	})
	if err != nil {
		t.Fatal(err)
	}
	r := testkit.Start(t, app)
	r.WaitFor(t, 90*time.Second, "40 records processed", func() bool { return app.Processed() >= 40 })
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, c, out); len(got) != 20 {
		t.Errorf("%d orders joined, want 20", len(got))
	}
	if enforced := logs.containing("enforced processing"); len(enforced) > 0 {
		t.Errorf("enforced processing with a caught-up transactional table: %q", enforced)
	}
}

// TestExactlyOnceCommitsNoOffsetPastAHeldRecord runs the stream–table join
// of TestMaxTaskIdleWaitsForTheTable under exactly-once, its table fetched
// 3s late: while MaxTaskIdle's gate holds the 200 orders (polled, not
// processed), transactions commit every 100ms. No commit may move the
// orders' offset past a record not processed (a transaction commits the
// consumer's position, so a crash then would lose the orders held): the
// group's committed offset of the orders stays 0 until the table came,
// and every order is joined once in the end.
func TestExactlyOnceCommitsNoOffsetPastAHeldRecord(t *testing.T) {
	c := testkit.RealCluster(t)
	top, table, orders, out := tableJoinAfterOrders(t, c, "held")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const delay = 3 * time.Second
	defer runtime.DelayFetchForTest(table, delay)()
	appID := testkit.UniqueName("held-app")
	app, err := samsa.New(top, samsa.Config{
		ApplicationID: appID, Bootstrap: c.Bootstrap, Guarantee: samsa.ExactlyOnce,
		CommitInterval: 100 * time.Millisecond, StateDir: t.TempDir(), Logger: testkit.Logger(t, 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	r := testkit.Start(t, app)
	r.WaitFor(t, 60*time.Second, "running", func() bool { return app.State() == samsa.StateRunning })
	// The orders are polled and held; commits run meanwhile.
	deadline := time.Now().Add(delay - 500*time.Millisecond)
	checks := 0
	for time.Now().Before(deadline) && app.Processed() == 0 {
		committed, err := c.CommittedOffsets(ctx, appID)
		if err != nil {
			t.Fatal(err)
		}
		if off := committed[orders][0]; off > 0 {
			t.Fatalf("the group committed the orders up to offset %d with %d records processed: a crash now loses them", off, app.Processed())
		}
		checks++
		time.Sleep(100 * time.Millisecond)
	}
	if checks < 5 {
		t.Fatalf("only %d checks while the orders were held (processed %d): the table was not fetched late, the test proves nothing", checks, app.Processed())
	}
	r.WaitFor(t, 90*time.Second, "400 records processed", func() bool { return app.Processed() >= 400 })
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	joined := readAll(t, c, out)
	seen := map[string]int{}
	for _, rec := range joined {
		seen[string(rec.Key)]++
		if want := "order-" + string(rec.Key[1:]) + "@name-" + string(rec.Key[1:]); string(rec.Value) != want {
			t.Errorf("order %s joined as %q, want %q", rec.Key, rec.Value, want)
		}
	}
	if len(joined) != 200 || len(seen) != 200 {
		t.Errorf("%d joined records for %d orders, want 200 once each", len(joined), len(seen))
	}
}
