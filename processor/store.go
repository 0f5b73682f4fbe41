package processor

import (
	"errors"
	"fmt"
	"iter"
	"time"
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

// BytesKeyValueStore is a key-value store of raw bytes: what storage engines
// implement and what typed stores wrap. Keys are ordered bytewise. Range
// bounds are inclusive; a nil bound is open.
type BytesKeyValueStore interface {
	StateStore
	Get(key []byte) ([]byte, bool, error)
	Put(key, value []byte) error
	Delete(key []byte) error
	Range(from, to []byte) iter.Seq2[KeyValue[[]byte, []byte], error]
	PrefixScan(prefix []byte) iter.Seq2[KeyValue[[]byte, []byte], error]
	ApproximateCount() (int64, error)
}

// ErrBeforeEpoch is wrapped when a window or session time is before the
// Unix epoch: the key layout orders times as unsigned milliseconds.
var ErrBeforeEpoch = errors.New("processor: window or session time before the Unix epoch")

// Windowed is one window of a window store: its start and its value.
type Windowed[V any] struct {
	Start time.Time
	Value V
}

// WindowedKeyValue is a key, a window start and a value.
type WindowedKeyValue[K, V any] struct {
	Key   K
	Start time.Time
	Value V
}

// WindowStore keeps a value per key and window start. Windows older than the
// retention (behind the newest window start seen) are dropped, a segment at
// a time.
type WindowStore[K, V any] interface {
	StateStore
	// Put stores value for key in the window starting at start. A value
	// older than the retention is ignored.
	Put(key K, value V, start time.Time) error
	// Fetch yields the windows of key with from <= start <= to, by start.
	// Bounds before the epoch or far in the future are fine: they select
	// every window on that side.
	Fetch(key K, from, to time.Time) iter.Seq2[Windowed[V], error]
	// FetchAll yields the windows of every key with from <= start <= to,
	// in time order: by start, then by serialized key.
	FetchAll(from, to time.Time) iter.Seq2[WindowedKeyValue[K, V], error]
	// Delete removes key's window starting at start, if there is one.
	Delete(key K, start time.Time) error
}

// Session is a session window of a key: the first and last event times.
type Session[K any] struct {
	Key        K
	Start, End time.Time
}

// SessionStore keeps a value per session window of a key.
type SessionStore[K, V any] interface {
	StateStore
	// FindSessions yields the sessions of key that end at or after
	// earliestEnd and start at or before latestStart, by end time.
	FindSessions(key K, earliestEnd, latestStart time.Time) iter.Seq2[KeyValue[Session[K], V], error]
	// Put stores the value of a session. A session that ended before the
	// retention is ignored.
	Put(s Session[K], value V) error
	// Remove deletes a session.
	Remove(s Session[K]) error
}

// storeType names a store in errors: as its users declared it (e.g.
// KeyValueStore[string, int64]) when the store says so, else its Go type.
func storeType(s StateStore) string {
	if d, ok := s.(interface{ StoreType() string }); ok {
		return d.StoreType()
	}
	return fmt.Sprintf("%T", s)
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
		return nil, fmt.Errorf("processor: store %q is a %s, not a KeyValueStore[%T, %T]", name, storeType(s), k, v)
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
		return nil, fmt.Errorf("processor: store %q is a %s, not a WindowStore[%T, %T]", name, storeType(s), k, v)
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
		return nil, fmt.Errorf("processor: store %q is a %s, not a SessionStore[%T, %T]", name, storeType(s), k, v)
	}
	return w, nil
}
