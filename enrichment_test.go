package samsa_test

import (
	"context"
	"encoding/json"
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

type (
	shopOrder struct {
		ID      string `json:"id"`
		Product string `json:"product"`
	}
	shopCustomer struct {
		Name string `json:"name"`
	}
	enrichedOrder struct {
		ID       string `json:"id"`
		Customer string `json:"customer"`
		Name     string `json:"name"`
	}
)

// enrichmentTopology joins orders (keyed by customer id) with the
// customers table, and counts orders per product (Map to the product, so
// the count reads through a repartition topic the DSL inserts).
func enrichmentTopology(orders, customers, enriched, perProduct string) *topology.Topology {
	top := topology.New()
	os := topology.StreamOf(top, serde.String, serde.JSON[shopOrder](), orders)
	cs := topology.TableOf(top, customers, "customers", serde.String, serde.JSON[shopCustomer]())
	topology.LeftJoin(os, cs, func(id string, o shopOrder, c shopCustomer, found bool) enrichedOrder {
		if !found {
			c.Name = "unknown"
		}
		return enrichedOrder{ID: o.ID, Customer: id, Name: c.Name}
	}).To(enriched, serde.String, serde.JSON[enrichedOrder]())
	byProduct := topology.Map(os, func(_ string, o shopOrder) (string, string) { return o.Product, o.ID })
	topology.Count(byProduct, "orders-per-product", serde.String).To(perProduct, serde.String, serde.Int64)
	return top
}

// TestEnrichmentAndGroupByOnTwoInstances runs an enrichment service (orders
// left-joined with a customers table that gets updates and deletes) and a
// count per product after a key change, on four partitions and two
// exactly-once instances, against the real broker. Every order is enriched
// exactly once with the customer's name as the table had it when the order
// was processed, and every product's counts read back (read_committed) are
// exactly 1, 2, …, n.
func TestEnrichmentAndGroupByOnTwoInstances(t *testing.T) {
	c := testkit.RealCluster(t)
	orders, customers := c.Topic(t, "enrich-orders", 4), c.Topic(t, "enrich-customers", 4)
	enriched, perProduct := c.Topic(t, "enrich-out", 4), c.Topic(t, "enrich-per-product", 4)
	appID := testkit.UniqueName("enrich-app")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	newApp := func(name string) *samsa.App {
		app, err := samsa.New(enrichmentTopology(orders, customers, enriched, perProduct), samsa.Config{
			ApplicationID: appID, Bootstrap: c.Bootstrap, Guarantee: samsa.ExactlyOnce,
			CommitInterval: 100 * time.Millisecond, InstanceID: name,
			CacheMaxBytes: -1, // every count is emitted, to be counted
			StateDir:      filepath.Join(t.TempDir(), name), Logger: testkit.Logger(t, 0).With("instance", name),
		})
		if err != nil {
			t.Fatal(err)
		}
		return app
	}
	a, b := testkit.Start(t, newApp("a")), testkit.Start(t, newApp("b"))

	produce := func(recs ...*kgo.Record) {
		t.Helper()
		if err := c.Produce(ctx, false, recs...); err != nil {
			t.Fatal(err)
		}
	}
	caughtUp := func(topic string) { waitCommitted(ctx, t, a, c, appID, topic) }
	customer := func(id, name string) *kgo.Record {
		v, _ := json.Marshal(shopCustomer{Name: name})
		if name == "" {
			v = nil // a delete
		}
		return &kgo.Record{Topic: customers, Key: []byte(id), Value: v}
	}
	products := []string{"book", "pen", "lamp", "mug", "desk"}
	order := func(i int) *kgo.Record {
		v, _ := json.Marshal(shopOrder{ID: fmt.Sprintf("o%04d", i), Product: products[i%len(products)]})
		return &kgo.Record{Topic: orders, Key: []byte(fmt.Sprintf("c%02d", i%20)), Value: v}
	}
	var recs []*kgo.Record
	for i := range 20 {
		recs = append(recs, customer(fmt.Sprintf("c%02d", i), fmt.Sprintf("first-%02d", i)))
	}
	produce(recs...)
	caughtUp(customers)
	recs = recs[:0]
	for i := range 1000 {
		recs = append(recs, order(i))
	}
	produce(recs...)
	caughtUp(orders)
	// Rename c00..c09, delete c10..c14.
	recs = recs[:0]
	for i := range 15 {
		name := ""
		if i < 10 {
			name = fmt.Sprintf("second-%02d", i)
		}
		recs = append(recs, customer(fmt.Sprintf("c%02d", i), name))
	}
	produce(recs...)
	caughtUp(customers)
	recs = recs[:0]
	for i := 1000; i < 2000; i++ {
		recs = append(recs, order(i))
	}
	produce(recs...)
	caughtUp(orders)
	// The repartition topic is written in transactions (its end offset
	// counts their markers): wait for the counts themselves.
	a.WaitFor(t, 90*time.Second, "2,000 counts", func() bool { return len(readAll(t, c, perProduct)) >= 2000 })

	for name, r := range map[string]*testkit.Running{"a": a, "b": b} {
		if err, stopped := r.Err(); stopped {
			t.Fatalf("instance %s stopped: %v", name, err)
		}
	}
	seen := map[string]int{}
	for _, r := range readAll(t, c, enriched) {
		var e enrichedOrder
		if err := json.Unmarshal(r.Value, &e); err != nil {
			t.Fatal(err)
		}
		seen[e.ID]++
		var i, cust int
		fmt.Sscanf(e.ID, "o%d", &i)
		fmt.Sscanf(e.Customer, "c%d", &cust)
		want := fmt.Sprintf("first-%02d", cust)
		if i >= 1000 {
			switch {
			case cust < 10:
				want = fmt.Sprintf("second-%02d", cust)
			case cust < 15:
				want = "unknown"
			}
		}
		if e.Name != want {
			t.Errorf("order %s of %s enriched with %q, want %q", e.ID, e.Customer, e.Name, want)
		}
	}
	if len(seen) != 2000 {
		t.Fatalf("%d distinct orders enriched, want 2000", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("order %s enriched %d times", id, n)
		}
	}
	counts := map[string][]int64{}
	for _, r := range readAll(t, c, perProduct) {
		n, err := serde.Int64.Deserialize(perProduct, r.Value)
		if err != nil {
			t.Fatal(err)
		}
		counts[string(r.Key)] = append(counts[string(r.Key)], n)
	}
	for _, p := range products {
		seq := counts[p]
		if len(seq) != 400 {
			t.Errorf("product %s: %d counts, want 400", p, len(seq))
		}
		for i, n := range seq {
			if n != int64(i+1) {
				t.Fatalf("product %s: count #%d is %d (a count per partition, or a duplicate): %v", p, i+1, n, seq[:min(len(seq), 20)])
			}
		}
	}
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
}

// waitCommitted waits until the group appID committed every record of
// topic (its end offset on every partition; for a topic written without
// transactions).
func waitCommitted(ctx context.Context, t *testing.T, r *testkit.Running, c *testkit.Cluster, appID, topic string) {
	t.Helper()
	r.WaitFor(t, 90*time.Second, topic+" committed", func() bool {
		ends, err := c.EndOffsets(ctx, topic)
		if err != nil {
			return false
		}
		committed, err := c.CommittedOffsets(ctx, appID)
		if err != nil {
			return false
		}
		for p, end := range ends {
			if committed[topic][p] < end {
				return false
			}
		}
		return true
	})
}
