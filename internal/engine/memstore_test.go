package engine

import (
	"bytes"
	"fmt"
	"iter"
	"slices"

	"github.com/samsa-streams/samsa/processor"
)

// MemoryStores is a StoreProvider of unlogged in-memory stores, kept per task
// and store so that a task reopened in the same process sees its state.
type MemoryStores struct {
	stores map[memKey]*MemStore
}

type memKey struct {
	task processor.TaskID
	name string
}

// NewMemoryStores returns an empty provider.
func NewMemoryStores() *MemoryStores { return &MemoryStores{stores: map[memKey]*MemStore{}} }

// Open implements StoreProvider, for key-value stores only.
func (m *MemoryStores) Open(task processor.TaskID, def *StoreDef) (Opened, error) {
	if def.Layout != KeyValueLayout {
		return Opened{}, fmt.Errorf("engine: store %q: the test stores have no window or session layout", def.Name)
	}
	k := memKey{task, def.Name}
	s, ok := m.stores[k]
	if !ok {
		s = &MemStore{name: def.Name}
		m.stores[k] = s
	}
	return Opened{Raw: s}, nil
}

// MemStore is a sorted in-memory bytes store.
type MemStore struct {
	name string
	keys [][]byte
	vals [][]byte
}

// Name implements processor.StateStore.
func (s *MemStore) Name() string { return s.name }

func (s *MemStore) find(k []byte) (int, bool) {
	return slices.BinarySearchFunc(s.keys, k, bytes.Compare)
}

// Get implements processor.BytesKeyValueStore.
func (s *MemStore) Get(k []byte) ([]byte, bool, error) {
	i, ok := s.find(k)
	if !ok {
		return nil, false, nil
	}
	return s.vals[i], true, nil
}

// Put implements processor.BytesKeyValueStore.
func (s *MemStore) Put(k, v []byte) error {
	i, ok := s.find(k)
	v = bytes.Clone(v)
	if ok {
		s.vals[i] = v
		return nil
	}
	s.keys = slices.Insert(s.keys, i, bytes.Clone(k))
	s.vals = slices.Insert(s.vals, i, v)
	return nil
}

// Delete implements processor.BytesKeyValueStore.
func (s *MemStore) Delete(k []byte) error {
	if i, ok := s.find(k); ok {
		s.keys = slices.Delete(s.keys, i, i+1)
		s.vals = slices.Delete(s.vals, i, i+1)
	}
	return nil
}

// Range implements processor.BytesKeyValueStore.
func (s *MemStore) Range(from, to []byte) iter.Seq2[processor.KeyValue[[]byte, []byte], error] {
	return func(yield func(processor.KeyValue[[]byte, []byte], error) bool) {
		i := 0
		if from != nil {
			i, _ = s.find(from)
		}
		for ; i < len(s.keys); i++ {
			if to != nil && bytes.Compare(s.keys[i], to) > 0 {
				return
			}
			if !yield(processor.KeyValue[[]byte, []byte]{Key: s.keys[i], Value: s.vals[i]}, nil) {
				return
			}
		}
	}
}

// PrefixScan implements processor.BytesKeyValueStore.
func (s *MemStore) PrefixScan(prefix []byte) iter.Seq2[processor.KeyValue[[]byte, []byte], error] {
	return func(yield func(processor.KeyValue[[]byte, []byte], error) bool) {
		i, _ := s.find(prefix)
		for ; i < len(s.keys) && bytes.HasPrefix(s.keys[i], prefix); i++ {
			if !yield(processor.KeyValue[[]byte, []byte]{Key: s.keys[i], Value: s.vals[i]}, nil) {
				return
			}
		}
	}
}

// ApproximateCount implements processor.BytesKeyValueStore.
func (s *MemStore) ApproximateCount() (int64, error) { return int64(len(s.keys)), nil }

// Flush implements RawStore.
func (s *MemStore) Flush() error { return nil }

// Abort implements RawStore: the in-memory provider has no write buffer, so
// it is only usable where nothing aborts (at-least-once, the test driver).
func (s *MemStore) Abort() {}

// Close implements RawStore.
func (s *MemStore) Close() error { return nil }
