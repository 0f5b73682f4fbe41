package changelog

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// checkTree verifies the B-tree invariants and returns the keys in order.
func checkTree[V any](t *testing.T, tr *btree[V]) [][]byte {
	t.Helper()
	var keys [][]byte
	var walk func(n *bnode[V], depth int, root bool) int
	walk = func(n *bnode[V], depth int, root bool) int {
		if !root && (len(n.keys) < minItems || len(n.keys) > maxItems) {
			t.Fatalf("node with %d keys", len(n.keys))
		}
		if len(n.keys) != len(n.vals) {
			t.Fatalf("%d keys, %d values", len(n.keys), len(n.vals))
		}
		if n.leaf() {
			keys = append(keys, n.keys...)
			return depth
		}
		if len(n.children) != len(n.keys)+1 {
			t.Fatalf("%d keys, %d children", len(n.keys), len(n.children))
		}
		d := -1
		for i, c := range n.children {
			cd := walk(c, depth+1, false)
			if d >= 0 && cd != d {
				t.Fatal("leaves at different depths")
			}
			d = cd
			if i < len(n.keys) {
				keys = append(keys, n.keys[i])
			}
		}
		return d
	}
	if tr.root != nil {
		walk(tr.root, 0, true)
	}
	if !slices.IsSortedFunc(keys, bytes.Compare) || len(slices.CompactFunc(slices.Clone(keys), bytes.Equal)) != len(keys) {
		t.Fatal("keys out of order or duplicated")
	}
	if len(keys) != tr.Len() {
		t.Fatalf("Len = %d, %d keys", tr.Len(), len(keys))
	}
	return keys
}

// TestBTreeAgainstMap applies random operations to the tree and to a map
// and compares them, with the structure checked along the way.
func TestBTreeAgainstMap(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 11))
	tr := &btree[int]{}
	ref := map[string]int{}
	key := func() []byte { return fmt.Appendf(nil, "%05d", rnd.IntN(5000)) }
	for op := range 60000 {
		k := key()
		switch r := rnd.IntN(10); {
		case r < 6:
			old, ok := tr.Set(k, op)
			rold, rok := ref[string(k)]
			if ok != rok || old != rold {
				t.Fatalf("Set(%s) = %d %v, want %d %v", k, old, ok, rold, rok)
			}
			ref[string(k)] = op
		case r < 9:
			old, ok := tr.Delete(k)
			rold, rok := ref[string(k)]
			if ok != rok || old != rold {
				t.Fatalf("Delete(%s) = %d %v, want %d %v", k, old, ok, rold, rok)
			}
			delete(ref, string(k))
		default:
			hi := key()
			if bytes.Compare(k, hi) > 0 {
				k, hi = hi, k
			}
			n := 0
			for rk := range ref {
				if rk >= string(k) && rk < string(hi) {
					delete(ref, rk)
					n++
				}
			}
			if got := tr.DeleteRange(k, hi); got != n {
				t.Fatalf("DeleteRange = %d, want %d", got, n)
			}
		}
		rv, rok := ref[string(k)]
		if v, ok := tr.Get(k); v != rv || ok != rok {
			t.Fatalf("Get(%s) = %d %v, want %d %v", k, v, ok, rv, rok)
		}
		if op%5000 == 0 || op == 59999 {
			keys := checkTree(t, tr)
			if len(keys) != len(ref) {
				t.Fatalf("%d keys, want %d", len(keys), len(ref))
			}
			// A cursor from a random key visits the rest in order.
			from := key()
			c := tr.Cursor()
			i, _ := slices.BinarySearchFunc(keys, from, bytes.Compare)
			for c.SeekGE(from); c.Valid(); c.Next() {
				if !bytes.Equal(c.Key(), keys[i]) || c.Value() != ref[string(keys[i])] {
					t.Fatalf("cursor at %s, want %s", c.Key(), keys[i])
				}
				i++
			}
			if i != len(keys) {
				t.Fatalf("cursor stopped at %d of %d", i, len(keys))
			}
		}
	}
	// Empty it completely.
	for k := range ref {
		if _, ok := tr.Delete([]byte(k)); !ok {
			t.Fatalf("Delete(%s) missed", k)
		}
	}
	if tr.root != nil || tr.Len() != 0 {
		t.Fatal("tree not empty")
	}
}

// TestCursorSurvivesMutation: a cursor continues after its key when the
// tree changes between steps (a store written while it is iterated).
func TestCursorSurvivesMutation(t *testing.T) {
	tr := &btree[int]{}
	for i := range 1000 {
		tr.Set(fmt.Appendf(nil, "%04d", i*2), i)
	}
	c := tr.Cursor()
	seen := 0
	for c.SeekGE(nil); c.Valid(); c.Next() {
		k := c.Key()
		// Insert just after the current key and delete the one after that:
		// the cursor must see the insert and skip the deleted key.
		var n int
		fmt.Sscanf(string(k), "%d", &n)
		if n%2 == 0 {
			tr.Set(fmt.Appendf(nil, "%04d", n+1), -1)
			tr.Delete(fmt.Appendf(nil, "%04d", n+2))
		}
		seen++
	}
	// Keys 0,1 then 4,5 then 8,9 … : every other even key survives.
	if seen != 1000 {
		t.Fatalf("saw %d keys, want 1000", seen)
	}
	checkTree(t, tr)
}
