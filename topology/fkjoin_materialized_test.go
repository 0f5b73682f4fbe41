package topology_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// fkEnriched returns a topology with the orders and customers tables and
// their foreign-key join "fk" (inner), "order|customer".
func fkEnriched() (*topology.Topology, topology.Table[string, string]) {
	top := topology.New()
	orders := topology.TableOf(top, "orders", "orders-store", serde.String, serde.String)
	customers := topology.TableOf(top, "customers", "customers-store", serde.String, serde.String)
	joined := topology.FKJoin(orders, customers, "fk", orderCustomer, func(_, o, c string) string { return o + "|" + c },
		topology.FKSerdes[string, string, string, string, string]{})
	return top, joined
}

// TestFKJoinResultFiltered: a Filter after a foreign-key join reads the
// key's previous result from the result store as its old value: a result
// it rejects is a tombstone only when the filtered table had the key (o1
// at 40), and nothing when it did not (o2's results, its delete, o1's
// delete after its rejected value).
func TestFKJoinResultFiltered(t *testing.T) {
	top, joined := fkEnriched()
	joined.Filter(func(_, v string) bool { return !strings.Contains(v, "pear") }).
		ToStream().To("out", serde.String, serde.String)
	d := aggDriver(t, top, 1)
	pipeRaw(t, d, "orders", "o1", "c1:apple", 10)
	pipeRaw(t, d, "customers", "c1", "Ann", 20)
	pipeRaw(t, d, "orders", "o2", "c1:pear", 21)
	pipeRaw(t, d, "customers", "c1", "Anna", 30)
	pipeRaw(t, d, "orders", "o1", "c1:pear2", 40, "o2", nil, 50, "o3", "c9:x", 55, "o1", nil, 60, "o4", "c1:fig", 70)
	checkOut(t, readAll(t, d, "out", serde.String), []string{
		"o1=c1:apple|Ann@20", "o1=c1:apple|Anna@30", "o1=null@40", "o4=c1:fig|Anna@70",
	})
	checkOut(t, storeContents[string](t, d, "fk-result-store"), []string{"o4=c1:fig|Anna"})
}

// TestFKJoinResultJoinedWithStream: a stream of order events is enriched
// through the foreign-key join's result (a stream-table join looking it
// up in its store): an event sees the result as it is when it comes,
// nothing before the customer is there or after the order moved to a
// missing customer; LeftJoin joins those with none.
func TestFKJoinResultJoinedWithStream(t *testing.T) {
	top, joined := fkEnriched()
	events := topology.StreamOf(top, serde.String, serde.String, "in")
	topology.Join(events, joined, func(_, e, v string) string { return e + ">" + v }).To("out", serde.String, serde.String)
	topology.LeftJoin(events, joined, func(_, e, v string, found bool) string {
		if !found {
			v = "none"
		}
		return e + ">" + v
	}).To("out-left", serde.String, serde.String)
	d := aggDriver(t, top, 2)
	pipeRaw(t, d, "orders", "o1", "c1:apple", 10)
	pipeRaw(t, d, "in", "o1", "e1", 11)
	pipeRaw(t, d, "customers", "c1", "Ann", 20)
	pipeRaw(t, d, "in", "o1", "e2", 21)
	pipeRaw(t, d, "orders", "o1", "c2:apple", 30)
	pipeRaw(t, d, "in", "o1", "e3", 31)
	pipeRaw(t, d, "customers", "c2", "Bob", 40)
	pipeRaw(t, d, "in", "o1", "e4", 41)
	pipeRaw(t, d, "customers", "c2", "Bobby", 50)
	pipeRaw(t, d, "in", "o1", "e5", 51, "o2", "e6", 52)
	checkOut(t, readAll(t, d, "out", serde.String), []string{
		"o1=e2>c1:apple|Ann@21", "o1=e4>c2:apple|Bob@41", "o1=e5>c2:apple|Bobby@51",
	})
	checkOut(t, readAll(t, d, "out-left", serde.String), []string{
		"o1=e1>none@11", "o1=e2>c1:apple|Ann@21", "o1=e3>none@31", "o1=e4>c2:apple|Bob@41", "o1=e5>c2:apple|Bobby@51", "o2=e6>none@52",
	})
}

// TestFKJoinResultGroupedAndCounted: the foreign-key join's result grouped
// by customer name and counted: a result moving to another customer is
// subtracted from its old group (its old value read from the result
// store), a deleted result from its group. The record cache is off, so
// that every count is emitted.
func TestFKJoinResultGroupedAndCounted(t *testing.T) {
	top, joined := fkEnriched()
	g := topology.GroupTable(joined, "g", func(_, v string) (string, string) { return v[strings.LastIndexByte(v, '|')+1:], v }, serde.String, serde.String)
	topology.TableCount(g, "counts").ToStream().To("out", serde.String, serde.Int64)
	d, err := testkit.NewDriver(top, testkit.DriverConfig{DefaultPartitions: 2, CacheMaxBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	pipeRaw(t, d, "orders", "o1", "c1:a", 10, "o2", "c1:b", 11)
	pipeRaw(t, d, "customers", "c1", "Ann", 20, "c2", "Bob", 30)
	pipeRaw(t, d, "orders", "o2", "c2:b", 31)
	pipeRaw(t, d, "customers", "c1", nil, 40)
	pipeRaw(t, d, "orders", "o2", nil, 50)
	checkOut(t, readAll(t, d, "out", serde.Int64), []string{
		"Ann=1@20", "Ann=2@20", "Ann=1@31", "Bob=1@31", "Ann=0@40", "Bob=0@50",
	})
}

// TestFKJoinResultTableJoin: the foreign-key join's result on either side
// of a table-table join: an update of the other table looks it up in the
// result store.
func TestFKJoinResultTableJoin(t *testing.T) {
	top, joined := fkEnriched()
	shipments := topology.TableOf(top, "shipments", "shipments-store", serde.String, serde.String)
	topology.TableJoin(shipments, joined, func(_, s, v string) string { return s + "#" + v }).
		ToStream().To("out", serde.String, serde.String)
	d := aggDriver(t, top, 1)
	pipeRaw(t, d, "shipments", "o1", "s1", 5)
	pipeRaw(t, d, "orders", "o1", "c1:a", 10)
	pipeRaw(t, d, "customers", "c1", "Ann", 20)
	pipeRaw(t, d, "shipments", "o1", "s2", 25)
	pipeRaw(t, d, "orders", "o1", "c2:a", 30)
	pipeRaw(t, d, "shipments", "o1", "s3", 35)
	checkOut(t, readAll(t, d, "out", serde.String), []string{
		"o1=s1#c1:a|Ann@20", "o1=s2#c1:a|Ann@25", "o1=null@30",
	})
}

// TestFKJoinResultStoreRestartAndAbort: the result store is logged (one
// changelog record per result written), keeps its committed results
// across a restart, and an aborted pipe rolls its write back with the
// outputs: a stream record after the restart still sees the old result,
// and the customer update piped again is joined and stored once.
func TestFKJoinResultStoreRestartAndAbort(t *testing.T) {
	errOnce := errors.New("downstream failure")
	failed := false
	top, joined := fkEnriched()
	topology.ProcessValues(joined.ToStream(), processor.Func[string, string, string, string](
		func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
			ctx.Forward(r)
			if strings.HasSuffix(r.Value, "|Anna") && !failed {
				failed = true
				return errOnce
			}
			return nil
		}).Supplier()).To("out", serde.String, serde.String)
	events := topology.StreamOf(top, serde.String, serde.String, "in")
	topology.Join(events, joined, func(_, e, v string) string { return e + ">" + v }).To("enriched", serde.String, serde.String)
	c, err := top.Compile("app")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(c.InternalTopics(), "app-fk-result-store-changelog") {
		t.Fatalf("internal topics %v lack app-fk-result-store-changelog", c.InternalTopics())
	}
	d := aggDriver(t, top, 1)
	pipeRaw(t, d, "orders", "o1", "c1:a", 10, "o2", "c1:b", 11)
	pipeRaw(t, d, "customers", "c1", "Ann", 20)
	if n := d.ChangelogRecords("fk-result-store"); n != 2 {
		t.Errorf("%d changelog records of fk-result-store, want 2", n)
	}
	customers := testkit.InputTopic(d, "customers", serde.String, serde.String)
	if err := customers.PipeAt("c1", "Anna", time.UnixMilli(30)); !errors.Is(err, errOnce) {
		t.Fatalf("pipe = %v, want the downstream failure", err)
	}
	if err := d.Restart(); err != nil {
		t.Fatal(err)
	}
	checkOut(t, storeContents[string](t, d, "fk-result-store"), []string{"o1=c1:a|Ann", "o2=c1:b|Ann"})
	pipeRaw(t, d, "in", "o1", "e1", 31)
	if err := customers.PipeAt("c1", "Anna", time.UnixMilli(30)); err != nil {
		t.Fatal(err)
	}
	pipeRaw(t, d, "in", "o2", "e2", 32)
	checkOut(t, readAll(t, d, "out", serde.String), []string{
		"o1=c1:a|Ann@20", "o2=c1:b|Ann@20", "o1=c1:a|Anna@30", "o2=c1:b|Anna@30",
	})
	checkOut(t, readAll(t, d, "enriched", serde.String), []string{"o1=e1>c1:a|Ann@31", "o2=e2>c1:b|Anna@32"})
	checkOut(t, storeContents[string](t, d, "fk-result-store"), []string{"o1=c1:a|Anna", "o2=c1:b|Anna"})
	if n := d.ChangelogRecords("fk-result-store"); n != 4 {
		t.Errorf("%d changelog records of fk-result-store, want 4 (the aborted writes not counted)", n)
	}
}

// TestFKJoinResultJoinAfterKeyChange: a stream re-keyed by Map before its
// join with the foreign-key join's result is repartitioned through
// <application id>-fk-result-store-join-repartition, named after the
// result's store, and joined on 3 partitions.
func TestFKJoinResultJoinAfterKeyChange(t *testing.T) {
	top, joined := fkEnriched()
	events := topology.Map(topology.StreamOf(top, serde.String, serde.String, "in"), func(e, order string) (string, string) { return order, e })
	topology.Join(events, joined, func(_, e, v string) string { return e + ">" + v }).To("out", serde.String, serde.String)
	c, err := top.Compile("app")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(c.InternalTopics(), "app-fk-result-store-join-repartition") {
		t.Fatalf("internal topics %v lack app-fk-result-store-join-repartition", c.InternalTopics())
	}
	d := aggDriver(t, top, 3)
	pipeRaw(t, d, "orders", "o1", "c1:a", 10, "o2", "c2:b", 11)
	pipeRaw(t, d, "customers", "c1", "Ann", 20, "c2", "Bob", 21)
	pipeRaw(t, d, "in", "e1", "o1", 30, "e2", "o2", 31, "e3", "o3", 32)
	got := readAll(t, d, "out", serde.String)
	slices.Sort(got)
	checkOut(t, got, []string{"o1=e1>c1:a|Ann@30", "o2=e2>c2:b|Bob@31"})
}
