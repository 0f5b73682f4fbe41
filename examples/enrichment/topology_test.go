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

func TestEnrichment(t *testing.T) {
	d, err := testkit.NewDriver(Build(Topics{Orders: "orders", Customers: "customers", Enriched: "enriched"}), testkit.DriverConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	customers := testkit.InputTopic(d, "customers", serde.String, serde.JSON[Customer]())
	orders := testkit.InputTopic(d, "orders", serde.String, serde.JSON[Order]())
	out := testkit.OutputTopic(d, "enriched", serde.String, serde.JSON[EnrichedOrder]())
	now := time.Unix(0, 0)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(customers.PipeAt("c1", Customer{Name: "Ada", Tier: "gold"}, now))
	must(orders.PipeAt("c1", Order{ID: "o1", Amount: 10}, now))
	must(orders.PipeAt("c2", Order{ID: "o2", Amount: 20}, now)) // unknown customer
	must(customers.PipeAt("c1", Customer{Name: "Ada", Tier: "platinum"}, now))
	must(orders.PipeAt("c1", Order{ID: "o3", Amount: 30}, now))
	must(customers.PipeTombstone("c1", now))
	must(orders.PipeAt("c1", Order{ID: "o4", Amount: 40}, now))
	got, err := out.ReadValues()
	if err != nil {
		t.Fatal(err)
	}
	want := []EnrichedOrder{
		{ID: "o1", Amount: 10, Customer: "Ada", Tier: "gold"},
		{ID: "o2", Amount: 20, Customer: "unknown", Tier: "none"},
		{ID: "o3", Amount: 30, Customer: "Ada", Tier: "platinum"},
		{ID: "o4", Amount: 40, Customer: "unknown", Tier: "none"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("order %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestEnrichmentRuns runs the program as `go run` does, on an embedded
// cluster.
func TestEnrichmentRuns(t *testing.T) {
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := run.Run(ctx, example(), "", &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	// Which orders see which customer version depends on fetch timing on a
	// live cluster; the unknown customer c9 and the count do not.
	for _, want := range []string{"enriched-orders (5 records)", `c9 {"id":"o3","amount":7,"customer":"unknown","tier":"none"}`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %s:\n%s", want, out.String())
		}
	}
}
