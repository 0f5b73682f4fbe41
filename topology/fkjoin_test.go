package topology_test

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// orderCustomer is the foreign key of an order "customer:item".
func orderCustomer(_, order string) (string, bool) {
	c, _, ok := strings.Cut(order, ":")
	return c, ok && c != ""
}

// fkTopology joins orders with customers on the customer id, inner or
// left, writing "order|customer" (customer "none" when missing) to out.
func fkTopology(left bool) *topology.Topology {
	top := topology.New()
	orders := topology.TableOf(top, "orders", "orders-store", serde.String, serde.String)
	customers := topology.TableOf(top, "customers", "customers-store", serde.String, serde.String)
	serdes := topology.FKSerdes[string, string, string, string, string]{Value: serde.String, ForeignValue: serde.String}
	var joined topology.Table[string, string]
	if left {
		joined = topology.FKLeftJoin(orders, customers, "fk", orderCustomer, func(_, o, c string, found bool) string {
			if !found {
				c = "none"
			}
			return o + "|" + c
		}, serdes)
	} else {
		joined = topology.FKJoin(orders, customers, "fk", orderCustomer, func(_, o, c string) string { return o + "|" + c }, serdes)
	}
	joined.ToStream().To("out", serde.String, serde.String)
	return top
}

// readTable reads a table's changelog topic into its final contents: a
// tombstone deletes its key.
func readTable(t *testing.T, out *testkit.Output[string, string]) map[string]string {
	t.Helper()
	m := map[string]string{}
	for !out.IsEmpty() {
		r, err := out.ReadRecord()
		if err != nil {
			t.Fatal(err)
		}
		if r.IsTombstone() {
			delete(m, r.Key)
		} else {
			m[r.Key] = r.Value
		}
	}
	return m
}

// TestFKJoinRandomOnSeveralPartitions: after random updates of orders
// (customer changes, orders without a customer, deletes) and customers
// (updates, deletes) on 4 partitions (and customers on 3, so that the two
// tables are not co-partitioned), the joined table holds, for every order,
// the join of its final value with its customer's final value, whatever
// partitions the orders, the customers and the subscriptions are on, and
// across a restart halfway.
func TestFKJoinRandomOnSeveralPartitions(t *testing.T) {
	for _, c := range []struct {
		left          bool
		customerParts int32
	}{{false, 4}, {true, 4}, {false, 3}, {true, 3}} {
		t.Run(fmt.Sprintf("left=%v/customers=%d", c.left, c.customerParts), func(t *testing.T) {
			d, err := testkit.NewDriver(fkTopology(c.left), testkit.DriverConfig{
				DefaultPartitions: 4, Partitions: map[string]int32{"customers": c.customerParts},
			})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			for topic, want := range map[string]int32{
				"driver-fk-subscription-registration-topic": c.customerParts,
				"driver-fk-subscription-response-topic":     4,
			} {
				if n := d.PartitionCount(topic); n != want {
					t.Errorf("%s: %d partitions, want %d", topic, n, want)
				}
			}
			orders := testkit.InputTopic(d, "orders", serde.String, serde.String)
			customers := testkit.InputTopic(d, "customers", serde.String, serde.String)
			rnd := rand.New(rand.NewPCG(7, uint64(c.customerParts)))
			wantOrders, wantCustomers := map[string]string{}, map[string]string{}
			ts := time.UnixMilli(0)
			for i := range 600 {
				if i == 300 {
					// The tasks restart with what they committed:
					// later customer updates still find the orders
					// that subscribed before.
					if err := d.Restart(); err != nil {
						t.Fatal(err)
					}
				}
				ts = ts.Add(time.Duration(rnd.IntN(3)) * time.Millisecond)
				if rnd.IntN(10) < 6 {
					k := fmt.Sprintf("o%d", rnd.IntN(12))
					switch r := rnd.IntN(10); {
					case r == 0:
						err = orders.PipeTombstone(k, ts)
						delete(wantOrders, k)
					case r == 1:
						v := fmt.Sprintf("none-%d", i)
						err = orders.PipeAt(k, v, ts)
						wantOrders[k] = v
					default:
						v := fmt.Sprintf("c%d:%d", rnd.IntN(5), i)
						err = orders.PipeAt(k, v, ts)
						wantOrders[k] = v
					}
				} else {
					k := fmt.Sprintf("c%d", rnd.IntN(5))
					if rnd.IntN(5) == 0 {
						err = customers.PipeTombstone(k, ts)
						delete(wantCustomers, k)
					} else {
						v := fmt.Sprintf("C%d", i)
						err = customers.PipeAt(k, v, ts)
						wantCustomers[k] = v
					}
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			want := map[string]string{}
			for k, o := range wantOrders {
				cust, hasFK := orderCustomer(k, o)
				v, found := wantCustomers[cust]
				switch {
				case hasFK && found:
					want[k] = o + "|" + v
				case c.left:
					want[k] = o + "|none"
				}
			}
			got := readTable(t, testkit.OutputTopic(d, "out", serde.String, serde.String))
			for _, k := range slices.Sorted(func(yield func(string) bool) {
				for k := range want {
					if !yield(k) {
						return
					}
				}
				for k := range got {
					if _, ok := want[k]; !ok && !yield(k) {
						return
					}
				}
			}) {
				if got[k] != want[k] {
					t.Errorf("%s: joined %q, want %q", k, got[k], want[k])
				}
			}
			if len(want) < 3 {
				t.Fatalf("only %d joined orders: the input exercises too little", len(want))
			}
		})
	}
}

// TestFKJoinDropsStaleResponses: a response whose hash is not that of the
// left key's current value (a response to an older value, which on several
// partitions may arrive after the newer value's) is dropped; one with the
// current value's hash is joined. The responses are piped as raw bytes into
// the response topic: a flags byte (1: hash, 2: right value), 16 bytes of
// hash, the right value.
func TestFKJoinDropsStaleResponses(t *testing.T) {
	d, err := testkit.NewDriver(fkTopology(false), testkit.DriverConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := testkit.InputTopic(d, "orders", serde.String, serde.String).Pipe("o1", "c1:new"); err != nil {
		t.Fatal(err)
	}
	responses := testkit.InputTopic(d, "driver-fk-subscription-response-topic", serde.String, serde.Bytes)
	response := func(leftValue, right string) []byte {
		h := sha256.Sum256([]byte(leftValue))
		return append(append([]byte{3}, h[:16]...), right...)
	}
	for _, r := range []struct{ left, right string }{{"c1:old", "stale"}, {"c1:new", "fresh"}} {
		if err := responses.Pipe("o1", response(r.left, r.right)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := testkit.OutputTopic(d, "out", serde.String, serde.String).ReadKeyValues()
	if err != nil {
		t.Fatal(err)
	}
	if want := []processor.KeyValue[string, string]{{Key: "o1", Value: "c1:new|fresh"}}; !slices.Equal(got, want) {
		t.Errorf("joined %v, want %v", got, want)
	}
}

// TestFKJoinNames: the join's topics and subscription store are named
// after its name as Kafka Streams names them, its result store
// <name>-result-store, both stores are logged, and Describe shows the
// topics without the application id.
func TestFKJoinNames(t *testing.T) {
	top := fkTopology(true)
	c, err := top.Compile("app")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"app-customers-store-changelog",
		"app-fk-result-store-changelog",
		"app-fk-subscription-registration-topic",
		"app-fk-subscription-response-topic",
		"app-fk-subscription-store-changelog",
		"app-orders-store-changelog",
	}
	if got := c.InternalTopics(); !slices.Equal(got, want) {
		t.Errorf("internal topics %v, want %v", got, want)
	}
	desc, err := top.Describe()
	if err != nil {
		t.Fatal(err)
	}
	s := desc.String()
	for _, want := range []string{"(topic: fk-subscription-registration-topic)", "(topics: [fk-subscription-response-topic])", "fk-subscription-store", "fk-result-store"} {
		if !strings.Contains(s, want) {
			t.Errorf("description lacks %q:\n%s", want, s)
		}
	}
	if c.Subtopologies() != 2 {
		t.Errorf("%d sub-topologies, want 2 (the orders' and the customers')", c.Subtopologies())
	}
}

// TestFKJoinNeedsSerdes: a value or result type samsa has no serde for
// must be given one in FKSerdes; Validate says so.
func TestFKJoinNeedsSerdes(t *testing.T) {
	type order struct{ Customer string }
	top := topology.New()
	orders := topology.TableOf(top, "orders", "orders-store", serde.String, serde.JSON[order]())
	customers := topology.TableOf(top, "customers", "customers-store", serde.String, serde.String)
	fk := func(_ string, o order) (string, bool) { return o.Customer, o.Customer != "" }
	joiner := func(_ string, o order, c string) string { return o.Customer + c }
	topology.FKJoin(orders, customers, "fk", fk, joiner, topology.FKSerdes[string, order, string, string, string]{})
	if err := top.Validate(); err == nil || !strings.Contains(err.Error(), "FKSerdes") {
		t.Errorf("Validate: %v, want an error naming FKSerdes", err)
	}
	top2 := topology.New()
	orders = topology.TableOf(top2, "orders", "orders-store", serde.String, serde.JSON[order]())
	customers = topology.TableOf(top2, "customers", "customers-store", serde.String, serde.String)
	topology.FKJoin(orders, customers, "fk", fk, joiner, topology.FKSerdes[string, order, string, string, string]{Value: serde.JSON[order]()}).
		ToStream().To("out", serde.String, serde.String)
	if err := top2.Validate(); err != nil {
		t.Errorf("Validate with the value serde: %v", err)
	}
	// A result type samsa has no serde for needs FKSerdes.Result (the
	// result store keeps it).
	type line struct{ Customer, Name string }
	lineOf := func(_ string, o order, c string) line { return line{o.Customer, c} }
	top3 := topology.New()
	orders = topology.TableOf(top3, "orders", "orders-store", serde.String, serde.JSON[order]())
	customers = topology.TableOf(top3, "customers", "customers-store", serde.String, serde.String)
	topology.FKJoin(orders, customers, "fk", fk, lineOf, topology.FKSerdes[string, order, string, string, line]{Value: serde.JSON[order]()})
	if err := top3.Validate(); err == nil || !strings.Contains(err.Error(), "(result)") {
		t.Errorf("Validate without the result serde: %v, want an error naming the result", err)
	}
	top4 := topology.New()
	orders = topology.TableOf(top4, "orders", "orders-store", serde.String, serde.JSON[order]())
	customers = topology.TableOf(top4, "customers", "customers-store", serde.String, serde.String)
	topology.FKJoin(orders, customers, "fk", fk, lineOf, topology.FKSerdes[string, order, string, string, line]{Value: serde.JSON[order](), Result: serde.JSON[line]()}).
		ToStream().To("out", serde.String, serde.JSON[line]())
	if err := top4.Validate(); err != nil {
		t.Errorf("Validate with the result serde: %v", err)
	}
}
