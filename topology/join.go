package topology

import (
	"github.com/samsa-streams/samsa/processor"
)

// Join joins every record of s with the value its key has in t, as Kafka
// Streams' KStream.join(KTable, ValueJoinerWithKey): an inner stream-table
// join. Only stream records trigger output; a table update changes what
// later stream records see but emits nothing. The output record is the
// stream record's (key, time, headers) with the value joiner returns.
//
// As in Kafka Streams:
//   - a stream record whose key the table does not have emits nothing;
//   - a stream record with a null key or a null value (a tombstone) is
//     dropped (counted by the task as dropped);
//   - the lookup sees the table as it is when the stream record is
//     processed, whatever the times of the records: there is no grace
//     period and no versioned lookup.
//
// s and t must be co-partitioned: the stream's topics and the table's
// topic need the same partition count and the same partitioning by key.
// The join reads the table's store, so the stream and the table run in
// one sub-topology and a partition count mismatch fails the App at
// startup (samsa.ErrCopartition, naming the topics and their counts). When
// s's key was changed, repartition it first (Repartition): a repartition
// topic read together with the table's topic gets the table topic's
// partition count, as Kafka Streams gives it.
func Join[K, V, VT, VR any](s Stream[K, V], t Table[K, VT], joiner func(key K, v V, vt VT) VR) Stream[K, VR] {
	return streamTableJoin(s, t, false, func(k K, v V, vt VT, _ bool) VR { return joiner(k, v, vt) })
}

// LeftJoin joins every record of s with the value its key has in t, as
// Kafka Streams' KStream.leftJoin(KTable, ValueJoinerWithKey): as Join,
// but a stream record whose key the table does not have is joined too,
// with found false and vt the zero VT (Kafka Streams' joiner sees null).
//
// As in Kafka Streams (4.x, KIP-962), a stream record with a null key is
// not dropped by a left join: it is joined with found false, and the
// output keeps the null key. A stream record with a null value is
// dropped. Co-partitioning is as in Join.
func LeftJoin[K, V, VT, VR any](s Stream[K, V], t Table[K, VT], joiner func(key K, v V, vt VT, found bool) VR) Stream[K, VR] {
	return streamTableJoin(s, t, true, joiner)
}

func streamTableJoin[K, V, VT, VR any](s Stream[K, V], t Table[K, VT], left bool, joiner func(K, V, VT, bool) VR) Stream[K, VR] {
	prefix := "KSTREAM-JOIN"
	if left {
		prefix = "KSTREAM-LEFTJOIN"
	}
	name := s.t.name(prefix)
	if s.t != t.t {
		s.t.g.Errorf("topology: join %q: the stream and the table belong to different topologies", name)
		return Stream[K, VR]{t: s.t, node: name}
	}
	AddProcessor(s.t, name, func() processor.Processor[K, V, K, VR] {
		return &streamTableJoiner[K, V, VT, VR]{left: left, lookup: t.lookup, joiner: joiner}
	}, s.node)
	for _, st := range t.stores {
		s.t.ConnectStore(st, name)
	}
	return Stream[K, VR]{t: s.t, node: name}
}

// streamTableJoiner is the processor of Join and LeftJoin, as Kafka
// Streams' KStreamKTableJoinProcessor.
type streamTableJoiner[K, V, VT, VR any] struct {
	left   bool
	lookup func(processor.TaskContext) (tableGetter[K, VT], error)
	joiner func(K, V, VT, bool) VR
	ctx    processor.Context[K, VR]
	get    tableGetter[K, VT]
}

func (j *streamTableJoiner[K, V, VT, VR]) Init(ctx processor.Context[K, VR]) error {
	get, err := j.lookup(ctx)
	if err != nil {
		return err
	}
	j.ctx, j.get = ctx, get
	return nil
}

func (j *streamTableJoiner[K, V, VT, VR]) Process(r processor.Record[K, V]) error {
	if r.IsTombstone() || (r.KeyIsNull() && !j.left) {
		dropped(j.ctx, "null key or value in a stream-table join")
		return nil
	}
	var (
		vt    timestamped[VT]
		found bool
	)
	if !r.KeyIsNull() {
		var err error
		if vt, found, err = j.get(r.Key); err != nil {
			return err
		}
	}
	if !found && !j.left {
		return nil
	}
	j.ctx.Forward(processor.WithValue(r, j.joiner(r.Key, r.Value, vt.agg, found)))
	return nil
}

func (j *streamTableJoiner[K, V, VT, VR]) Close() error { return nil }
