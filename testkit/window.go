package testkit

import (
	"fmt"

	"github.com/samsa-streams/samsa/processor"
)

// WindowStoreOf returns the window store of the task of the given partition
// (stores are per task, as in an App), as processor.GetWindowStore gives it
// to a processor: the store of a windowed aggregation shows its aggregates
// by key and window start.
func WindowStoreOf[K, V any](d *Driver, store string, partition int32) (processor.WindowStore[K, V], error) {
	for _, id := range d.ids {
		if id.Partition != partition {
			continue
		}
		s, ok := d.tasks[id].Store(store)
		if !ok {
			continue
		}
		w, ok := s.(processor.WindowStore[K, V])
		if !ok {
			var k K
			var v V
			return nil, fmt.Errorf("testkit: store %q is a %T, not a WindowStore[%T, %T]", store, s, k, v)
		}
		return w, nil
	}
	return nil, fmt.Errorf("testkit: no store %q in any task of partition %d", store, partition)
}

// Dropped returns how many records the operators of every task dropped by
// design, not by error: records with a null key or value in an aggregation,
// late records for a closed window. Each is also logged at debug level.
func (d *Driver) Dropped() int64 {
	var n int64
	for _, id := range d.ids {
		n += d.tasks[id].Dropped()
	}
	return n
}
