package topology

import (
	"encoding/binary"
	"time"

	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
)

// Deduplicate drops every record whose id was already seen within
// retention (in event time): at-least-once processing with exactly-once
// effect, the classic "at-least-once plus idempotency" pattern, for
// pipelines where a transaction is not wanted.
//
// The ids seen live in two logged stores named after name: name (id → first
// event time) and name-by-time (a time index, for expiry), so they survive a
// crash or a restart and move with their task. Expired ids are removed as
// stream time advances. Records are deduplicated per task: give duplicates
// the same key (or repartition by the id first) so they meet in one task.
func Deduplicate[K, V any](s Stream[K, V], name string, id func(r processor.Record[K, V]) string, retention time.Duration) Stream[K, V] {
	proc := s.t.name("KSTREAM-DEDUPLICATE")
	byTime := name + "-by-time"
	AddProcessor(s.t, proc, func() processor.Processor[K, V, K, V] {
		return &dedup[K, V]{store: name, index: byTime, id: id, retention: retention}
	}, s.node)
	AddKeyValueStore(s.t, KeyValueStore[string, int64]{Name: name, Key: serde.String, Value: serde.Int64}, proc)
	AddKeyValueStore(s.t, KeyValueStore[[]byte, []byte]{Name: byTime, Key: serde.Bytes, Value: serde.Bytes}, proc)
	return Stream[K, V]{t: s.t, node: proc}
}

type dedup[K, V any] struct {
	store, index string
	id           func(processor.Record[K, V]) string
	retention    time.Duration
	ctx          processor.Context[K, V]
	seen         processor.KeyValueStore[string, int64]
	byTime       processor.KeyValueStore[[]byte, []byte]
}

func (d *dedup[K, V]) Init(ctx processor.Context[K, V]) error {
	d.ctx = ctx
	var err error
	if d.seen, err = processor.GetKeyValueStore[string, int64](ctx, d.store); err != nil {
		return err
	}
	if d.byTime, err = processor.GetKeyValueStore[[]byte, []byte](ctx, d.index); err != nil {
		return err
	}
	every := max(d.retention/10, time.Millisecond)
	ctx.Schedule(every, processor.StreamTime, d.expire)
	return nil
}

func (d *dedup[K, V]) Process(r processor.Record[K, V]) error {
	id := d.id(r)
	first, ok, err := d.seen.Get(id)
	if err != nil {
		return err
	}
	ts := r.Timestamp.UnixMilli()
	if ok && ts-first < d.retention.Milliseconds() {
		return nil // a duplicate within retention
	}
	if err := d.seen.Put(id, ts); err != nil {
		return err
	}
	if err := d.byTime.Put(timeKey(ts, id), []byte{}); err != nil {
		return err
	}
	d.ctx.Forward(r)
	return nil
}

// expire removes the ids first seen more than retention before stream time.
func (d *dedup[K, V]) expire(now time.Time) error {
	cutoff := now.Add(-d.retention).UnixMilli()
	var expired [][]byte
	for kv, err := range d.byTime.Range(timeKey(0, ""), timeKey(cutoff, "")) {
		if err != nil {
			return err
		}
		expired = append(expired, kv.Key)
	}
	for _, k := range expired {
		id := string(k[8:])
		first, ok, err := d.seen.Get(id)
		if err != nil {
			return err
		}
		if ok && first == int64(binary.BigEndian.Uint64(k[:8])) {
			if _, _, err := d.seen.Delete(id); err != nil {
				return err
			}
		}
		if _, _, err := d.byTime.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

func (d *dedup[K, V]) Close() error { return nil }

// timeKey orders index entries by time: 8 bytes big-endian millis, then the id.
func timeKey(ms int64, id string) []byte {
	b := make([]byte, 8, 8+len(id))
	binary.BigEndian.PutUint64(b, uint64(max(ms, 0)))
	return append(b, id...)
}
