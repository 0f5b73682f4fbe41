package topology

import (
	"crypto/sha256"
	"encoding/binary"
	"strconv"
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
//
// With each id the store keeps a tag of the input record that first carried
// it (its origin: topic, partition, offset). When that same input record is
// delivered again (after a crash that wrote the id to the changelog but
// lost the output, the group rewinds to an offset before it), it is
// forwarded again: a redelivery is not a duplicate, and dropping it would
// lose the record. Only another input record with the same id is a
// duplicate, as is a second record with the same id derived from one input
// record (a FlatMap). Records without an origin (built by a punctuator)
// match no input record: for them every id seen is a duplicate, and an id
// they carried first makes every later record with it a duplicate.
func Deduplicate[K, V any](s Stream[K, V], name string, id func(r processor.Record[K, V]) string, retention time.Duration) Stream[K, V] {
	s.t.nilFuncs("Deduplicate "+strconv.Quote(name), "id", id)
	proc := s.t.name("KSTREAM-DEDUPLICATE")
	AddProcessor(s.t, proc, func() processor.Processor[K, V, K, V] {
		return &dedup[K, V]{store: name, id: id, retention: retention, curIDs: map[string]struct{}{}}
	}, s.node)
	AddWindowStore(s.t, WindowStore[string, int64]{Name: name, Key: serde.String, Value: serde.Int64, Retention: retention}, proc)
	return Stream[K, V]{t: s.t, node: proc}
}

// noOrigin is the store value of an id first carried by a record without
// origin. Earlier releases stored it for every id; it matches no origin
// tag, so such an id stays a duplicate for every record after an upgrade.
const noOrigin int64 = 1

// originTag is the store value of an id first carried by the input record
// at o: the first 64 bits of SHA-256(partition, offset, topic), never 0
// (reserved) or noOrigin. The value keeps the store's int64 type, so
// existing stores and changelogs stay valid and an earlier release still
// reads what this one writes (as "seen"). Two different input records get
// the same tag with probability about 2^-64, and the only effect of such a
// collision is that a duplicate is forwarded (the at-least-once outcome),
// never that a record is dropped.
func originTag(o processor.Origin, buf []byte) (int64, []byte) {
	buf = binary.BigEndian.AppendUint32(buf[:0], uint32(o.Partition))
	buf = binary.BigEndian.AppendUint64(buf, uint64(o.Offset))
	buf = append(buf, o.Topic...)
	sum := sha256.Sum256(buf)
	tag := binary.BigEndian.Uint64(sum[:8])
	if tag <= uint64(noOrigin) {
		tag += 2
	}
	return int64(tag), buf
}

type dedup[K, V any] struct {
	store     string
	id        func(processor.Record[K, V]) string
	retention time.Duration
	ctx       processor.Context[K, V]
	seen      processor.WindowStore[string, int64]

	// cur is the origin of the last record with one; curIDs are the ids
	// this instance forwarded for it. A record of the same origin whose id
	// is there was derived from the same input record (fan-out), not
	// redelivered: a redelivery comes from a new task instance or, after an
	// aborted transaction, finds its store write gone.
	cur    processor.Origin
	curIDs map[string]struct{}
	buf    []byte
}

func (d *dedup[K, V]) Init(ctx processor.Context[K, V]) error {
	d.ctx = ctx
	var err error
	d.seen, err = processor.GetWindowStore[string, int64](ctx, d.store)
	return err
}

func (d *dedup[K, V]) Process(r processor.Record[K, V]) error {
	id := d.id(r)
	tag := noOrigin
	o, hasOrigin := r.Origin()
	if hasOrigin {
		tag, d.buf = originTag(o, d.buf)
		if o != d.cur {
			d.cur = o
			clear(d.curIDs)
		}
	}
	// Seen within the retention of this record's time (either side: an
	// out-of-order duplicate may carry an earlier time)?
	seen, redelivered := false, false
	for w, err := range d.seen.Fetch(id, r.Timestamp.Add(-d.retention+time.Millisecond), r.Timestamp.Add(d.retention-time.Millisecond)) {
		if err != nil {
			return err
		}
		seen = true
		if hasOrigin && w.Value == tag {
			redelivered = true
			break
		}
	}
	switch {
	case redelivered:
		if _, fanOut := d.curIDs[id]; fanOut {
			return nil // a duplicate from the same input record
		}
	case seen:
		return nil // a duplicate
	default:
		if err := d.seen.Put(id, tag, r.Timestamp); err != nil {
			return err
		}
	}
	if hasOrigin {
		d.curIDs[id] = struct{}{}
	}
	d.ctx.Forward(r)
	return nil
}

func (d *dedup[K, V]) Close() error { return nil }
