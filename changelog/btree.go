package changelog

import (
	"bytes"
	"slices"
)

// btree is an in-memory B-tree of byte-string keys in bytes.Compare order.
// It holds the committed data of the memory engine and the write buffer of
// every store. It is not safe for concurrent use; keys and values handed to
// it are owned by it and never modified.
type btree[V any] struct {
	root *bnode[V]
	n    int
	// version changes with every mutation, so that cursors notice that
	// the tree changed under them and find their place again.
	version uint64
}

// Node sizes: a node other than the root holds minItems..maxItems keys.
const (
	btreeDegree = 32
	maxItems    = 2*btreeDegree - 1
	minItems    = btreeDegree - 1
)

type bnode[V any] struct {
	keys     [][]byte
	vals     []V
	children []*bnode[V] // nil in a leaf
}

func (n *bnode[V]) leaf() bool { return n.children == nil }

// find returns the index of the first key >= k and whether it equals k.
func (n *bnode[V]) find(k []byte) (int, bool) {
	lo, hi := 0, len(n.keys)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if bytes.Compare(n.keys[m], k) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(n.keys) && bytes.Equal(n.keys[lo], k)
}

// Len returns the number of keys.
func (t *btree[V]) Len() int { return t.n }

// Get returns the value of k.
func (t *btree[V]) Get(k []byte) (V, bool) {
	for n := t.root; n != nil; {
		i, found := n.find(k)
		if found {
			return n.vals[i], true
		}
		if n.leaf() {
			break
		}
		n = n.children[i]
	}
	var zero V
	return zero, false
}

// Set stores v under k and returns the value it replaces, if any.
func (t *btree[V]) Set(k []byte, v V) (V, bool) {
	t.version++
	var zero V
	if t.root == nil {
		t.root = &bnode[V]{keys: [][]byte{k}, vals: []V{v}}
		t.n = 1
		return zero, false
	}
	if len(t.root.keys) >= maxItems {
		old := t.root
		t.root = &bnode[V]{children: []*bnode[V]{old}}
		t.root.splitChild(0)
	}
	n := t.root
	for {
		i, found := n.find(k)
		if found {
			old := n.vals[i]
			n.vals[i] = v
			return old, true
		}
		if n.leaf() {
			n.keys = slices.Insert(n.keys, i, k)
			n.vals = slices.Insert(n.vals, i, v)
			t.n++
			return zero, false
		}
		if len(n.children[i].keys) >= maxItems {
			n.splitChild(i)
			switch c := bytes.Compare(k, n.keys[i]); {
			case c == 0:
				old := n.vals[i]
				n.vals[i] = v
				return old, true
			case c > 0:
				i++
			}
		}
		n = n.children[i]
	}
}

// splitChild splits the full child i around its middle key, which moves up.
func (n *bnode[V]) splitChild(i int) {
	c := n.children[i]
	mid := len(c.keys) / 2
	right := &bnode[V]{keys: slices.Clone(c.keys[mid+1:]), vals: slices.Clone(c.vals[mid+1:])}
	if !c.leaf() {
		right.children = slices.Clone(c.children[mid+1:])
		c.children = slices.Delete(c.children, mid+1, len(c.children))
	}
	mk, mv := c.keys[mid], c.vals[mid]
	c.keys = slices.Delete(c.keys, mid, len(c.keys))
	c.vals = slices.Delete(c.vals, mid, len(c.vals))
	n.keys = slices.Insert(n.keys, i, mk)
	n.vals = slices.Insert(n.vals, i, mv)
	n.children = slices.Insert(n.children, i+1, right)
}

// Delete removes k and returns its value, if it was there.
func (t *btree[V]) Delete(k []byte) (V, bool) {
	var zero V
	if t.root == nil {
		return zero, false
	}
	v, ok := t.root.remove(k)
	if ok {
		t.n--
		t.version++
	}
	if len(t.root.keys) == 0 {
		if t.root.leaf() {
			t.root = nil
		} else {
			t.root = t.root.children[0]
		}
	}
	return v, ok
}

// remove deletes k from the subtree of n, which holds more than minItems
// keys unless it is the root, so that it can lose one.
func (n *bnode[V]) remove(k []byte) (V, bool) {
	var zero V
	for {
		i, found := n.find(k)
		if n.leaf() {
			if !found {
				return zero, false
			}
			v := n.vals[i]
			n.keys = slices.Delete(n.keys, i, i+1)
			n.vals = slices.Delete(n.vals, i, i+1)
			return v, true
		}
		if found {
			v := n.vals[i]
			switch {
			case len(n.children[i].keys) > minItems:
				n.keys[i], n.vals[i] = n.children[i].removeEdge(false)
				return v, true
			case len(n.children[i+1].keys) > minItems:
				n.keys[i], n.vals[i] = n.children[i+1].removeEdge(true)
				return v, true
			}
			n.merge(i) // k moves down into children[i]
			n = n.children[i]
			continue
		}
		if len(n.children[i].keys) <= minItems {
			i = n.grow(i)
		}
		n = n.children[i]
	}
}

// removeEdge removes and returns the smallest (first) or largest key of the
// subtree of n, which holds more than minItems keys.
func (n *bnode[V]) removeEdge(first bool) ([]byte, V) {
	for !n.leaf() {
		i := 0
		if !first {
			i = len(n.children) - 1
		}
		if len(n.children[i].keys) <= minItems {
			i = n.grow(i)
		}
		n = n.children[i]
	}
	i := 0
	if !first {
		i = len(n.keys) - 1
	}
	k, v := n.keys[i], n.vals[i]
	n.keys = slices.Delete(n.keys, i, i+1)
	n.vals = slices.Delete(n.vals, i, i+1)
	return k, v
}

// grow gives child i more than minItems keys by borrowing from a sibling or
// merging with one, and returns the index of the child that now covers
// child i's key range.
func (n *bnode[V]) grow(i int) int {
	if i > 0 && len(n.children[i-1].keys) > minItems {
		c, l := n.children[i], n.children[i-1]
		last := len(l.keys) - 1
		c.keys = slices.Insert(c.keys, 0, n.keys[i-1])
		c.vals = slices.Insert(c.vals, 0, n.vals[i-1])
		n.keys[i-1], n.vals[i-1] = l.keys[last], l.vals[last]
		l.keys = slices.Delete(l.keys, last, last+1)
		l.vals = slices.Delete(l.vals, last, last+1)
		if !l.leaf() {
			lc := l.children[len(l.children)-1]
			l.children = slices.Delete(l.children, len(l.children)-1, len(l.children))
			c.children = slices.Insert(c.children, 0, lc)
		}
		return i
	}
	if i < len(n.keys) && len(n.children[i+1].keys) > minItems {
		c, r := n.children[i], n.children[i+1]
		c.keys = append(c.keys, n.keys[i])
		c.vals = append(c.vals, n.vals[i])
		n.keys[i], n.vals[i] = r.keys[0], r.vals[0]
		r.keys = slices.Delete(r.keys, 0, 1)
		r.vals = slices.Delete(r.vals, 0, 1)
		if !r.leaf() {
			c.children = append(c.children, r.children[0])
			r.children = slices.Delete(r.children, 0, 1)
		}
		return i
	}
	if i >= len(n.keys) {
		i--
	}
	n.merge(i)
	return i
}

// merge joins child i, key i and child i+1 into child i.
func (n *bnode[V]) merge(i int) {
	l, r := n.children[i], n.children[i+1]
	l.keys = append(append(l.keys, n.keys[i]), r.keys...)
	l.vals = append(append(l.vals, n.vals[i]), r.vals...)
	if !l.leaf() {
		l.children = append(l.children, r.children...)
	}
	n.keys = slices.Delete(n.keys, i, i+1)
	n.vals = slices.Delete(n.vals, i, i+1)
	n.children = slices.Delete(n.children, i+1, i+2)
}

// DeleteRange removes the keys in [lo, hi) and returns how many it removed.
func (t *btree[V]) DeleteRange(lo, hi []byte) int {
	var doomed [][]byte
	c := t.Cursor()
	for c.SeekGE(lo); c.Valid() && bytes.Compare(c.Key(), hi) < 0; c.Next() {
		doomed = append(doomed, c.Key())
	}
	for _, k := range doomed {
		t.Delete(k)
	}
	return len(doomed)
}

// Cursor returns an unpositioned cursor.
func (t *btree[V]) Cursor() *cursor[V] {
	c := &cursor[V]{t: t}
	c.stack = c.path[:0]
	return c
}

// cursor walks a tree in key order. The tree may change between calls:
// Next then resumes after the key the cursor was on.
type cursor[V any] struct {
	t       *btree[V]
	stack   []frame[V]
	path    [6]frame[V] // the stack's first array: 6 levels hold 63^6 keys
	version uint64
	cur     []byte
}

// frame is a node on the path and the index of its next key to visit
// (after the subtree of children[i], for an inner node).
type frame[V any] struct {
	n *bnode[V]
	i int
}

// SeekGE positions the cursor at the first key >= k (nil: the first key).
func (c *cursor[V]) SeekGE(k []byte) {
	c.stack = c.stack[:0]
	c.version = c.t.version
	for n := c.t.root; n != nil; {
		i, found := n.find(k)
		c.stack = append(c.stack, frame[V]{n, i})
		if found || n.leaf() {
			break
		}
		n = n.children[i]
	}
	c.settle()
}

// settle pops finished frames and records the current key.
func (c *cursor[V]) settle() {
	for len(c.stack) > 0 {
		f := c.stack[len(c.stack)-1]
		if f.i < len(f.n.keys) {
			c.cur = f.n.keys[f.i]
			return
		}
		c.stack = c.stack[:len(c.stack)-1]
	}
	c.cur = nil
}

// refresh finds the cursor's place again after the tree changed: on its
// key if it is still there, else on the next one.
func (c *cursor[V]) refresh() {
	if c.version != c.t.version && len(c.stack) > 0 {
		c.SeekGE(c.cur)
	}
}

// Valid reports whether the cursor is on a key.
func (c *cursor[V]) Valid() bool {
	c.refresh()
	return len(c.stack) > 0
}

// Key returns the current key; the cursor must be valid.
func (c *cursor[V]) Key() []byte {
	c.refresh()
	return c.cur
}

// Value returns the current value; the cursor must be valid.
func (c *cursor[V]) Value() V {
	c.refresh()
	f := c.stack[len(c.stack)-1]
	return f.n.vals[f.i]
}

// Next moves to the next key.
func (c *cursor[V]) Next() {
	if len(c.stack) == 0 {
		return
	}
	if c.version != c.t.version {
		last := c.cur
		c.SeekGE(last)
		if c.Valid() && bytes.Equal(c.cur, last) {
			c.Next()
		}
		return
	}
	f := &c.stack[len(c.stack)-1]
	f.i++
	if !f.n.leaf() {
		for n := f.n.children[f.i]; ; n = n.children[0] {
			c.stack = append(c.stack, frame[V]{n, 0})
			if n.leaf() {
				break
			}
		}
	}
	c.settle()
}
