package topology

import (
	"slices"

	"github.com/samsa-streams/samsa/internal/engine"
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
		Wrap: func(raw processor.BytesKeyValueStore) processor.StateStore {
			return processor.NewKeyValueStore(raw, key, value)
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
