// Command enrichment is an enrichment microservice: orders, keyed by
// customer id, joined with the customers table (a compacted topic of
// customer records, updates and deletes) into enriched orders. An order
// whose customer is unknown is kept, with the name "unknown" (a left join).
//
//	go run ./examples/enrichment            # on an embedded cluster
//	go run ./examples/enrichment -bootstrap host:port
package main

import (
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/topology"
)

// Order is a record of the orders topic, keyed by customer id.
type Order struct {
	ID     string  `json:"id"`
	Amount float64 `json:"amount"`
}

// Customer is a record of the customers topic, keyed by customer id; a
// tombstone deletes the customer.
type Customer struct {
	Name string `json:"name"`
	Tier string `json:"tier"`
}

// EnrichedOrder is what the service writes, keyed by customer id.
type EnrichedOrder struct {
	ID       string  `json:"id"`
	Amount   float64 `json:"amount"`
	Customer string  `json:"customer"`
	Tier     string  `json:"tier"`
}

// Topics names the service's topics.
type Topics struct {
	Orders, Customers, Enriched string
}

// Build returns the enrichment topology.
func Build(t Topics) *topology.Topology {
	top := topology.New()
	orders := topology.StreamOf(top, serde.String, serde.JSON[Order](), t.Orders)
	customers := topology.TableOf(top, t.Customers, "customers", serde.String, serde.JSON[Customer]())
	topology.LeftJoin(orders, customers, func(_ string, o Order, c Customer, found bool) EnrichedOrder {
		if !found {
			c = Customer{Name: "unknown", Tier: "none"}
		}
		return EnrichedOrder{ID: o.ID, Amount: o.Amount, Customer: c.Name, Tier: c.Tier}
	}).To(t.Enriched, serde.String, serde.JSON[EnrichedOrder]())
	return top
}
