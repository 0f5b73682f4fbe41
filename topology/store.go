package topology

import (
	"slices"
	"time"

	"github.com/samsa-streams/samsa/internal/engine"
	"github.com/samsa-streams/samsa/internal/stores"
	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
)

// KeyValueStore configures a key-value store.
type KeyValueStore[K, V any] struct {
	// Name is unique within the topology; it names the changelog topic
	// <application id>-<name>-changelog.
	Name string
	// Key and Value serialize the entries. Both are required.
	Key   serde.Serde[K]
	Value serde.Serde[V]
	// Unlogged stores keep no changelog: their state is lost with the
	// instance.
	Unlogged bool
}

// AddKeyValueStore adds a key-value store and connects it to the named
// processors, which look it up with processor.GetKeyValueStore.
func AddKeyValueStore[K, V any](t *Topology, s KeyValueStore[K, V], processors ...string) {
	switch {
	case s.Name == "":
		t.g.Errorf("topology: a key-value store has an empty name")
		return
	case s.Key == nil || s.Value == nil:
		t.g.Errorf("topology: store %q needs both a key and a value serde", s.Name)
		return
	}
	if _, dup := t.g.Stores[s.Name]; dup {
		t.g.Errorf("topology: duplicate store name %q", s.Name)
		return
	}
	key, value := s.Key, s.Value
	t.g.Stores[s.Name] = &engine.StoreDef{
		Name:   s.Name,
		Logged: !s.Unlogged,
		Wrap: func(o engine.Opened) processor.StateStore {
			return stores.NewKeyValueStore(o.Raw, key, value)
		},
	}
	t.ConnectStore(s.Name, processors...)
}

// ConnectStore connects an existing store to more processors.
func (t *Topology) ConnectStore(store string, processors ...string) {
	sd, ok := t.g.Stores[store]
	if !ok {
		t.g.Errorf("topology: cannot connect unknown store %q", store)
		return
	}
	for _, p := range processors {
		if slices.Contains(sd.Processors, p) {
			continue
		}
		sd.Processors = append(sd.Processors, p)
	}
}

// WindowStore configures a window store: a value per key and window start.
type WindowStore[K, V any] struct {
	// Name is unique within the topology.
	Name string
	// Key and Value serialize the entries. Both are required.
	Key   serde.Serde[K]
	Value serde.Serde[V]
	// Retention is how long windows are kept behind the newest window
	// start; the changelog is compact,delete with this retention plus a day.
	Retention time.Duration
	// Segments is how many segments the retention is cut into for cheap
	// expiry; default 3.
	Segments int
	// Unlogged stores keep no changelog.
	Unlogged bool
}

// AddWindowStore adds a window store and connects it to the named
// processors, which look it up with processor.GetWindowStore.
func AddWindowStore[K, V any](t *Topology, s WindowStore[K, V], processors ...string) {
	key, value, ret, segs := s.Key, s.Value, s.Retention, max(s.Segments, 3)
	t.addRetainedStore(s.Name, key == nil || value == nil, engine.WindowLayout, ret, segs, s.Unlogged, func(o engine.Opened) processor.StateStore {
		return stores.WrapWindowStore(o.Window, key, value)
	}, processors)
}

// SessionStore configures a session store: a value per session of a key.
// The fields mean what they mean for a WindowStore; Retention counts from
// the end of a session.
type SessionStore[K, V any] struct {
	Name      string
	Key       serde.Serde[K]
	Value     serde.Serde[V]
	Retention time.Duration
	Segments  int
	Unlogged  bool
}

// AddSessionStore adds a session store and connects it to the named
// processors, which look it up with processor.GetSessionStore.
func AddSessionStore[K, V any](t *Topology, s SessionStore[K, V], processors ...string) {
	key, value, ret, segs := s.Key, s.Value, s.Retention, max(s.Segments, 3)
	t.addRetainedStore(s.Name, key == nil || value == nil, engine.SessionLayout, ret, segs, s.Unlogged, func(o engine.Opened) processor.StateStore {
		return stores.WrapSessionStore(o.Session, key, value)
	}, processors)
}

// addRetainedStore checks and adds a store with a retention (window or
// session) and connects it.
func (t *Topology) addRetainedStore(name string, noSerde bool, layout engine.StoreLayout, retention time.Duration, segments int, unlogged bool, wrap func(engine.Opened) processor.StateStore, processors []string) {
	if !t.checkStore(name, noSerde, retention) {
		return
	}
	t.g.Stores[name] = &engine.StoreDef{Name: name, Logged: !unlogged, Retention: retention, Layout: layout, Segments: segments, Wrap: wrap}
	t.ConnectStore(name, processors...)
}

func (t *Topology) checkStore(name string, noSerde bool, retention time.Duration) bool {
	switch {
	case name == "":
		t.g.Errorf("topology: a store has an empty name")
	case noSerde:
		t.g.Errorf("topology: store %q needs both a key and a value serde", name)
	case retention <= 0:
		t.g.Errorf("topology: store %q needs a positive Retention", name)
	default:
		if _, dup := t.g.Stores[name]; dup {
			t.g.Errorf("topology: duplicate store name %q", name)
			return false
		}
		return true
	}
	return false
}
