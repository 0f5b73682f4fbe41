package topology

import (
	"encoding/binary"
	"fmt"
	"iter"
	"log/slog"
	"strconv"
	"time"

	"github.com/samsa-streams/samsa/internal/engine"
	"github.com/samsa-streams/samsa/internal/stores"
	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
)

// Stream is a record stream in the DSL, as Kafka Streams' KStream. Methods
// that keep the key and value types are methods; those that change them are
// functions (Map, MapValues, FlatMap), since Go methods cannot take type
// parameters.
//
// Tombstones and null keys: a record read with a null value or key keeps
// it (processor.Record.IsTombstone, KeyIsNull). Filter, FilterNot, Peek,
// Branch, Merge, To and Repartition pass such a record on unchanged, and a
// sink writes it null again; functions given to them (predicates, Peek's
// fn) see the zero value in its place, as Kafka Streams' see null. Map,
// MapValues and FlatMap make new keys and values, which are not null
// unless their serde writes them as null (a nil pointer with serde.JSON).
// Aggregate, Count and Reduce drop records with a null key or value, as
// Kafka Streams' aggregations do.
type Stream[K, V any] struct {
	t    *Topology
	node string
	// rekeyedAt names the node where the key may have changed since the
	// stream was last partitioned by its key (Map, FlatMap, MapErr,
	// Process); "" when it is. A stateful operator on a rekeyed stream
	// reads it through a repartition topic (see Aggregate).
	rekeyedAt string
	// key and value are the stream's serdes when known (from StreamOf,
	// Repartition, GroupBy, or kept through operators that keep the
	// type); nil otherwise.
	key   serde.Serde[K]
	value serde.Serde[V]
}

// Node returns the name of the node that produces the stream.
func (s Stream[K, V]) Node() string { return s.node }

// Topology returns the topology the stream belongs to.
func (s Stream[K, V]) Topology() *Topology { return s.t }

// StreamOf adds a source reading topics and returns its stream.
func StreamOf[K, V any](t *Topology, key serde.Serde[K], value serde.Serde[V], topics ...string) Stream[K, V] {
	name := t.name("KSTREAM-SOURCE")
	AddSource(t, name, Source[K, V]{Topics: topics, Key: key, Value: value})
	return Stream[K, V]{t: t, node: name, key: key, value: value}
}

// StreamFrom adds a source configured in full (topics, serdes, and how its
// records get their event time: Source.EventTime, Timestamp or WallClock)
// and returns its stream.
func StreamFrom[K, V any](t *Topology, src Source[K, V]) Stream[K, V] {
	name := t.name("KSTREAM-SOURCE")
	AddSource(t, name, src)
	return Stream[K, V]{t: t, node: name, key: src.Key, value: src.Value}
}

// Process adds a processor fed by the stream and returns its output stream.
// The processor may change keys, so a stateful DSL operator after it reads
// through a repartition topic, as after Map (Kafka Streams' process() does
// the same); Repartition or GroupBy name that topic yourself.
func Process[K, V, K2, V2 any](s Stream[K, V], supplier processor.Supplier[K, V, K2, V2]) Stream[K2, V2] {
	name := s.t.name("KSTREAM-PROCESSOR")
	AddProcessor(s.t, name, supplier, s.node)
	return Stream[K2, V2]{t: s.t, node: name, rekeyedAt: name}
}

// ProcessValues adds a processor that keeps the key of every record it
// forwards (it may change values, drop records or forward several), as
// Kafka Streams' processValues: the stream stays partitioned as it was, so
// a stateful operator after it needs no repartition. Forwarding a record
// with another key breaks that promise; use Process for that.
func ProcessValues[K, V, V2 any](s Stream[K, V], supplier processor.Supplier[K, V, K, V2]) Stream[K, V2] {
	name := s.t.name("KSTREAM-PROCESSVALUES")
	AddProcessor(s.t, name, supplier, s.node)
	return Stream[K, V2]{t: s.t, node: name, rekeyedAt: s.rekeyedAt, key: s.key}
}

// stateless adds a processor that keeps the key where it is (no key
// change): the stream stays as partitioned as s was, and keeps the serdes
// of s where the types are the same.
func stateless[K, V, K2, V2 any](s Stream[K, V], prefix string, fn processor.Func[K, V, K2, V2]) Stream[K2, V2] {
	name := s.t.name(prefix)
	AddProcessor(s.t, name, fn.Supplier(), s.node)
	out := Stream[K2, V2]{t: s.t, node: name, rekeyedAt: s.rekeyedAt}
	out.key, _ = any(s.key).(serde.Serde[K2])
	out.value, _ = any(s.value).(serde.Serde[V2])
	return out
}

// rekeyed marks a stream whose key was changed by its node.
func rekeyed[K, V any](s Stream[K, V]) Stream[K, V] {
	s.rekeyedAt = s.node
	return s
}

// byKey returns s partitioned by its key for the stateful operator op
// (e.g. `Count "counts"`): s itself when it is, otherwise s read through
// the repartition topic <application id>-<name>-repartition, inserted here
// as Kafka Streams inserts one before an aggregation or a join after a key
// change. The repartition topic needs serdes: key and value when given,
// else the stream's own, else a standard one for the type (string,
// []byte, int64, int32, float64); when none is known the topology records
// an error naming op and the node that changed the key.
func byKey[K, V any](s Stream[K, V], op, name string, key serde.Serde[K], value serde.Serde[V]) Stream[K, V] {
	if s.rekeyedAt == "" {
		return s
	}
	if key == nil {
		key = s.key
	}
	if value == nil {
		value = s.value
	}
	if key == nil {
		key, _ = standardSerde[K]()
	}
	if value == nil {
		value, _ = standardSerde[V]()
	}
	if key == nil || value == nil {
		var k K
		var v V
		s.t.g.Errorf("topology: %s: the key changed at %s, so the records must be repartitioned by key first, and samsa knows no serde for %T/%T to write the repartition topic: call topology.Repartition (or GroupBy) with serdes before it", op, s.rekeyedAt, k, v)
		return s
	}
	return Repartition(s, name, key, value)
}

// standardSerde returns samsa's serde for the basic types a repartition
// topic can carry without being told how.
func standardSerde[T any]() (serde.Serde[T], bool) {
	var s any
	switch any(*new(T)).(type) {
	case string:
		s = serde.String
	case []byte:
		s = serde.Bytes
	case int64:
		s = serde.Int64
	case int32:
		s = serde.Int32
	case float64:
		s = serde.Float64
	default:
		return nil, false
	}
	out, ok := s.(serde.Serde[T])
	return out, ok
}

// ignoredValue writes every value as empty bytes and reads the zero value:
// Count's repartition topic carries keys, timestamps and tombstones only.
type ignoredValue[V any] struct{}

func (ignoredValue[V]) Serialize(string, V) ([]byte, error)   { return []byte{}, nil }
func (ignoredValue[V]) Deserialize(string, []byte) (V, error) { var v V; return v, nil }

// Map changes key and value of every record. For a tombstone or a null key
// fn receives the zero value; the key and value it returns are not null.
func Map[K, V, K2, V2 any](s Stream[K, V], fn func(key K, value V) (K2, V2)) Stream[K2, V2] {
	s.t.nilFuncs("Map", "fn", fn)
	return rekeyed(stateless(s, "KSTREAM-MAP", func(ctx processor.Context[K2, V2], r processor.Record[K, V]) error {
		k, v := fn(r.Key, r.Value)
		ctx.Forward(processor.WithKeyValue(r, k, v))
		return nil
	}))
}

// MapValues changes the value of every record and keeps its key (null if it
// is).
//
// For a tombstone fn receives the zero value (Kafka Streams calls the
// mapper with null), and what it returns is a value, not a tombstone:
// mapping a String tombstone to strings.ToUpper("") writes "". A mapper
// emits a tombstone by returning a value its sink's serde writes as null:
// a nil pointer with serde.JSON[*T], a nil []byte with serde.Bytes. A
// mapper that must tell a tombstone from the zero value, or emit a
// tombstone of a type without nil (a string), is a processor.Func given to
// Process that tests r.IsTombstone() and forwards r.AsTombstone().
func MapValues[K, V, V2 any](s Stream[K, V], fn func(key K, value V) V2) Stream[K, V2] {
	s.t.nilFuncs("MapValues", "fn", fn)
	return stateless(s, "KSTREAM-MAPVALUES", func(ctx processor.Context[K, V2], r processor.Record[K, V]) error {
		ctx.Forward(processor.WithValue(r, fn(r.Key, r.Value)))
		return nil
	})
}

// FlatMap turns every record into zero or more records.
func FlatMap[K, V, K2, V2 any](s Stream[K, V], fn func(key K, value V) []processor.KeyValue[K2, V2]) Stream[K2, V2] {
	s.t.nilFuncs("FlatMap", "fn", fn)
	return rekeyed(stateless(s, "KSTREAM-FLATMAP", func(ctx processor.Context[K2, V2], r processor.Record[K, V]) error {
		for _, kv := range fn(r.Key, r.Value) {
			ctx.Forward(processor.WithKeyValue(r, kv.Key, kv.Value))
		}
		return nil
	}))
}

// MapValuesErr is MapValues with a mapper that can fail: an error goes to
// the processing-error policy (samsa.Config.Errors.Processing) for the
// record, which fails the app, skips the record or dead-letters it.
func MapValuesErr[K, V, V2 any](s Stream[K, V], fn func(key K, value V) (V2, error)) Stream[K, V2] {
	s.t.nilFuncs("MapValuesErr", "fn", fn)
	return stateless(s, "KSTREAM-MAPVALUES", func(ctx processor.Context[K, V2], r processor.Record[K, V]) error {
		v, err := fn(r.Key, r.Value)
		if err != nil {
			return err
		}
		ctx.Forward(processor.WithValue(r, v))
		return nil
	})
}

// MapErr is Map with a function that can fail: an error goes to the
// processing-error policy for the record, as in MapValuesErr.
func MapErr[K, V, K2, V2 any](s Stream[K, V], fn func(key K, value V) (K2, V2, error)) Stream[K2, V2] {
	s.t.nilFuncs("MapErr", "fn", fn)
	return rekeyed(stateless(s, "KSTREAM-MAP", func(ctx processor.Context[K2, V2], r processor.Record[K, V]) error {
		k, v, err := fn(r.Key, r.Value)
		if err != nil {
			return err
		}
		ctx.Forward(processor.WithKeyValue(r, k, v))
		return nil
	}))
}

// FilterErr is Filter with a predicate that can fail: an error goes to the
// processing-error policy for the record, as in MapValuesErr.
func (s Stream[K, V]) FilterErr(keep func(key K, value V) (bool, error)) Stream[K, V] {
	s.t.nilFuncs("FilterErr", "keep", keep)
	return stateless(s, "KSTREAM-FILTER", func(ctx processor.Context[K, V], r processor.Record[K, V]) error {
		ok, err := keep(r.Key, r.Value)
		if err != nil {
			return err
		}
		if ok {
			ctx.Forward(r)
		}
		return nil
	})
}

// Filter keeps the records for which keep returns true. A record passes
// unchanged: a tombstone stays one (keep sees the zero value).
func (s Stream[K, V]) Filter(keep func(key K, value V) bool) Stream[K, V] {
	s.t.nilFuncs("Filter", "keep", keep)
	return stateless(s, "KSTREAM-FILTER", func(ctx processor.Context[K, V], r processor.Record[K, V]) error {
		if keep(r.Key, r.Value) {
			ctx.Forward(r)
		}
		return nil
	})
}

// FilterNot drops the records for which drop returns true.
func (s Stream[K, V]) FilterNot(drop func(key K, value V) bool) Stream[K, V] {
	s.t.nilFuncs("FilterNot", "drop", drop)
	return s.Filter(func(k K, v V) bool { return !drop(k, v) })
}

// Peek calls fn for every record and passes it on unchanged.
func (s Stream[K, V]) Peek(fn func(key K, value V)) Stream[K, V] {
	s.t.nilFuncs("Peek", "fn", fn)
	return stateless(s, "KSTREAM-PEEK", func(ctx processor.Context[K, V], r processor.Record[K, V]) error {
		fn(r.Key, r.Value)
		ctx.Forward(r)
		return nil
	})
}

// Merge returns a stream of the records of s and others.
func (s Stream[K, V]) Merge(others ...Stream[K, V]) Stream[K, V] {
	name := s.t.name("KSTREAM-MERGE")
	parents := []string{s.node}
	out := Stream[K, V]{t: s.t, node: name, rekeyedAt: s.rekeyedAt, key: s.key, value: s.value}
	for _, o := range others {
		parents = append(parents, o.node)
		if out.rekeyedAt == "" {
			out.rekeyedAt = o.rekeyedAt
		}
		if out.key == nil {
			out.key = o.key
		}
		if out.value == nil {
			out.value = o.value
		}
	}
	fn := processor.Func[K, V, K, V](func(ctx processor.Context[K, V], r processor.Record[K, V]) error {
		ctx.Forward(r)
		return nil
	})
	AddProcessor(s.t, name, fn.Supplier(), parents...)
	return out
}

// Branch splits the stream: a record goes to the first branch whose
// predicate accepts it, and is dropped when none does.
func (s Stream[K, V]) Branch(preds ...func(key K, value V) bool) []Stream[K, V] {
	for i, p := range preds {
		s.t.nilFuncs("Branch", fmt.Sprintf("predicate %d", i), p)
	}
	out := make([]Stream[K, V], len(preds))
	for i, p := range preds {
		prev := preds[:i]
		out[i] = s.Filter(func(k K, v V) bool {
			for _, q := range prev {
				if q(k, v) {
					return false
				}
			}
			return p(k, v)
		})
	}
	return out
}

// To writes the stream to a topic with the given serdes.
func (s Stream[K, V]) To(topic string, key serde.Serde[K], value serde.Serde[V]) {
	AddSink(s.t, s.t.name("KSTREAM-SINK"), Sink[K, V]{Topic: topic, Key: key, Value: value}, s.node)
}

// ToSink writes the stream with a fully configured sink (topic function,
// partitioner).
func (s Stream[K, V]) ToSink(sink Sink[K, V]) {
	AddSink(s.t, s.t.name("KSTREAM-SINK"), sink, s.node)
}

// internalTopicPrefix marks a topic name that the App replaces with
// <application id>-<name>-repartition.
const internalTopicPrefix = "__samsa_internal__:"

// Repartition writes the stream through the repartition topic
// <application id>-<name>-repartition, created by the App with as many
// partitions as the stream's input, and returns the stream read back from
// it: records are then partitioned by their (new) key, so that a stateful
// operation after a key change sees every record of a key in one task.
func Repartition[K, V any](s Stream[K, V], name string, key serde.Serde[K], value serde.Serde[V]) Stream[K, V] {
	placeholder := internalTopicPrefix + name
	sink := name + "-repartition-sink"
	AddSink(s.t, sink, Sink[K, V]{Topic: placeholder, Key: key, Value: value}, s.node)
	if n, ok := s.t.g.Node(sink); ok {
		n.Internal = name
	}
	src := name + "-repartition-source"
	AddSource(s.t, src, Source[K, V]{Topics: []string{placeholder}, Key: key, Value: value})
	if n, ok := s.t.g.Node(src); ok {
		n.Internal = name
	}
	return Stream[K, V]{t: s.t, node: src, key: key, value: value}
}

// GroupBy re-keys the stream with fn and repartitions it by the new key
// through <application id>-<name>-repartition, which the App creates with
// the partition count of the stream's input. The value is kept as it is:
// a tombstone stays one, so that the aggregation after it drops it, as
// Kafka Streams' groupBy does.
func GroupBy[K, V, K2 any](s Stream[K, V], name string, fn func(key K, value V) K2, key serde.Serde[K2], value serde.Serde[V]) Stream[K2, V] {
	s.t.nilFuncs("GroupBy "+strconv.Quote(name), "fn", fn)
	rekeyed := stateless(s, "KSTREAM-MAP", func(ctx processor.Context[K2, V], r processor.Record[K, V]) error {
		out := processor.WithKeyValue(r, fn(r.Key, r.Value), r.Value)
		if r.IsTombstone() {
			out = out.AsTombstone()
		}
		ctx.Forward(out)
		return nil
	})
	return Repartition(rekeyed, name, key, value)
}

// Aggregate folds the records of each key into an aggregate kept in the
// key-value store named store (logged to <application id>-<store>-changelog)
// and emits the updated aggregates: a changelog stream, as a KTable
// (Kafka Streams' groupByKey().aggregate(...).toStream()). The store's
// record cache (samsa.Config.CacheMaxBytes, on by default) collapses the
// updates of a key between two commits into one, written and emitted at
// the commit with the latest aggregate and time; Topology.WithoutCache
// emits every update, as Kafka Streams with caching off.
// After a key change (Map, MapErr, FlatMap, Process upstream, with no
// Repartition or GroupBy since), the records are first repartitioned by
// key through <application id>-<store>-repartition, as Kafka Streams
// does, so that every record of a key reaches the same task: Map followed
// by Aggregate aggregates per key, not per input partition. That topic is
// written with the stream's value serde when known (from StreamOf or a
// Repartition upstream, kept by operators that keep the value type) or a
// standard one for string, []byte, int64, int32 and float64; for other
// value types, call Repartition with serdes before Aggregate (Validate
// says so). Filter, MapValues, Peek and Branch keep the key, and add no
// repartition.
//
// As in Kafka Streams:
//   - a record with a null key or a null value (a tombstone) is dropped,
//     not an error: counted by the task as dropped and logged at debug;
//   - an updated aggregate carries the highest event time of the records
//     folded into it, max(the previous aggregate's time, the record's), so
//     a late record never moves the key's aggregate back in time;
//   - an aggregate that agg writes as null (a nil pointer with serde.JSON)
//     deletes the key, and the next record starts again from initial.
//
// The store keeps each aggregate with its time as Kafka Streams'
// timestamped key-value stores do: 8 bytes of big-endian milliseconds, then
// the aggregate's bytes; looked up with processor.GetKeyValueStore[K, A] it
// shows the aggregates only.
func Aggregate[K, V, A any](s Stream[K, V], store string, initial func() A, add func(key K, value V, agg A) A, key serde.Serde[K], agg serde.Serde[A]) Stream[K, A] {
	s.t.nilFuncs("Aggregate "+strconv.Quote(store), "add", add)
	return AggregateErr(s, store, initial, func(k K, v V, a A) (A, error) { return add(k, v, a), nil }, key, agg)
}

// AggregateErr is Aggregate with an adder that can fail: an error skips the
// record (the aggregate and the store stay as they were) and goes to the
// processing-error policy (samsa.Config.Errors.Processing), which fails
// the app, skips the record or dead-letters it.
func AggregateErr[K, V, A any](s Stream[K, V], store string, initial func() A, add func(key K, value V, agg A) (A, error), key serde.Serde[K], agg serde.Serde[A]) Stream[K, A] {
	s.t.nilFuncs("AggregateErr "+strconv.Quote(store), "initial", initial, "add", add)
	first := func(k K, v V) (A, error) { return add(k, v, initial()) }
	return aggregate(byKey(s, fmt.Sprintf("Aggregate %q", store), store, key, nil), "KSTREAM-AGGREGATE", store, first, add, key, agg)
}

// Count counts the records of each key in the key-value store named store
// and emits the updated counts (one per key and commit with the record
// cache, as in Aggregate), as Kafka Streams'
// groupByKey().count().toStream(). It is Aggregate with a counter: records
// with a null key or value are dropped, a count carries the highest
// event time of the records counted, and after a key change the records
// are repartitioned by key first (the repartition topic carries keys only:
// Count needs no value serde).
func Count[K, V any](s Stream[K, V], store string, key serde.Serde[K]) Stream[K, int64] {
	return aggregate(byKey(s, fmt.Sprintf("Count %q", store), store, key, serde.Serde[V](ignoredValue[V]{})), "KSTREAM-AGGREGATE", store,
		func(K, V) (int64, error) { return 1, nil },
		func(_ K, _ V, n int64) (int64, error) { return n + 1, nil },
		key, serde.Int64)
}

// Reduce combines the records of each key with reducer, kept in the
// key-value store named store, and emits the updated results (one per key
// and commit with the record cache, as in Aggregate), as Kafka
// Streams' groupByKey().reduce(reducer).toStream(): the first value of a
// key is its result as it is, each later one is reducer(result, value).
// Records with a null key or value are dropped, and a result carries the
// highest event time of the records reduced into it, as in Aggregate.
// After a key change the records are repartitioned by key first, as in
// Aggregate, with the serdes given.
func Reduce[K, V any](s Stream[K, V], store string, reducer func(agg, value V) V, key serde.Serde[K], value serde.Serde[V]) Stream[K, V] {
	s.t.nilFuncs("Reduce "+strconv.Quote(store), "reducer", reducer)
	return aggregate(byKey(s, fmt.Sprintf("Reduce %q", store), store, key, value), "KSTREAM-REDUCE", store,
		func(_ K, v V) (V, error) { return v, nil },
		func(_ K, v V, agg V) (V, error) { return reducer(agg, v), nil },
		key, value)
}

// aggregate adds the processor and the timestamped store behind Aggregate,
// Count and Reduce: first makes the aggregate of a key's first record, add
// folds a record into an aggregate.
func aggregate[K, V, A any](s Stream[K, V], prefix, store string, first func(K, V) (A, error), add func(K, V, A) (A, error), key serde.Serde[K], agg serde.Serde[A]) Stream[K, A] {
	name := s.t.name(prefix)
	AddProcessor(s.t, name, func() processor.Processor[K, V, K, A] {
		return &aggregator[K, V, A]{store: store, first: first, add: add}
	}, s.node)
	_, exists := s.t.g.Stores[store]
	AddKeyValueStore(s.t, KeyValueStore[K, A]{Name: store, Key: key, Value: agg}, name)
	if def, ok := s.t.g.Stores[store]; ok && !exists {
		ts := timestampedSerde[A]{agg}
		def.Wrap = func(o engine.Opened) processor.StateStore {
			raw := o.Raw
			return &timestampedKV[K, A]{raw: raw, key: key, value: ts, inner: stores.NewKeyValueStore(raw, key, serde.Serde[timestamped[A]](ts))}
		}
	}
	return Stream[K, A]{t: s.t, node: name}
}

// aggregator is the processor of Aggregate, Count and Reduce, as Kafka
// Streams' KStreamAggregate and KStreamReduce.
type aggregator[K, V, A any] struct {
	store string
	first func(K, V) (A, error)
	add   func(K, V, A) (A, error)
	ctx   processor.Context[K, A]
	st    *timestampedKV[K, A]
}

func (a *aggregator[K, V, A]) Init(ctx processor.Context[K, A]) error {
	s, err := ctx.StateStore(a.store)
	if err != nil {
		return err
	}
	st, ok := s.(*timestampedKV[K, A])
	if !ok {
		return fmt.Errorf("topology: store %q is a %T, not an aggregation's timestamped store", a.store, s)
	}
	a.ctx, a.st = ctx, st
	st.enableCache(ctx, func(e *cacheEntry[K, A]) { a.ctx.Forward(e.rec) })
	return nil
}

// FlushCache writes and forwards the updates the store's record cache
// holds (engine.Flusher).
func (a *aggregator[K, V, A]) FlushCache() error {
	if a.st == nil || a.st.cache == nil {
		return nil
	}
	return a.st.cache.flush()
}

func (a *aggregator[K, V, A]) Process(r processor.Record[K, V]) error {
	if r.KeyIsNull() || r.IsTombstone() {
		dropped(a.ctx, "null key or value in an aggregation")
		return nil
	}
	cur, ok, err := a.st.getTimed(r.Key)
	if err != nil {
		return err
	}
	ts := r.Timestamp
	var next A
	if ok {
		next, err = a.add(r.Key, r.Value, cur.agg)
		if prev := time.UnixMilli(cur.ms); prev.After(ts) {
			ts = prev
		}
	} else {
		next, err = a.first(r.Key, r.Value)
	}
	if err != nil {
		return err // to the processing-error policy; nothing is written
	}
	out := processor.WithValue(r, next)
	out.Timestamp = ts
	v := timestamped[A]{agg: next, ms: ts.UnixMilli()}
	if c := a.st.cache; c != nil {
		return c.put(r.Key, v, out, cur, ok)
	}
	if err := a.st.putTimed(r.Key, v); err != nil {
		return err
	}
	a.ctx.Forward(out)
	return nil
}

func (a *aggregator[K, V, A]) Close() error {
	if a.st != nil && a.st.cache != nil {
		a.st.cache.close()
		a.st.cache = nil
	}
	return nil
}

// dropped reports a record an operator drops by design to the task, which
// counts and logs it; a context that is not the engine's (a test's fake)
// only logs it.
func dropped(ctx processor.TaskContext, reason string) { droppedf(ctx, reason, "") }

// droppedf is dropped with a detail for the debug log (the record's times):
// reason is the metric's label and must stay a fixed text.
func droppedf(ctx processor.TaskContext, reason, format string, args ...any) {
	var detail string
	if format != "" {
		detail = fmt.Sprintf(format, args...)
	}
	if dr, ok := ctx.(engine.Dropper); ok {
		dr.Drop(reason, detail)
		return
	}
	slog.Debug("samsa: record dropped", "reason", reason, "detail", detail)
}

// timestamped is an aggregate with the event time (Unix milliseconds) of
// its last update; -1 when put without one.
type timestamped[A any] struct {
	agg A
	ms  int64
}

// timestampedSerde stores a timestamped aggregate as Kafka Streams'
// timestamped key-value stores do: 8 bytes of big-endian milliseconds, then
// the aggregate's bytes. An aggregate written as nil is nil: a delete.
type timestampedSerde[A any] struct{ agg serde.Serde[A] }

func (s timestampedSerde[A]) Serialize(topic string, v timestamped[A]) ([]byte, error) {
	b, err := s.agg.Serialize(topic, v.agg)
	if err != nil || b == nil {
		return nil, err
	}
	out := make([]byte, 8, 8+len(b))
	binary.BigEndian.PutUint64(out, uint64(v.ms))
	return append(out, b...), nil
}

func (s timestampedSerde[A]) Deserialize(topic string, data []byte) (timestamped[A], error) {
	if data == nil {
		return timestamped[A]{ms: -1}, nil
	}
	if len(data) < 8 {
		return timestamped[A]{}, fmt.Errorf("%w: timestamped aggregate in %q needs at least 8 bytes, got %d", serde.ErrDeserialize, topic, len(data))
	}
	a, err := s.agg.Deserialize(topic, data[8:])
	return timestamped[A]{agg: a, ms: int64(binary.BigEndian.Uint64(data))}, err
}

// timestampedKV is the store of an aggregation: a KeyValueStore[K, A] for
// processors and tests that look it up, over entries that keep each
// aggregate's time for the aggregator.
type timestampedKV[K, A any] struct {
	raw   processor.BytesKeyValueStore
	key   serde.Serde[K]
	value timestampedSerde[A]
	inner processor.KeyValueStore[K, timestamped[A]]
	// cache is the store's record cache (cache.go), nil when off.
	cache *kvCache[K, A]
}

// StoreType names the store as processors see it, for errors.
func (s *timestampedKV[K, A]) StoreType() string { return stores.TypeName[K, A]("KeyValueStore") }

func (s *timestampedKV[K, A]) getTimed(k K) (timestamped[A], bool, error) {
	if s.cache != nil {
		kb, err := s.key.Serialize(s.raw.Name(), k)
		if err != nil {
			return timestamped[A]{}, false, fmt.Errorf("store %q: serialize key: %w", s.raw.Name(), err)
		}
		if e, ok := s.cache.lookup(kb); ok {
			if e.vb == nil {
				return timestamped[A]{}, false, nil // a cached delete
			}
			return e.val, true, nil
		}
	}
	return s.inner.Get(k)
}

// bypass prepares a write or read that does not go through the cache: the
// key's cached update is written and forwarded first (key nil: every
// dirty entry is written, to be forwarded at the flush).
func (s *timestampedKV[K, A]) bypass(k *K) error {
	if s.cache == nil {
		return nil
	}
	if k == nil {
		return s.cache.writeDirty()
	}
	kb, err := s.key.Serialize(s.raw.Name(), *k)
	if err != nil {
		return fmt.Errorf("store %q: serialize key: %w", s.raw.Name(), err)
	}
	return s.cache.flushKey(kb)
}

// putTimed stores v under k, or deletes k when v's aggregate is written as
// null (Kafka Streams' put of a null aggregate), whatever the raw store
// does with a nil value.
func (s *timestampedKV[K, A]) putTimed(k K, v timestamped[A]) error {
	kb, vb, err := s.serialize(k, v)
	if err != nil {
		return err
	}
	if s.cache != nil {
		if err := s.cache.flushKey(kb); err != nil {
			return err
		}
	}
	if vb == nil {
		return s.raw.Delete(kb)
	}
	return s.raw.Put(kb, vb)
}

// serialize returns the store's bytes of k and v (nil: a delete).
func (s *timestampedKV[K, A]) serialize(k K, v timestamped[A]) (kb, vb []byte, err error) {
	return serializeTimed("store", s.raw.Name(), s.key, s.value, k, v)
}

// serializeTimed returns the bytes of k and v in the store named name (a
// kind, for errors: "store", "window store"); vb nil: a delete.
func serializeTimed[K, A any](kind, name string, key serde.Serde[K], value timestampedSerde[A], k K, v timestamped[A]) (kb, vb []byte, err error) {
	if kb, err = key.Serialize(name, k); err != nil {
		return nil, nil, fmt.Errorf("%s %q: serialize key: %w", kind, name, err)
	}
	if vb, err = value.Serialize(name, v); err != nil {
		return nil, nil, fmt.Errorf("%s %q: serialize value: %w", kind, name, err)
	}
	return kb, vb, nil
}

func (s *timestampedKV[K, A]) Name() string { return s.inner.Name() }

func (s *timestampedKV[K, A]) Get(k K) (A, bool, error) {
	v, ok, err := s.getTimed(k)
	return v.agg, ok, err
}

func (s *timestampedKV[K, A]) Put(k K, a A) error {
	return s.putTimed(k, timestamped[A]{agg: a, ms: -1})
}

func (s *timestampedKV[K, A]) PutIfAbsent(k K, a A) (A, bool, error) {
	if err := s.bypass(&k); err != nil {
		return a, false, err
	}
	v, ok, err := s.inner.PutIfAbsent(k, timestamped[A]{agg: a, ms: -1})
	return v.agg, ok, err
}

func (s *timestampedKV[K, A]) Delete(k K) (A, bool, error) {
	if err := s.bypass(&k); err != nil {
		var zero A
		return zero, false, err
	}
	v, ok, err := s.inner.Delete(k)
	return v.agg, ok, err
}

func (s *timestampedKV[K, A]) Range(from, to K) iter.Seq2[processor.KeyValue[K, A], error] {
	return s.untimed(func() iter.Seq2[processor.KeyValue[K, timestamped[A]], error] { return s.inner.Range(from, to) })
}

func (s *timestampedKV[K, A]) PrefixScan(prefix []byte) iter.Seq2[processor.KeyValue[K, A], error] {
	return s.untimed(func() iter.Seq2[processor.KeyValue[K, timestamped[A]], error] { return s.inner.PrefixScan(prefix) })
}

func (s *timestampedKV[K, A]) All() iter.Seq2[processor.KeyValue[K, A], error] {
	return s.untimed(s.inner.All)
}

func (s *timestampedKV[K, A]) ApproximateCount() (int64, error) {
	if err := s.bypass(nil); err != nil {
		return 0, err
	}
	return s.inner.ApproximateCount()
}

// untimed yields the aggregates of the entries of seq, once the cache's
// dirty entries are in the store (a range read sees the cache too).
func (s *timestampedKV[K, A]) untimed(seq func() iter.Seq2[processor.KeyValue[K, timestamped[A]], error]) iter.Seq2[processor.KeyValue[K, A], error] {
	return func(yield func(processor.KeyValue[K, A], error) bool) {
		if err := s.bypass(nil); err != nil {
			yield(processor.KeyValue[K, A]{}, err)
			return
		}
		for kv, err := range seq() {
			if !yield(processor.KeyValue[K, A]{Key: kv.Key, Value: kv.Value.agg}, err) {
				return
			}
		}
	}
}
