package topology

import (
	"time"

	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
)

// Deduplicate drops every record whose id was already seen within
// retention (in event time): at-least-once processing with exactly-once
// effect, the classic "at-least-once plus idempotency" pattern, for
// pipelines where a transaction is not wanted.
//
// The ids seen live in the logged window store name (id, first-seen time),
// so they survive a crash or a restart and move with their task; ids older
// than the retention expire with the store's segments. Records are
// deduplicated per task: give duplicates the same key (or repartition by
// the id first) so they meet in one task.
func Deduplicate[K, V any](s Stream[K, V], name string, id func(r processor.Record[K, V]) string, retention time.Duration) Stream[K, V] {
	proc := s.t.name("KSTREAM-DEDUPLICATE")
	AddProcessor(s.t, proc, func() processor.Processor[K, V, K, V] {
		return &dedup[K, V]{store: name, id: id, retention: retention}
	}, s.node)
	AddWindowStore(s.t, WindowStore[string, int64]{Name: name, Key: serde.String, Value: serde.Int64, Retention: retention}, proc)
	return Stream[K, V]{t: s.t, node: proc}
}

type dedup[K, V any] struct {
	store     string
	id        func(processor.Record[K, V]) string
	retention time.Duration
	ctx       processor.Context[K, V]
	seen      processor.WindowStore[string, int64]
}

func (d *dedup[K, V]) Init(ctx processor.Context[K, V]) error {
	d.ctx = ctx
	var err error
	d.seen, err = processor.GetWindowStore[string, int64](ctx, d.store)
	return err
}

func (d *dedup[K, V]) Process(r processor.Record[K, V]) error {
	id := d.id(r)
	// Seen within the retention of this record's time (either side: an
	// out-of-order duplicate may carry an earlier time)?
	for _, err := range d.seen.Fetch(id, r.Timestamp.Add(-d.retention+time.Millisecond), r.Timestamp.Add(d.retention-time.Millisecond)) {
		if err != nil {
			return err
		}
		return nil // a duplicate
	}
	if err := d.seen.Put(id, 1, r.Timestamp); err != nil {
		return err
	}
	d.ctx.Forward(r)
	return nil
}

func (d *dedup[K, V]) Close() error { return nil }
