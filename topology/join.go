package topology

import (
	"fmt"
	"time"

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
// s's key was changed upstream (Map, FlatMap, Process), the join reads s
// through the repartition topic <application id>-<table store>-join-repartition
// (-join-2-, -join-3-… for further joins with the same table),
// inserted here as Kafka Streams does, with the stream's serdes (or the
// table's key serde and a standard value serde; Validate names the join
// when none is known). A repartition topic read together with the table's
// topic gets the table topic's partition count, as in Kafka Streams.
func Join[K, V, VT, VR any](s Stream[K, V], t Table[K, VT], joiner func(key K, v V, vt VT) VR) Stream[K, VR] {
	s.t.nilFuncs("Join", "joiner", joiner)
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
	s.t.nilFuncs("LeftJoin", "joiner", joiner)
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
	key := s.key
	if key == nil {
		key = t.key
	}
	s = byKey(s, fmt.Sprintf("join %q", name), s.t.joinRepartitionName(t.stores), key, nil)
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

// TableJoin joins two tables on their keys, as Kafka Streams'
// KTable.join(KTable, ValueJoiner): the result has a key while both tables
// have it, with the value joiner returns. An update on either side is
// joined with the other side's current value and forwarded; while the
// other side does not have the key, an update emits nothing. A delete on
// either side deletes the key from the result (forwarded as a tombstone
// when the other side has the key, whether or not the result had it, as
// Kafka Streams does). A result carries the larger of the two sides' times.
// The result is not materialized: a join with it looks both tables up.
//
// l and r must be co-partitioned, as for Join: they run in one
// sub-topology and a partition count mismatch fails the App at startup.
func TableJoin[K, V1, V2, VR any](l Table[K, V1], r Table[K, V2], joiner func(key K, v1 V1, v2 V2) VR) Table[K, VR] {
	l.t.nilFuncs("TableJoin", "joiner", joiner)
	return tableJoin(l, r, "KTABLE-JOIN", func(k K, v1 V1, _ bool, v2 V2, _ bool) VR { return joiner(k, v1, v2) },
		func(found1, found2 bool) bool { return found1 && found2 }, true, true)
}

// TableLeftJoin joins two tables on their keys, as Kafka Streams'
// KTable.leftJoin(KTable, ValueJoiner): the result has a key while l has
// it, joined with r's value (found2 true) or without one (found2 false, v2
// the zero V2; Kafka Streams' joiner sees null). An update of l is
// forwarded joined; an update or delete of r is forwarded joined when l
// has the key and emits nothing when it does not. A delete of l is
// forwarded as a tombstone when l had the key or r has it; a delete of a
// key neither side has emits nothing. Times and co-partitioning are as in
// TableJoin.
func TableLeftJoin[K, V1, V2, VR any](l Table[K, V1], r Table[K, V2], joiner func(key K, v1 V1, v2 V2, found2 bool) VR) Table[K, VR] {
	l.t.nilFuncs("TableLeftJoin", "joiner", joiner)
	return tableJoin(l, r, "KTABLE-LEFT", func(k K, v1 V1, _ bool, v2 V2, found2 bool) VR { return joiner(k, v1, v2, found2) },
		func(found1, _ bool) bool { return found1 }, false, true)
}

// TableOuterJoin joins two tables on their keys, as Kafka Streams'
// KTable.outerJoin(KTable, ValueJoiner): the result has a key while either
// table has it, joined with what each side has (found1, found2; a missing
// side's value is its zero value, Kafka Streams' joiner sees null). An
// update on either side is forwarded joined; a delete is forwarded joined
// with the other side when it has the key, as a tombstone when it does not
// and the deleting side had the key, and not at all when neither side had
// it. Times and co-partitioning are as in TableJoin.
func TableOuterJoin[K, V1, V2, VR any](l Table[K, V1], r Table[K, V2], joiner func(key K, v1 V1, v2 V2, found1, found2 bool) VR) Table[K, VR] {
	l.t.nilFuncs("TableOuterJoin", "joiner", joiner)
	return tableJoin(l, r, "KTABLE-OUTER", func(k K, v1 V1, found1 bool, v2 V2, found2 bool) VR { return joiner(k, v1, v2, found1, found2) },
		func(found1, found2 bool) bool { return found1 || found2 }, false, false)
}

// tableJoin adds the two processors of a table-table join, one per side
// (Kafka Streams' KTABLE-JOINTHIS and -JOINOTHER), and the merge of their
// updates. join makes a result from what each side has; exists says
// whether the result has the key; lNeedsR (rNeedsL) says whether an
// update of l (of r) emits nothing while the other side lacks the key.
func tableJoin[K, V1, V2, VR any](l Table[K, V1], r Table[K, V2], prefix string, join func(K, V1, bool, V2, bool) VR, exists func(found1, found2 bool) bool, lNeedsR, rNeedsL bool) Table[K, VR] {
	t := l.t
	if t == nil {
		t = r.t
	}
	this, other, merge := t.name(prefix+"THIS"), t.name(prefix+"OTHER"), t.name("KTABLE-MERGE")
	if l.t != r.t {
		t.g.Errorf("topology: table join %q: the tables belong to different topologies", merge)
		return Table[K, VR]{t: t, node: merge, old: derived()}
	}
	// The sides' updates carry old values, so that a delete of a key the
	// result had is forwarded (Kafka Streams' joins enable them too); the
	// result carries old values only when a Filter downstream needs them.
	l.old.enable()
	r.old.enable()
	old := derived(l.old, r.old)
	AddProcessor(t, this, func() processor.Processor[K, change[V1], K, change[VR]] {
		return &tableJoiner[K, V1, V2, VR]{lookup: r.lookup, old: old, needOther: lNeedsR,
			join: join, exists: func(f1, f2 bool) bool { return exists(f1, f2) }}
	}, l.node)
	AddProcessor(t, other, func() processor.Processor[K, change[V2], K, change[VR]] {
		return &tableJoiner[K, V2, V1, VR]{lookup: l.lookup, old: old, needOther: rNeedsL,
			join:   func(k K, v2 V2, f2 bool, v1 V1, f1 bool) VR { return join(k, v1, f1, v2, f2) },
			exists: func(f2, f1 bool) bool { return exists(f1, f2) }}
	}, r.node)
	for _, st := range r.stores {
		t.ConnectStore(st, this)
	}
	for _, st := range l.stores {
		t.ConnectStore(st, other)
	}
	fwd := processor.Func[K, change[VR], K, change[VR]](func(ctx processor.Context[K, change[VR]], rec processor.Record[K, change[VR]]) error {
		ctx.Forward(rec)
		return nil
	})
	AddProcessor(t, merge, fwd.Supplier(), this, other)
	stores := append(append([]string(nil), l.stores...), r.stores...)
	key := l.key
	if key == nil {
		key = r.key
	}
	return Table[K, VR]{t: t, node: merge, stores: stores, old: old, key: key, lookup: func(ctx processor.TaskContext) (tableGetter[K, VR], error) {
		get1, err := l.lookup(ctx)
		if err != nil {
			return nil, err
		}
		get2, err := r.lookup(ctx)
		if err != nil {
			return nil, err
		}
		return func(k K) (timestamped[VR], bool, error) {
			v1, found1, err := get1(k)
			if err != nil {
				return timestamped[VR]{}, false, err
			}
			v2, found2, err := get2(k)
			if err != nil || !exists(found1, found2) {
				return timestamped[VR]{}, false, err
			}
			ms := max(v1.ms, v2.ms)
			if !found1 {
				ms = v2.ms
			} else if !found2 {
				ms = v1.ms
			}
			return timestamped[VR]{agg: join(k, v1.agg, found1, v2.agg, found2), ms: ms}, true, nil
		}, nil
	}}
}

// tableJoiner is one side of a table-table join, as Kafka Streams'
// KTableKTableInnerJoin, -LeftJoin, -RightJoin and -OuterJoin processors:
// it joins an update of its side (T) with the other side's (O) value.
type tableJoiner[K, T, O, VR any] struct {
	lookup    func(processor.TaskContext) (tableGetter[K, O], error)
	old       *sendOld
	needOther bool
	join      func(K, T, bool, O, bool) VR
	exists    func(thisFound, otherFound bool) bool
	ctx       processor.Context[K, change[VR]]
	get       tableGetter[K, O]
}

func (j *tableJoiner[K, T, O, VR]) Init(ctx processor.Context[K, change[VR]]) error {
	get, err := j.lookup(ctx)
	if err != nil {
		return err
	}
	j.ctx, j.get = ctx, get
	return nil
}

func (j *tableJoiner[K, T, O, VR]) Process(r processor.Record[K, change[T]]) error {
	o, found, err := j.get(r.Key)
	if err != nil {
		return err
	}
	c := r.Value
	if !found && (j.needOther || (!c.hasNew && !c.hasOld)) {
		return nil
	}
	ts := r.Timestamp
	if found && o.ms > ts.UnixMilli() {
		ts = time.UnixMilli(o.ms)
	}
	var out change[VR]
	if j.exists(c.hasNew, found) {
		out.new, out.hasNew = j.join(r.Key, c.new, c.hasNew, o.agg, found), true
	}
	if j.old.on && j.exists(c.hasOld, found) {
		out.old, out.hasOld = j.join(r.Key, c.old, c.hasOld, o.agg, found), true
	}
	res := processor.WithValue(r, out)
	res.Timestamp = ts
	j.ctx.Forward(res)
	return nil
}

func (j *tableJoiner[K, T, O, VR]) Close() error { return nil }

// joinRepartitionName names the repartition topic a join with the table
// of the given stores inserts before a re-keyed stream: after the table's
// store, so that adding operators elsewhere never renames it (a generated
// node name would move).
func (t *Topology) joinRepartitionName(tableStores []string) string {
	base := "join"
	if len(tableStores) > 0 {
		base = tableStores[0] + "-join"
	}
	name := base
	for i := 2; ; i++ {
		if _, taken := t.g.Node(name + "-repartition-sink"); !taken {
			return name
		}
		name = fmt.Sprintf("%s-%d", base, i)
	}
}
