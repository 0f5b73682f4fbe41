package topology_test

import (
	"strings"
	"testing"

	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// joinTopology joins the stream "in" with the table "table-in" (inner or
// left) into "out".
func joinTopology(left bool) *topology.Topology {
	top := topology.New()
	s := topology.StreamOf(top, serde.String, serde.String, "in")
	tb := topology.TableOf(top, "table-in", "tbl", serde.String, serde.String)
	var out topology.Stream[string, string]
	if left {
		out = topology.LeftJoin(s, tb, func(k, v, vt string, found bool) string {
			if !found {
				return v + "+?"
			}
			return v + "+" + vt
		})
	} else {
		out = topology.Join(s, tb, func(k, v, vt string) string { return v + "+" + vt })
	}
	out.To("out", serde.String, serde.String)
	return top
}

// TestJoinBeforeAndAfterTableUpdates: a stream record joins the table as
// it is when the record is processed; table updates emit nothing; a stream
// record without a table value emits nothing; the output carries the
// stream record's time.
func TestJoinBeforeAndAfterTableUpdates(t *testing.T) {
	d := aggDriver(t, joinTopology(false), 1)
	pipeRaw(t, d, "in", "a", "s1", 10) // no table value yet
	pipeRaw(t, d, "table-in", "a", "t1", 20)
	pipeRaw(t, d, "in", "a", "s2", 5) // older than the table update: joins anyway
	pipeRaw(t, d, "table-in", "a", "t2", 30)
	pipeRaw(t, d, "in", "a", "s3", 40)
	pipeRaw(t, d, "table-in", "a", nil, 50) // deleted
	pipeRaw(t, d, "in", "a", "s4", 60)
	checkOut(t, readAll(t, d, "out", serde.String), []string{"a=s2+t1@5", "a=s3+t2@40"})
}

// TestJoinDropsNullKeysAndValues: an inner join drops stream records with
// a null key or value; a table record with a null key changes nothing.
func TestJoinDropsNullKeysAndValues(t *testing.T) {
	d := aggDriver(t, joinTopology(false), 1)
	pipeRaw(t, d, "table-in", "", "empty", 1, nil, "nokey", 2)
	pipeRaw(t, d, "in", nil, "s1", 3, "", nil, 4, "", "s2", 5)
	checkOut(t, readAll(t, d, "out", serde.String), []string{"=s2+empty@5"})
}

// TestLeftJoinMissingKey: a left join joins a stream record without a
// table value with found false, keeps a null key, and drops a null value.
func TestLeftJoinMissingKey(t *testing.T) {
	d := aggDriver(t, joinTopology(true), 1)
	pipeRaw(t, d, "in", "a", "s1", 10)
	pipeRaw(t, d, "table-in", "a", "t1", 20, "b", "t2", 30)
	pipeRaw(t, d, "in", "a", "s2", 40, "b", nil, 50, "c", "s3", 60)
	pipeRaw(t, d, "table-in", "a", nil, 70)
	pipeRaw(t, d, "in", "a", "s4", 80, nil, "s5", 90)
	checkOut(t, readAll(t, d, "out", serde.String), []string{"a=s1+?@10", "a=s2+t1@40", "c=s3+?@60", "a=s4+?@80", "=s5+?@90"})
	o := testkit.OutputTopic(d, "out", serde.String, serde.String)
	var last bool
	for !o.IsEmpty() {
		r, err := o.ReadRecord()
		if err != nil {
			t.Fatal(err)
		}
		last = r.KeyIsNull()
	}
	if !last {
		t.Fatal("the left join of a stream record with a null key lost the null key")
	}
}

// TestJoinFilteredMappedTable: a join reads a filtered and mapped table
// through its source's store, filtering and mapping as it reads.
func TestJoinFilteredMappedTable(t *testing.T) {
	top := topology.New()
	s := topology.StreamOf(top, serde.String, serde.String, "in")
	tb := topology.TableOf(top, "table-in", "tbl", serde.String, serde.String).
		Filter(func(_, v string) bool { return v != "hidden" })
	upper := topology.TableMapValues(tb, func(_, v string) string { return strings.ToUpper(v) })
	topology.LeftJoin(s, upper, func(_, v, vt string, found bool) string {
		if !found {
			return v + "+?"
		}
		return v + "+" + vt
	}).To("out", serde.String, serde.String)
	d := aggDriver(t, top, 1)
	pipeRaw(t, d, "table-in", "a", "x", 1, "b", "hidden", 2)
	pipeRaw(t, d, "in", "a", "s1", 3, "b", "s2", 4)
	checkOut(t, readAll(t, d, "out", serde.String), []string{"a=s1+X@3", "b=s2+?@4"})
}

// TestJoinManyPartitions: with four partitions on both sides, each key
// meets its table value in its task.
func TestJoinManyPartitions(t *testing.T) {
	d := aggDriver(t, joinTopology(false), 4)
	keys := []string{"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"}
	for i, k := range keys {
		pipeRaw(t, d, "table-in", k, "t"+k, i)
	}
	for i, k := range keys {
		pipeRaw(t, d, "in", k, "s", 100+i)
	}
	got, err := testkit.ReadKeyValuesToMap(testkit.OutputTopic(d, "out", serde.String, serde.String))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(keys) {
		t.Fatalf("got %d joined keys, want %d: %v", len(got), len(keys), got)
	}
	for _, k := range keys {
		if got[k] != "s+t"+k {
			t.Errorf("%s joined %q, want %q", k, got[k], "s+t"+k)
		}
	}
}

// TestJoinCopartitionMismatch: the stream and the table run in one
// sub-topology, so different partition counts fail at startup, naming
// both topics.
func TestJoinCopartitionMismatch(t *testing.T) {
	top := joinTopology(false)
	if n, err := top.Subtopologies(); err != nil || n != 1 {
		t.Fatalf("Subtopologies = %d, %v; want 1", n, err)
	}
	d, err := testkit.NewDriver(top, testkit.DriverConfig{Partitions: map[string]int32{"in": 4, "table-in": 3}})
	if err == nil {
		_ = d.Close()
		t.Fatal("NewDriver accepted a stream of 4 partitions joined with a table of 3")
	}
	if !strings.Contains(err.Error(), "co-partitioned") || !strings.Contains(err.Error(), "in=4") || !strings.Contains(err.Error(), "table-in=3") {
		t.Fatalf("NewDriver = %v, want a co-partitioning error naming in=4 and table-in=3", err)
	}
}

// TestJoinDescribe: the join processor reads the table's store.
func TestJoinDescribe(t *testing.T) {
	desc, err := joinTopology(true).Describe()
	if err != nil {
		t.Fatal(err)
	}
	s := desc.String()
	for _, want := range []string{
		"Processor: KTABLE-SOURCE-0000000002 (stores: [tbl])",
		"Processor: KSTREAM-LEFTJOIN-0000000003 (stores: [tbl])",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("description lacks %q:\n%s", want, s)
		}
	}
}

// TestJoinAcrossTopologies: a stream and a table of different topologies
// cannot be joined.
func TestJoinAcrossTopologies(t *testing.T) {
	a, b := topology.New(), topology.New()
	s := topology.StreamOf(a, serde.String, serde.String, "in")
	tb := topology.TableOf(b, "table-in", "tbl", serde.String, serde.String)
	topology.Join(s, tb, func(_, v, _ string) string { return v }).To("out", serde.String, serde.String)
	if err := a.Validate(); err == nil || !strings.Contains(err.Error(), "different topologies") {
		t.Fatalf("Validate = %v, want an error about different topologies", err)
	}
}

// TestJoinAfterRepartition: a stream re-keyed and repartitioned to be
// joined with a table gets a repartition topic with the table's partition
// count (here 4, while the stream's input has 8), so the join is
// co-partitioned and every key meets its table value.
func TestJoinAfterRepartition(t *testing.T) {
	top := topology.New()
	s := topology.StreamOf(top, serde.String, serde.String, "in")
	byValue := topology.Repartition(topology.Map(s, func(k, v string) (string, string) { return v, k }), "by-value", serde.String, serde.String)
	tb := topology.TableOf(top, "table-in", "tbl", serde.String, serde.String)
	topology.Join(byValue, tb, func(k, v, vt string) string { return v + "+" + vt }).To("out", serde.String, serde.String)
	d, err := testkit.NewDriver(top, testkit.DriverConfig{Partitions: map[string]int32{"in": 8, "table-in": 4}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	keys := []string{"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9"}
	for i, k := range keys {
		pipeRaw(t, d, "table-in", k, "t"+k, i)
	}
	for i, k := range keys {
		pipeRaw(t, d, "in", "order"+k, k, 100+i)
	}
	got, err := testkit.ReadKeyValuesToMap(testkit.OutputTopic(d, "out", serde.String, serde.String))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if want := "order" + k + "+t" + k; got[k] != want {
			t.Errorf("%s joined %q, want %q", k, got[k], want)
		}
	}
}
