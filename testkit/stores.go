package testkit

import (
	"fmt"

	"github.com/samsa-streams/samsa/internal/stores"
	"github.com/samsa-streams/samsa/processor"
)

// KeyValueStoreOf returns the key-value store of the task of the given
// partition (stores are per task, as in an App).
func KeyValueStoreOf[K, V any](d *Driver, store string, partition int32) (processor.KeyValueStore[K, V], error) {
	return storeOf[processor.KeyValueStore[K, V]](d, store, partition, stores.TypeName[K, V]("KeyValueStore"))
}

// WindowStoreOf returns the window store of the task of the given partition
// (stores are per task, as in an App), as processor.GetWindowStore gives it
// to a processor: the store of a windowed aggregation shows its aggregates
// by key and window start.
func WindowStoreOf[K, V any](d *Driver, store string, partition int32) (processor.WindowStore[K, V], error) {
	return storeOf[processor.WindowStore[K, V]](d, store, partition, stores.TypeName[K, V]("WindowStore"))
}

// SessionStoreOf returns the session store of the task of the given
// partition, as processor.GetSessionStore gives it to a processor.
func SessionStoreOf[K, V any](d *Driver, store string, partition int32) (processor.SessionStore[K, V], error) {
	return storeOf[processor.SessionStore[K, V]](d, store, partition, stores.TypeName[K, V]("SessionStore"))
}

// storeOf looks store up in the tasks of partition as an S; want names S
// in errors. A store of other types is named as it was declared (e.g.
// KeyValueStore[string, int64]), not by its Go type.
func storeOf[S any](d *Driver, store string, partition int32, want string) (S, error) {
	var zero S
	for _, id := range d.ids {
		if id.Partition != partition {
			continue
		}
		s, ok := d.tasks[id].Store(store)
		if !ok {
			continue
		}
		typed, ok := s.(S)
		if !ok {
			have := fmt.Sprintf("%T", s)
			if st, ok := s.(interface{ StoreType() string }); ok {
				have = st.StoreType()
			}
			return zero, fmt.Errorf("testkit: store %q is a %s, not a %s", store, have, want)
		}
		return typed, nil
	}
	return zero, fmt.Errorf("testkit: no store %q in any task of partition %d", store, partition)
}
