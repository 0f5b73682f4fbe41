package conformance

import (
	"strings"

	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/topology"
)

func init() {
	// orders.join(customers, customerOf, o + "|" + c, TableJoined.as("fk")).
	topologies["fkJoin"] = func() *topology.Topology {
		top, orders, customers := fkTables()
		topology.FKJoin(orders, customers, "fk", customerOf, func(_, o, c string) string { return o + "|" + c },
			topology.FKSerdes[string, string, string, string, string]{}).
			ToStream().To("out", serde.String, serde.String)
		return top
	}
	// orders.leftJoin(customers, ...): a missing customer is "none".
	topologies["fkLeftJoin"] = func() *topology.Topology {
		top, orders, customers := fkTables()
		topology.FKLeftJoin(orders, customers, "fk", customerOf, func(_, o, c string, found bool) string { return o + "|" + orNone(c, found) },
			topology.FKSerdes[string, string, string, string, string]{}).
			ToStream().To("out", serde.String, serde.String)
		return top
	}
	// orders.filter(no "x").mapValues(v + "!").join(customers.filter(not
	// empty), ...): both sides unmaterialized, read through their sources'
	// stores.
	topologies["fkJoinFiltered"] = func() *topology.Topology {
		top, orders, customers := fkTables()
		left := topology.TableMapValues(orders.Filter(func(_, v string) bool { return !strings.Contains(v, "x") }),
			func(_, v string) string { return v + "!" })
		right := customers.Filter(func(_, v string) bool { return v != "" })
		topology.FKJoin(left, right, "fk", customerOf, func(_, o, c string) string { return o + "|" + c },
			topology.FKSerdes[string, string, string, string, string]{}).
			ToStream().To("out", serde.String, serde.String)
		return top
	}
}

// fkTables returns the orders and customers tables of the foreign-key
// join topologies.
func fkTables() (*topology.Topology, topology.Table[string, string], topology.Table[string, string]) {
	top := topology.New()
	orders := topology.TableOf(top, "orders", "orders-store", serde.String, serde.String)
	customers := topology.TableOf(top, "customers", "customers-store", serde.String, serde.String)
	return top, orders, customers
}

// customerOf is FKJoinTopologies.customerOf: the customer id before the
// first colon of an order, none when there is no colon or nothing before
// it.
func customerOf(_, order string) (string, bool) {
	i := strings.IndexByte(order, ':')
	if i <= 0 {
		return "", false
	}
	return order[:i], true
}
