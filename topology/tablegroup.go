package topology

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"strconv"
	"time"

	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
)

// GroupedTable is a table re-keyed for an aggregation, as Kafka Streams'
// KGroupedTable: every update of the table becomes the removal of its old
// value from its old group and the addition of its new value to its new
// group. Aggregate it with TableAggregate, TableCount or TableReduce.
type GroupedTable[K, V any] struct {
	t      *Topology
	stream Stream[K, change[V]]
	key    serde.Serde[K]
}

// GroupTable re-keys the table with selector and repartitions it through
// <application id>-<name>-repartition, as Kafka Streams'
// KTable.groupBy(selector, Grouped.as(name)). Each update of a key forwards,
// in this order, its old value to the old value's group (to be subtracted,
// when the key had a value) and its new value to the new value's group (to
// be added, unless the update is a delete); when both fall in one group,
// one update carries both, and the group emits one result (Kafka Streams'
// KIP-904). The table's updates carry old values from then on. key and value are the serdes of the selected key
// and value, used for the repartition topic.
func GroupTable[K, V, K2, V2 any](tb Table[K, V], name string, selector func(key K, value V) (K2, V2), key serde.Serde[K2], value serde.Serde[V2]) GroupedTable[K2, V2] {
	tb.t.nilFuncs("GroupTable "+strconv.Quote(name), "selector", selector)
	tb.old.enable()
	node := tb.t.name("KTABLE-SELECT")
	fn := processor.Func[K, change[V], K2, change[V2]](func(ctx processor.Context[K2, change[V2]], r processor.Record[K, change[V]]) error {
		if r.KeyIsNull() {
			return nil
		}
		var oldKey, newKey K2
		var oldVal, newVal V2
		if r.Value.hasOld {
			oldKey, oldVal = selector(r.Key, r.Value.old)
		}
		if r.Value.hasNew {
			newKey, newVal = selector(r.Key, r.Value.new)
		}
		if r.Value.hasOld && r.Value.hasNew {
			// One group: one update with both values, as Kafka Streams
			// (KIP-904) sends it, so the group emits one result.
			if reflect.DeepEqual(oldKey, newKey) {
				ctx.Forward(processor.WithKeyValue(r, newKey, change[V2]{new: newVal, hasNew: true, old: oldVal, hasOld: true}))
				return nil
			}
		}
		if r.Value.hasOld {
			ctx.Forward(processor.WithKeyValue(r, oldKey, change[V2]{old: oldVal, hasOld: true}))
		}
		if r.Value.hasNew {
			ctx.Forward(processor.WithKeyValue(r, newKey, change[V2]{new: newVal, hasNew: true}))
		}
		return nil
	})
	AddProcessor(tb.t, node, fn.Supplier(), tb.node)
	rekeyed := Stream[K2, change[V2]]{t: tb.t, node: node}
	return GroupedTable[K2, V2]{t: tb.t, stream: Repartition(rekeyed, name, key, serde.Serde[change[V2]](changeSerde[V2]{value})), key: key}
}

// changeSerde writes a table update through a repartition topic: a flags
// byte (1: has a new value, 2: has an old value), the new value's length
// (4 bytes, big-endian), the new value's bytes, the old value's bytes.
type changeSerde[V any] struct{ inner serde.Serde[V] }

func (s changeSerde[V]) Serialize(topic string, c change[V]) ([]byte, error) {
	var flags byte
	var nb, ob []byte
	var err error
	if c.hasNew {
		flags |= 1
		if nb, err = s.inner.Serialize(topic, c.new); err != nil {
			return nil, err
		}
	}
	if c.hasOld {
		flags |= 2
		if ob, err = s.inner.Serialize(topic, c.old); err != nil {
			return nil, err
		}
	}
	out := make([]byte, 0, 5+len(nb)+len(ob))
	out = append(out, flags)
	out = binary.BigEndian.AppendUint32(out, uint32(len(nb)))
	return append(append(out, nb...), ob...), nil
}

func (s changeSerde[V]) Deserialize(topic string, data []byte) (change[V], error) {
	var c change[V]
	if len(data) < 5 {
		return c, fmt.Errorf("%w: table update in %q needs at least 5 bytes, got %d", serde.ErrDeserialize, topic, len(data))
	}
	n := int(binary.BigEndian.Uint32(data[1:5]))
	if 5+n > len(data) {
		return c, fmt.Errorf("%w: table update in %q: new value of %d bytes in %d", serde.ErrDeserialize, topic, n, len(data)-5)
	}
	var err error
	if data[0]&1 != 0 {
		if c.new, err = s.inner.Deserialize(topic, data[5:5+n:5+n]); err != nil {
			return c, err
		}
		c.hasNew = true
	}
	if data[0]&2 != 0 {
		if c.old, err = s.inner.Deserialize(topic, data[5+n:]); err != nil {
			return c, err
		}
		c.hasOld = true
	}
	return c, nil
}

// TableAggregate aggregates a grouped table into a table kept in the
// key-value store named store, as Kafka Streams'
// KGroupedTable.aggregate(initializer, adder, subtractor): for each update
// of a group, subtract removes the old value (when the group has an
// aggregate), then add folds the new value in (starting from initial when
// the group has none). The result table forwards the updated aggregates
// (one per group and commit with the record cache, as in Aggregate, whose
// old value is the group's aggregate at the last commit);
// its update carries the highest event time of the group's records, as
// Kafka Streams stamps it. An aggregate that agg writes as null (a nil
// pointer with serde.JSON) deletes the group.
func TableAggregate[K, V, A any](g GroupedTable[K, V], store string, initial func() A, add func(key K, value V, agg A) A, subtract func(key K, value V, agg A) A, agg serde.Serde[A]) Table[K, A] {
	g.t.nilFuncs("TableAggregate "+strconv.Quote(store), "initial", initial, "add", add, "subtract", subtract)
	return tableAggregate(g, "KTABLE-AGGREGATE", store,
		func(k K, v V, a A, has bool) A {
			if !has {
				a = initial()
			}
			return add(k, v, a)
		}, subtract, agg)
}

// TableCount counts the values of each group of a grouped table, as Kafka
// Streams' KGroupedTable.count(): TableAggregate with +1 and -1. A group
// whose last value left it keeps the count 0.
func TableCount[K, V any](g GroupedTable[K, V], store string) Table[K, int64] {
	return tableAggregate(g, "KTABLE-AGGREGATE", store,
		func(_ K, _ V, n int64, _ bool) int64 { return n + 1 },
		func(_ K, _ V, n int64) int64 { return n - 1 }, serde.Int64)
}

// TableReduce combines the values of each group of a grouped table, as
// Kafka Streams' KGroupedTable.reduce(adder, subtractor): the first value of
// a group is its result as it is, later values are added with add, removed
// ones subtracted with subtract.
func TableReduce[K, V any](g GroupedTable[K, V], store string, add func(agg, value V) V, subtract func(agg, value V) V, value serde.Serde[V]) Table[K, V] {
	g.t.nilFuncs("TableReduce "+strconv.Quote(store), "add", add, "subtract", subtract)
	return tableAggregate(g, "KTABLE-REDUCE", store,
		func(_ K, v V, a V, has bool) V {
			if !has {
				return v
			}
			return add(a, v)
		},
		func(_ K, v V, a V) V { return subtract(a, v) }, value)
}

// tableAggregate adds the processor and the timestamped store behind the
// grouped-table aggregations: add(key, value, agg, has) folds a value into
// the group's aggregate (has false: the group has none), subtract removes
// one.
func tableAggregate[K, V, A any](g GroupedTable[K, V], prefix, store string, add func(K, V, A, bool) A, subtract func(K, V, A) A, agg serde.Serde[A]) Table[K, A] {
	name := g.t.name(prefix)
	old := derived()
	AddProcessor(g.t, name, func() processor.Processor[K, change[V], K, change[A]] {
		return &tableAggregator[K, V, A]{store: store, add: add, subtract: subtract, old: old}
	}, g.stream.node)
	addTimestampedStore(g.t, store, g.key, agg, name)
	return Table[K, A]{t: g.t, node: name, stores: []string{store}, lookup: storeLookup[K, A](store), old: old, key: g.key}
}

// tableAggregator is the processor of the grouped-table aggregations, as
// Kafka Streams' KTableAggregate and KTableReduce.
type tableAggregator[K, V, A any] struct {
	store    string
	add      func(K, V, A, bool) A
	subtract func(K, V, A) A
	old      *sendOld
	ctx      processor.Context[K, change[A]]
	st       *timestampedKV[K, A]
}

func (p *tableAggregator[K, V, A]) Init(ctx processor.Context[K, change[A]]) error {
	st, err := timestampedStore[K, A](ctx, p.store)
	if err != nil {
		return err
	}
	p.ctx, p.st = ctx, st
	st.enableCache(ctx, p.emit)
	return nil
}

// emit forwards a flushed cache entry: the group's latest aggregate, and
// (when the table sends old values) the one it had at the last flush, as
// Kafka Streams' TimestampedCacheFlushListener.
func (p *tableAggregator[K, V, A]) emit(e *cacheEntry[K, A]) {
	c := change[A]{new: e.val.agg, hasNew: true}
	if p.old.on {
		c.old, c.hasOld = e.old.agg, e.hadOld
	}
	p.ctx.Forward(processor.WithValue(e.rec, c))
}

// FlushCache writes and forwards the updates the store's record cache
// holds (engine.Flusher).
func (p *tableAggregator[K, V, A]) FlushCache() error {
	if p.st == nil || p.st.cache == nil {
		return nil
	}
	return p.st.cache.flush()
}

func (p *tableAggregator[K, V, A]) Process(r processor.Record[K, change[V]]) error {
	if r.KeyIsNull() {
		dropped(p.ctx, "null key in a table aggregation")
		return nil
	}
	cur, has, err := p.st.getTimed(r.Key)
	if err != nil {
		return err
	}
	ts := r.Timestamp.UnixMilli()
	next, hasNext := cur.agg, has
	if r.Value.hasOld && has {
		next = p.subtract(r.Key, r.Value.old, next)
		ts = max(ts, cur.ms)
	}
	if r.Value.hasNew {
		next = p.add(r.Key, r.Value.new, next, hasNext)
		hasNext = true
		if has {
			ts = max(ts, cur.ms)
		}
	}
	if !hasNext {
		return nil // a removal from a group that has no aggregate
	}
	if c := p.st.cache; c != nil {
		out := processor.WithValue(r, next)
		out.Timestamp = time.UnixMilli(ts)
		return c.put(r.Key, timestamped[A]{agg: next, ms: ts}, out, cur, has)
	}
	if err := p.st.putTimed(r.Key, timestamped[A]{agg: next, ms: ts}); err != nil {
		return err
	}
	c := change[A]{new: next, hasNew: true}
	if p.old.on {
		c.old, c.hasOld = cur.agg, has
	}
	out := processor.WithValue(r, c)
	out.Timestamp = time.UnixMilli(ts)
	p.ctx.Forward(out)
	return nil
}

func (p *tableAggregator[K, V, A]) Close() error {
	if p.st != nil && p.st.cache != nil {
		p.st.cache.close()
		p.st.cache = nil
	}
	return nil
}
