package topology_test

import (
	"strings"
	"testing"

	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// tableJoinTopology joins the tables of "a" and "b" with kind ("inner",
// "left", "outer") into "out"; a missing side shows as "-".
func tableJoinTopology(kind string) *topology.Topology {
	top := topology.New()
	a := topology.TableOf(top, "a", "a-store", serde.String, serde.String)
	b := topology.TableOf(top, "b", "b-store", serde.String, serde.String)
	show := func(v string, found bool) string {
		if !found {
			return "-"
		}
		return v
	}
	var j topology.Table[string, string]
	switch kind {
	case "inner":
		j = topology.TableJoin(a, b, func(_, va, vb string) string { return va + "|" + vb })
	case "left":
		j = topology.TableLeftJoin(a, b, func(_, va, vb string, fb bool) string { return va + "|" + show(vb, fb) })
	case "outer":
		j = topology.TableOuterJoin(a, b, func(_, va, vb string, fa, fb bool) string { return show(va, fa) + "|" + show(vb, fb) })
	}
	j.ToStream().To("out", serde.String, serde.String)
	return top
}

// pipeTableJoin pipes the same updates into every kind of table join.
func pipeTableJoin(t *testing.T, d *testkit.Driver) {
	t.Helper()
	pipeRaw(t, d, "a", "k", "a1", 10) // b has no k
	pipeRaw(t, d, "b", "k", "b1", 30) // both: time 30
	pipeRaw(t, d, "a", "k", "a2", 20) // both: time max(20, 30)
	pipeRaw(t, d, "b", "k", nil, 40)  // b deleted
	pipeRaw(t, d, "a", "k", nil, 50)  // a deleted: neither has k
	pipeRaw(t, d, "b", "z", nil, 60)  // a key never seen
}

func TestTableJoinInner(t *testing.T) {
	d := aggDriver(t, tableJoinTopology("inner"), 1)
	pipeTableJoin(t, d)
	checkOut(t, readAll(t, d, "out", serde.String), []string{"k=a1|b1@30", "k=a2|b1@30", "k=null@40"})
}

func TestTableJoinLeft(t *testing.T) {
	d := aggDriver(t, tableJoinTopology("left"), 1)
	pipeTableJoin(t, d)
	checkOut(t, readAll(t, d, "out", serde.String), []string{"k=a1|-@10", "k=a1|b1@30", "k=a2|b1@30", "k=a2|-@40", "k=null@50"})
}

func TestTableJoinOuter(t *testing.T) {
	d := aggDriver(t, tableJoinTopology("outer"), 1)
	pipeTableJoin(t, d)
	pipeRaw(t, d, "b", "only-b", "b2", 70)
	checkOut(t, readAll(t, d, "out", serde.String), []string{"k=a1|-@10", "k=a1|b1@30", "k=a2|b1@30", "k=a2|-@40", "k=null@50", "only-b=-|b2@70"})
}

// TestStreamJoinWithJoinedTables: a stream joined with the result of a
// table join looks both tables up.
func TestStreamJoinWithJoinedTables(t *testing.T) {
	top := topology.New()
	a := topology.TableOf(top, "a", "a-store", serde.String, serde.String)
	b := topology.TableOf(top, "b", "b-store", serde.String, serde.String)
	ab := topology.TableOuterJoin(a, b, func(_, va, vb string, _, _ bool) string { return va + "&" + vb })
	s := topology.StreamOf(top, serde.String, serde.String, "in")
	topology.LeftJoin(s, ab, func(_, v, vt string, found bool) string {
		if !found {
			return v + "+?"
		}
		return v + "+" + vt
	}).To("out", serde.String, serde.String)
	d := aggDriver(t, top, 1)
	pipeRaw(t, d, "a", "x", "1", 1)
	pipeRaw(t, d, "b", "y", "2", 2)
	pipeRaw(t, d, "in", "x", "s", 3, "y", "s", 4, "z", "s", 5)
	checkOut(t, readAll(t, d, "out", serde.String), []string{"x=s+1&@3", "y=s+&2@4", "z=s+?@5"})
}

// TestTableJoinAcrossTopologies: tables of different topologies cannot be
// joined.
func TestTableJoinAcrossTopologies(t *testing.T) {
	a, b := topology.New(), topology.New()
	ta := topology.TableOf(a, "a", "a-store", serde.String, serde.String)
	tb := topology.TableOf(b, "b", "b-store", serde.String, serde.String)
	topology.TableJoin(ta, tb, func(_, x, y string) string { return x + y })
	if err := a.Validate(); err == nil || !strings.Contains(err.Error(), "different topologies") {
		t.Fatalf("Validate = %v, want an error about different topologies", err)
	}
}
