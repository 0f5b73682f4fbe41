package processor

import (
	"fmt"
	"iter"
)

// StateStore is what every store has in common.
type StateStore interface {
	// Name returns the store's name, unique within a topology.
	Name() string
}

// KeyValue is one entry of a key-value store.
type KeyValue[K, V any] struct {
	Key   K
	Value V
}

// KeyValueStore is a typed key-value store. Reads see the task's own
// uncommitted writes; writes become durable when the task commits.
//
// Iterators yield entries in the byte order of the serialized keys and stop
// at the first error, which they yield with a zero entry.
type KeyValueStore[K, V any] interface {
	StateStore
	// Get returns the value for key and whether it exists.
	Get(key K) (V, bool, error)
	// Put stores value under key.
	Put(key K, value V) error
	// PutIfAbsent stores value only if key has none and returns the value
	// that is stored afterwards and whether it was already there.
	PutIfAbsent(key K, value V) (V, bool, error)
	// Delete removes key and returns the value it had, if any.
	Delete(key K) (V, bool, error)
	// Range yields the entries with from <= key <= to.
	Range(from, to K) iter.Seq2[KeyValue[K, V], error]
	// PrefixScan yields the entries whose serialized key starts with prefix.
	PrefixScan(prefix []byte) iter.Seq2[KeyValue[K, V], error]
	// All yields every entry.
	All() iter.Seq2[KeyValue[K, V], error]
	// ApproximateCount returns an estimate of the number of entries.
	ApproximateCount() (int64, error)
}

// GetKeyValueStore looks a key-value store up by name with its types.
func GetKeyValueStore[K, V any](ctx TaskContext, name string) (KeyValueStore[K, V], error) {
	s, err := ctx.StateStore(name)
	if err != nil {
		return nil, err
	}
	kv, ok := s.(KeyValueStore[K, V])
	if !ok {
		var k K
		var v V
		return nil, fmt.Errorf("processor: store %q is a %T, not a KeyValueStore[%T, %T]", name, s, k, v)
	}
	return kv, nil
}

// GetWindowStore looks a window store up by name with its types.
func GetWindowStore[K, V any](ctx TaskContext, name string) (WindowStore[K, V], error) {
	s, err := ctx.StateStore(name)
	if err != nil {
		return nil, err
	}
	w, ok := s.(WindowStore[K, V])
	if !ok {
		var k K
		var v V
		return nil, fmt.Errorf("processor: store %q is a %T, not a WindowStore[%T, %T]", name, s, k, v)
	}
	return w, nil
}

// GetSessionStore looks a session store up by name with its types.
func GetSessionStore[K, V any](ctx TaskContext, name string) (SessionStore[K, V], error) {
	s, err := ctx.StateStore(name)
	if err != nil {
		return nil, err
	}
	w, ok := s.(SessionStore[K, V])
	if !ok {
		var k K
		var v V
		return nil, fmt.Errorf("processor: store %q is a %T, not a SessionStore[%T, %T]", name, s, k, v)
	}
	return w, nil
}
