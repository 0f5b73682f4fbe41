package topology

import (
	"fmt"

	"github.com/samsa-streams/samsa/internal/engine"
	"github.com/samsa-streams/samsa/internal/stores"
	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
)

// Table is a changelog read as a table, as Kafka Streams' KTable: the
// latest value of every key. Its updates flow from operator to operator: a
// value sets a key, a tombstone (processor.Record.IsTombstone on ToStream's
// records) deletes it. Every update is forwarded (Kafka Streams with the
// record cache off). Where an operator needs it (Filter, a table join),
// an update also carries the key's previous value, so that deletes of keys
// a result never had are dropped as Kafka Streams drops them.
//
// A Table made by TableOf is materialized in a key-value store, and so are
// the results of the table aggregations and of the foreign-key joins
// (FKJoin, FKLeftJoin); the tables derived by Filter, TableMapValues and
// the table-table joins are not, and a join reads them through the stores
// of the tables they derive from, as Kafka Streams' value getters do.
type Table[K, V any] struct {
	t    *Topology
	node string
	// stores are the stores that lookup reads: they are connected to every
	// processor that looks the table up (a join).
	stores []string
	// lookup returns, for a task, what the table holds for a key: its value,
	// the event time of its last update, and whether the key is there.
	lookup func(ctx processor.TaskContext) (tableGetter[K, V], error)
	// old says whether the table's updates carry old values.
	old *sendOld
	// key is the key serde of the table's topic (nil when unknown): a
	// re-keyed stream joined with the table is repartitioned with it.
	key serde.Serde[K]
}

// sendOld says whether a table's updates carry the key's previous value,
// as Kafka Streams' sendOldValues: only when an operator downstream needs
// it (Filter, a table join), which enables it up to the sources. It is
// decided while the topology is built and read by the processors when
// they run (so a topology should not grow after it is compiled), and it is
// observable: a Filter after a table join drops deletes that the join
// would forward without it.
type sendOld struct {
	on      bool
	parents []*sendOld
}

// enable turns old values on for o and every table it derives from.
func (o *sendOld) enable() {
	if o == nil || o.on {
		return
	}
	o.on = true
	for _, p := range o.parents {
		p.enable()
	}
}

// derived returns the flag of a table derived from parents.
func derived(parents ...*sendOld) *sendOld { return &sendOld{parents: parents} }

// tableGetter returns the value of a key in a table, the event time of its
// last update, and whether the table has the key.
type tableGetter[K, V any] func(key K) (timestamped[V], bool, error)

// change is a table update: the key's new value (none: a delete) and its
// previous value (none: the key was not there), as Kafka Streams' Change.
type change[V any] struct {
	new, old       V
	hasNew, hasOld bool
}

// Topology returns the topology the table belongs to.
func (tb Table[K, V]) Topology() *Topology { return tb.t }

// TableOf adds a table read from topic, as Kafka Streams' builder.table
// with Materialized.as(store): a source, and a processor that keeps the
// latest value of each key in the key-value store named store, logged to
// <application id>-<store>-changelog (Kafka Streams without topology
// optimization also logs it rather than reuse the topic).
//
// As in Kafka Streams:
//   - a record upserts its key, a tombstone deletes it; both are forwarded
//     as the table's update (a tombstone as a tombstone, also for a key the
//     table never had);
//   - a record with a null key is dropped (counted by the task as dropped);
//   - the store keeps each value with the event time of its update, the
//     record's own, even when it is older than the value it replaces: 8
//     bytes of big-endian milliseconds, then the value's bytes, as Kafka
//     Streams' timestamped key-value stores. Looked up with
//     processor.GetKeyValueStore[K, V] it shows the values only.
func TableOf[K, V any](t *Topology, topic, store string, key serde.Serde[K], value serde.Serde[V]) Table[K, V] {
	src := StreamOf(t, key, value, topic)
	name := t.name("KTABLE-SOURCE")
	old := derived()
	AddProcessor(t, name, func() processor.Processor[K, V, K, change[V]] {
		return &tableSource[K, V]{store: store, old: old}
	}, src.node)
	addTimestampedStore(t, store, key, value, name)
	return Table[K, V]{t: t, node: name, stores: []string{store}, lookup: storeLookup[K, V](store), old: old, key: key}
}

// addTimestampedStore adds the key-value store named store that keeps a
// value with its event time (a timestampedKV) and connects it to proc.
func addTimestampedStore[K, V any](t *Topology, store string, key serde.Serde[K], value serde.Serde[V], proc string) {
	_, exists := t.g.Stores[store]
	AddKeyValueStore(t, KeyValueStore[K, V]{Name: store, Key: key, Value: value}, proc)
	if def, ok := t.g.Stores[store]; ok && !exists {
		ts := timestampedSerde[V]{value}
		def.Wrap = func(o engine.Opened) processor.StateStore {
			raw := o.Raw
			return &timestampedKV[K, V]{raw: raw, key: key, value: ts, inner: stores.NewKeyValueStore(raw, key, serde.Serde[timestamped[V]](ts))}
		}
	}
}

// timestampedStore looks the timestamped store named store up.
func timestampedStore[K, V any](ctx processor.TaskContext, store string) (*timestampedKV[K, V], error) {
	s, err := ctx.StateStore(store)
	if err != nil {
		return nil, fmt.Errorf("topology: table store %q: %w", store, err)
	}
	st, ok := s.(*timestampedKV[K, V])
	if !ok {
		return nil, fmt.Errorf("topology: store %q is a %T, not a table's timestamped store", store, s)
	}
	return st, nil
}

// storeLookup is the lookup of a table materialized in store.
func storeLookup[K, V any](store string) func(processor.TaskContext) (tableGetter[K, V], error) {
	return func(ctx processor.TaskContext) (tableGetter[K, V], error) {
		st, err := timestampedStore[K, V](ctx, store)
		if err != nil {
			return nil, err
		}
		return st.getTimed, nil
	}
}

// tableSource is the processor of TableOf, as Kafka Streams' KTableSource.
type tableSource[K, V any] struct {
	store string
	old   *sendOld
	ctx   processor.Context[K, change[V]]
	st    *timestampedKV[K, V]
}

func (p *tableSource[K, V]) Init(ctx processor.Context[K, change[V]]) error {
	st, err := timestampedStore[K, V](ctx, p.store)
	if err != nil {
		return err
	}
	p.ctx, p.st = ctx, st
	return nil
}

func (p *tableSource[K, V]) Process(r processor.Record[K, V]) error {
	if r.KeyIsNull() {
		dropped(p.ctx, "null key in a table")
		return nil
	}
	old, hasOld, err := p.st.getTimed(r.Key)
	if err != nil {
		return err
	}
	if r.IsTombstone() {
		if _, _, err := p.st.Delete(r.Key); err != nil {
			return err
		}
	} else if err := p.st.putTimed(r.Key, timestamped[V]{agg: r.Value, ms: r.Timestamp.UnixMilli()}); err != nil {
		return err
	}
	c := change[V]{new: r.Value, hasNew: !r.IsTombstone()}
	if p.old.on {
		c.old, c.hasOld = old.agg, hasOld
	}
	p.ctx.Forward(processor.WithValue(r, c))
	return nil
}

func (p *tableSource[K, V]) Close() error { return nil }

// ToStream returns the table's updates as a stream, as Kafka Streams'
// KTable.toStream(): a deleted key is a tombstone.
func (tb Table[K, V]) ToStream() Stream[K, V] {
	name := tb.t.name("KTABLE-TOSTREAM")
	fn := processor.Func[K, change[V], K, V](func(ctx processor.Context[K, V], r processor.Record[K, change[V]]) error {
		out := processor.WithValue(r, r.Value.new)
		if !r.Value.hasNew {
			out = out.AsTombstone()
		}
		ctx.Forward(out)
		return nil
	})
	AddProcessor(tb.t, name, fn.Supplier(), tb.node)
	return Stream[K, V]{t: tb.t, node: name}
}

// Filter returns the table of the keys whose value keep accepts, as Kafka
// Streams' KTable.filter over a materialized table. An update keep rejects
// deletes its key from the filtered table: it is forwarded as a tombstone
// when the filtered table had the key (its previous value was accepted),
// and not at all when it did not (a key never seen, deleted, or rejected
// before). A tombstone is forwarded likewise, only for a key the filtered
// table had. keep is called for values only, never for a tombstone. The
// result is not materialized: a join looks it up through the table it
// derives from, filtering as it reads.
func (tb Table[K, V]) Filter(keep func(key K, value V) bool) Table[K, V] {
	tb.t.nilFuncs("Table.Filter", "keep", keep)
	name := tb.t.name("KTABLE-FILTER")
	tb.old.enable()
	old := derived(tb.old)
	fn := processor.Func[K, change[V], K, change[V]](func(ctx processor.Context[K, change[V]], r processor.Record[K, change[V]]) error {
		var c change[V]
		if r.Value.hasNew && keep(r.Key, r.Value.new) {
			c.new, c.hasNew = r.Value.new, true
		}
		if r.Value.hasOld && keep(r.Key, r.Value.old) {
			c.old, c.hasOld = r.Value.old, true
		}
		if !c.hasNew && !c.hasOld {
			return nil // no change to the filtered table
		}
		if !old.on {
			var zero V
			c.old, c.hasOld = zero, false
		}
		ctx.Forward(processor.WithValue(r, c))
		return nil
	})
	AddProcessor(tb.t, name, fn.Supplier(), tb.node)
	parent := tb.lookup
	return Table[K, V]{t: tb.t, node: name, stores: tb.stores, old: old, key: tb.key, lookup: func(ctx processor.TaskContext) (tableGetter[K, V], error) {
		get, err := parent(ctx)
		if err != nil {
			return nil, err
		}
		return func(k K) (timestamped[V], bool, error) {
			v, ok, err := get(k)
			if err != nil || !ok || !keep(k, v.agg) {
				return timestamped[V]{}, false, err
			}
			return v, true, nil
		}, nil
	}}
}

// FilterNot returns the table of the keys whose value drop rejects: Filter
// with the predicate negated.
func (tb Table[K, V]) FilterNot(drop func(key K, value V) bool) Table[K, V] {
	return tb.Filter(func(k K, v V) bool { return !drop(k, v) })
}

// TableMapValues returns the table with every value mapped by fn, as Kafka
// Streams' KTable.mapValues. A tombstone stays one and fn is not called
// for it; an update carries its key, time and headers. When a Filter
// downstream needs old values, fn is called for the key's previous value
// too, as Kafka Streams' is, so it should be a pure function. The result
// is not
// materialized: a join looks it up through the table it derives from,
// mapping as it reads.
func TableMapValues[K, V, V2 any](tb Table[K, V], fn func(key K, value V) V2) Table[K, V2] {
	tb.t.nilFuncs("TableMapValues", "fn", fn)
	name := tb.t.name("KTABLE-MAPVALUES")
	old := derived(tb.old)
	p := processor.Func[K, change[V], K, change[V2]](func(ctx processor.Context[K, change[V2]], r processor.Record[K, change[V]]) error {
		c := change[V2]{hasNew: r.Value.hasNew, hasOld: r.Value.hasOld && old.on}
		if c.hasNew {
			c.new = fn(r.Key, r.Value.new)
		}
		if c.hasOld {
			c.old = fn(r.Key, r.Value.old)
		}
		ctx.Forward(processor.WithValue(r, c))
		return nil
	})
	AddProcessor(tb.t, name, p.Supplier(), tb.node)
	parent := tb.lookup
	return Table[K, V2]{t: tb.t, node: name, stores: tb.stores, old: old, key: tb.key, lookup: func(ctx processor.TaskContext) (tableGetter[K, V2], error) {
		get, err := parent(ctx)
		if err != nil {
			return nil, err
		}
		return func(k K) (timestamped[V2], bool, error) {
			v, ok, err := get(k)
			if err != nil || !ok {
				return timestamped[V2]{}, false, err
			}
			return timestamped[V2]{agg: fn(k, v.agg), ms: v.ms}, true, nil
		}, nil
	}}
}
