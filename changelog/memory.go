package changelog

import (
	"bytes"
	"slices"
	"sync"
)

// memTable is the in-memory backend of one store: sorted keys and values,
// and a checkpoint. It outlives the Store that uses it, inside its engine,
// so a task reopened in the same process finds its state.
type memTable struct {
	mu    sync.RWMutex
	keys  [][]byte
	vals  [][]byte
	next  int64
	hasCk bool
}

type memBackend struct{ t *memTable }

func (m memBackend) get(k []byte) ([]byte, bool, error) {
	m.t.mu.RLock()
	defer m.t.mu.RUnlock()
	i, ok := slices.BinarySearchFunc(m.t.keys, k, bytes.Compare)
	if !ok {
		return nil, false, nil
	}
	return m.t.vals[i], true, nil
}

func (m memBackend) scan(lo, hi []byte, fn func(k, v []byte) bool) error {
	m.t.mu.RLock()
	keys, vals := m.t.keys, m.t.vals
	m.t.mu.RUnlock()
	i := 0
	if lo != nil {
		i, _ = slices.BinarySearchFunc(keys, lo, bytes.Compare)
	}
	for ; i < len(keys); i++ {
		if hi != nil && bytes.Compare(keys[i], hi) > 0 {
			return nil
		}
		if !fn(keys[i], vals[i]) {
			return nil
		}
	}
	return nil
}

func (m memBackend) apply(entries []entry, next int64) error {
	m.t.mu.Lock()
	defer m.t.mu.Unlock()
	// In place: a store's scans and commits run on its task's goroutine,
	// one after the other, so no scan is open here.
	keys, vals := m.t.keys, m.t.vals
	for _, e := range entries {
		i, ok := slices.BinarySearchFunc(keys, e.key, bytes.Compare)
		switch {
		case e.del && ok:
			keys = slices.Delete(keys, i, i+1)
			vals = slices.Delete(vals, i, i+1)
		case e.del:
		case ok:
			vals[i] = bytes.Clone(e.value)
		default:
			keys = slices.Insert(keys, i, bytes.Clone(e.key))
			vals = slices.Insert(vals, i, bytes.Clone(e.value))
		}
	}
	m.t.keys, m.t.vals = keys, vals
	if next >= 0 {
		m.t.next, m.t.hasCk = next, true
	}
	return nil
}

func (m memBackend) checkpoint() (int64, bool, error) {
	m.t.mu.RLock()
	defer m.t.mu.RUnlock()
	return m.t.next, m.t.hasCk, nil
}

func (m memBackend) count() (int64, error) {
	m.t.mu.RLock()
	defer m.t.mu.RUnlock()
	return int64(len(m.t.keys)), nil
}

func (m memBackend) dropRange(lo, hi []byte) error {
	m.t.mu.Lock()
	defer m.t.mu.Unlock()
	i, _ := slices.BinarySearchFunc(m.t.keys, lo, bytes.Compare)
	j, _ := slices.BinarySearchFunc(m.t.keys, hi, bytes.Compare)
	if i < j {
		m.t.keys = slices.Delete(m.t.keys, i, j)
		m.t.vals = slices.Delete(m.t.vals, i, j)
	}
	return nil
}

func (m memBackend) close() error { return nil }
