package changelog

import (
	"bytes"
	"sync"
)

// memTable is the committed state of one store in the memory engine: a
// B-tree and a checkpoint. It lives in its engine, so that a store closed
// and opened again in the same process finds its state.
type memTable struct {
	mu    sync.RWMutex
	tree  btree[[]byte]
	next  int64
	hasCk bool
}

type memBackend struct{ t *memTable }

func (m memBackend) get(k []byte) ([]byte, bool, error) {
	m.t.mu.RLock()
	defer m.t.mu.RUnlock()
	v, ok := m.t.tree.Get(k)
	return v, ok, nil
}

// memChunk is how many entries a scan copies under the lock at most at a
// time (starting with 32, short scans being the common case): the lock is
// never held while the caller runs, and a scan resumes after its last key
// if the tree changed in between.
const memChunk = 512

func (m memBackend) scan(lo, hi []byte, _ bool, fn func(k, v []byte) bool) error {
	type kv struct{ k, v []byte }
	var first [32]kv
	chunk := first[:0]
	from, after := lo, false
	for {
		if len(chunk) == cap(chunk) && cap(chunk) < memChunk {
			chunk = make([]kv, 0, 4*cap(chunk))
		}
		chunk = chunk[:0]
		done := false
		m.t.mu.RLock()
		c := m.t.tree.Cursor()
		c.SeekGE(from)
		if after && c.Valid() && bytes.Equal(c.Key(), from) {
			c.Next()
		}
		for ; len(chunk) < cap(chunk); c.Next() {
			if !c.Valid() || (hi != nil && bytes.Compare(c.Key(), hi) >= 0) {
				done = true
				break
			}
			chunk = append(chunk, kv{c.Key(), c.Value()})
		}
		m.t.mu.RUnlock()
		for _, e := range chunk {
			if !fn(e.k, e.v) {
				return nil
			}
		}
		if done || len(chunk) == 0 {
			return nil
		}
		from, after = chunk[len(chunk)-1].k, true
	}
}

func (m memBackend) apply(ch *changes) error {
	m.t.mu.Lock()
	defer m.t.mu.Unlock()
	for _, r := range ch.drops {
		m.t.tree.DeleteRange(r.lo, r.hi)
	}
	err := ch.each(func(k, v []byte, del bool) error {
		if del {
			m.t.tree.Delete(k)
			return nil
		}
		if !ch.owned {
			k, v = bytes.Clone(k), bytes.Clone(v)
		}
		m.t.tree.Set(k, v)
		return nil
	})
	if err != nil {
		return err
	}
	if ch.next >= 0 {
		m.t.next, m.t.hasCk = ch.next, true
	}
	return nil
}

func (m memBackend) checkpoint() (int64, bool, error) {
	m.t.mu.RLock()
	defer m.t.mu.RUnlock()
	return m.t.next, m.t.hasCk, nil
}

func (m memBackend) diskBytes() (uint64, error) { return 0, nil }

func (m memBackend) count() (int64, error) {
	m.t.mu.RLock()
	defer m.t.mu.RUnlock()
	return int64(m.t.tree.Len()), nil
}
