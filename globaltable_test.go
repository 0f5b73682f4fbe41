package samsa_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// globalJoinTopology joins orders (keyed by order id, valued by product id)
// with the global table of products, on the order's value: an inner join
// into joined and a left join into leftJoined ("missing" for a product the
// table does not have).
func globalJoinTopology(orders, products, joined, leftJoined string) *topology.Topology {
	top := topology.New()
	os := topology.StreamOf(top, serde.String, serde.String, orders)
	ps := topology.GlobalTableOf(top, products, "products", serde.String, serde.String)
	byProduct := func(_, product string) string { return product }
	topology.JoinGlobal(os, ps, byProduct, func(_, _, name string) string { return name }).
		To(joined, serde.String, serde.String)
	topology.LeftJoinGlobal(os, ps, byProduct, func(_, _, name string, found bool) string {
		if !found {
			return "missing"
		}
		return name
	}).To(leftJoined, serde.String, serde.String)
	return top
}

// TestGlobalTableJoinEmbedded runs the global table joins on the embedded
// cluster, under exactly-once.
func TestGlobalTableJoinEmbedded(t *testing.T) {
	testGlobalTableJoin(t, testkit.EmbeddedCluster(t), samsa.ExactlyOnce)
}

// TestGlobalTableJoinReal runs the global table joins on the real broker,
// under both guarantees.
func TestGlobalTableJoinReal(t *testing.T) {
	c := testkit.RealCluster(t)
	for _, g := range []samsa.Guarantee{samsa.ExactlyOnce, samsa.AtLeastOnce} {
		t.Run(fmt.Sprint(g), func(t *testing.T) { testGlobalTableJoin(t, c, g) })
	}
}

// testGlobalTableJoin checks an App whose stream (3 partitions) joins a
// global table read from a topic of 2 partitions (no co-partitioning):
//
//   - the products written before the App starts, the last of them in a
//     committed transaction followed by an aborted one (each partition of
//     the topic ends with a transaction marker), are all in the table
//     before the first order is processed: every order written before the
//     start is joined with them, and none with an aborted value;
//   - updates written during the run are seen by the orders processed
//     after them;
//   - a new App of the same application id restores the table again,
//     with the updates of the first run and those written while no App
//     ran.
func testGlobalTableJoin(t *testing.T, c *testkit.Cluster, g samsa.Guarantee) {
	orders, products := c.Topic(t, "global-orders", 3), c.Topic(t, "global-products", 2)
	joined, leftJoined := c.Topic(t, "global-joined", 3), c.Topic(t, "global-left", 3)
	appID := testkit.UniqueName("global-app")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	newApp := func(name string) *samsa.App {
		app, err := samsa.New(globalJoinTopology(orders, products, joined, leftJoined), samsa.Config{
			ApplicationID: appID, Bootstrap: c.Bootstrap, Guarantee: g,
			CommitInterval: 100 * time.Millisecond, StateDir: filepath.Join(t.TempDir(), name),
			Logger: testkit.Logger(t, 0).With("instance", name),
		})
		if err != nil {
			t.Fatal(err)
		}
		return app
	}

	// model is the table as the products topic has it (committed).
	model := map[string]string{}
	product := func(id, name string) *kgo.Record {
		r := &kgo.Record{Topic: products, Key: []byte(id)}
		if name != "" {
			r.Value = []byte(name)
		}
		return r
	}
	produce := func(recs ...*kgo.Record) {
		t.Helper()
		if err := c.Produce(ctx, false, recs...); err != nil {
			t.Fatal(err)
		}
	}
	setProducts := func(recs ...*kgo.Record) {
		t.Helper()
		produce(recs...)
		for _, r := range recs {
			if r.Value == nil {
				delete(model, string(r.Key))
			} else {
				model[string(r.Key)] = string(r.Value)
			}
		}
	}
	pid := func(i int) string { return fmt.Sprintf("p%02d", i) }

	// Before the start: 50 products, 5 of them deleted, then a committed
	// and an aborted transaction over p00..p09 (each partition ends with
	// the abort's marker).
	var recs []*kgo.Record
	for i := range 50 {
		recs = append(recs, product(pid(i), "v1-"+pid(i)))
	}
	setProducts(recs...)
	recs = recs[:0]
	for i := 40; i < 45; i++ {
		recs = append(recs, product(pid(i), ""))
	}
	setProducts(recs...)
	recs = recs[:0]
	for i := range 10 {
		recs = append(recs, product(pid(i), "v2-"+pid(i)))
	}
	produceTxn(ctx, t, c, true, recs...)
	for _, r := range recs {
		model[string(r.Key)] = string(r.Value)
	}
	recs = recs[:0]
	for i := range 10 {
		recs = append(recs, product(pid(i), "aborted-"+pid(i)))
	}
	produceTxn(ctx, t, c, false, recs...)
	if ends, err := c.EndOffsets(ctx, products); err != nil {
		t.Fatal(err)
	} else if len(ends) != 2 {
		t.Fatalf("products has %d partitions, want 2", len(ends))
	}

	// want is the expected join of each order, as the table was when the
	// order was written (and then processed: the App sees the update
	// before the order).
	want := map[string]string{}
	order := func(id string, p int) *kgo.Record {
		name, ok := model[pid(p)]
		if !ok {
			name = "missing"
		}
		want[id] = name
		return &kgo.Record{Topic: orders, Key: []byte(id), Value: []byte(pid(p))}
	}
	orderBatch := func(phase string) {
		t.Helper()
		recs := make([]*kgo.Record, 0, 200)
		for i := range 200 {
			recs = append(recs, order(fmt.Sprintf("%s-%03d", phase, i), i%50))
		}
		produce(recs...)
	}
	orderBatch("before")

	app := newApp("a")
	run := testkit.Start(t, app)
	caughtUp := func(r *testkit.Running) { waitCommitted(ctx, t, r, c, appID, orders) }
	caughtUp(run)
	checkJoins(t, c, joined, leftJoined, want)

	// During the run: p10 renamed, p40 back. Probe orders until both
	// updates show, then every later order sees them.
	setProducts(product(pid(10), "v3-"+pid(10)), product(pid(40), "v3-"+pid(40)))
	deadline := time.Now().Add(60 * time.Second)
	for probe := 0; ; probe++ {
		ids := [2]string{fmt.Sprintf("probe-%03d-10", probe), fmt.Sprintf("probe-%03d-40", probe)}
		produce(&kgo.Record{Topic: orders, Key: []byte(ids[0]), Value: []byte(pid(10))},
			&kgo.Record{Topic: orders, Key: []byte(ids[1]), Value: []byte(pid(40))})
		caughtUp(run)
		got := lastValues(t, c, leftJoined)
		if got[ids[0]] == "v3-p10" && got[ids[1]] == "v3-p40" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the updates of the global topic were not seen within 60s: probes joined with %q and %q", got[ids[0]], got[ids[1]])
		}
		time.Sleep(100 * time.Millisecond)
	}
	orderBatch("during")
	caughtUp(run)
	checkJoins(t, c, joined, leftJoined, want)
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}

	// While no App runs: p11 renamed, p12 deleted. A new App restores the
	// table from the topic again.
	setProducts(product(pid(11), "v4-"+pid(11)), product(pid(12), ""))
	orderBatch("after")
	run = testkit.Start(t, newApp("b"))
	caughtUp(run)
	checkJoins(t, c, joined, leftJoined, want)
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}
}

// produceTxn writes records in one transaction, committed or aborted.
func produceTxn(ctx context.Context, t *testing.T, c *testkit.Cluster, commit bool, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap...), kgo.TransactionalID(testkit.UniqueName("global-txn")))
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

// lastValues reads a topic (read_committed) into the last value of each key.
func lastValues(t *testing.T, c *testkit.Cluster, topic string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, r := range readAll(t, c, topic) {
		out[string(r.Key)] = string(r.Value)
	}
	return out
}

// checkJoins checks that every order of want was joined as want says,
// exactly once: in leftJoined always, in joined unless "missing"; and that
// neither output has an order want does not know (probes aside).
func checkJoins(t *testing.T, c *testkit.Cluster, joined, leftJoined string, want map[string]string) {
	t.Helper()
	for _, out := range []struct {
		topic string
		inner bool
	}{{joined, true}, {leftJoined, false}} {
		seen := map[string]int{}
		for _, r := range readAll(t, c, out.topic) {
			id, v := string(r.Key), string(r.Value)
			if len(id) > 6 && id[:6] == "probe-" {
				continue
			}
			seen[id]++
			w, ok := want[id]
			switch {
			case !ok:
				t.Errorf("%s: unexpected order %q (%q)", out.topic, id, v)
			case out.inner && w == "missing":
				t.Errorf("%s: order %q of a missing product joined with %q", out.topic, id, v)
			case v != w:
				t.Errorf("%s: order %q joined with %q, want %q", out.topic, id, v, w)
			}
		}
		for id, w := range want {
			switch n := seen[id]; {
			case out.inner && w == "missing":
			case n != 1:
				t.Errorf("%s: order %q output %d times, want once", out.topic, id, n)
			}
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}
