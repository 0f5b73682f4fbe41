package topology

import (
	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
)

// Stream is a record stream in the DSL, as Kafka Streams' KStream. Methods
// that keep the key and value types are methods; those that change them are
// functions (Map, MapValues, FlatMap), since Go methods cannot take type
// parameters.
type Stream[K, V any] struct {
	t    *Topology
	node string
}

// Node returns the name of the node that produces the stream.
func (s Stream[K, V]) Node() string { return s.node }

// Topology returns the topology the stream belongs to.
func (s Stream[K, V]) Topology() *Topology { return s.t }

// StreamOf adds a source reading topics and returns its stream.
func StreamOf[K, V any](t *Topology, key serde.Serde[K], value serde.Serde[V], topics ...string) Stream[K, V] {
	name := t.name("KSTREAM-SOURCE")
	AddSource(t, name, Source[K, V]{Topics: topics, Key: key, Value: value})
	return Stream[K, V]{t: t, node: name}
}

// Process adds a processor fed by the stream and returns its output stream.
func Process[K, V, K2, V2 any](s Stream[K, V], supplier processor.Supplier[K, V, K2, V2]) Stream[K2, V2] {
	name := s.t.name("KSTREAM-PROCESSOR")
	AddProcessor(s.t, name, supplier, s.node)
	return Stream[K2, V2]{t: s.t, node: name}
}

func stateless[K, V, K2, V2 any](s Stream[K, V], prefix string, fn processor.Func[K, V, K2, V2]) Stream[K2, V2] {
	name := s.t.name(prefix)
	AddProcessor(s.t, name, fn.Supplier(), s.node)
	return Stream[K2, V2]{t: s.t, node: name}
}

// Map changes key and value of every record.
func Map[K, V, K2, V2 any](s Stream[K, V], fn func(key K, value V) (K2, V2)) Stream[K2, V2] {
	return stateless(s, "KSTREAM-MAP", func(ctx processor.Context[K2, V2], r processor.Record[K, V]) error {
		k, v := fn(r.Key, r.Value)
		ctx.Forward(processor.WithKeyValue(r, k, v))
		return nil
	})
}

// MapValues changes the value of every record and keeps its key.
func MapValues[K, V, V2 any](s Stream[K, V], fn func(key K, value V) V2) Stream[K, V2] {
	return stateless(s, "KSTREAM-MAPVALUES", func(ctx processor.Context[K, V2], r processor.Record[K, V]) error {
		ctx.Forward(processor.WithValue(r, fn(r.Key, r.Value)))
		return nil
	})
}

// FlatMap turns every record into zero or more records.
func FlatMap[K, V, K2, V2 any](s Stream[K, V], fn func(key K, value V) []processor.KeyValue[K2, V2]) Stream[K2, V2] {
	return stateless(s, "KSTREAM-FLATMAP", func(ctx processor.Context[K2, V2], r processor.Record[K, V]) error {
		for _, kv := range fn(r.Key, r.Value) {
			ctx.Forward(processor.WithKeyValue(r, kv.Key, kv.Value))
		}
		return nil
	})
}

// Filter keeps the records for which keep returns true.
func (s Stream[K, V]) Filter(keep func(key K, value V) bool) Stream[K, V] {
	return stateless(s, "KSTREAM-FILTER", func(ctx processor.Context[K, V], r processor.Record[K, V]) error {
		if keep(r.Key, r.Value) {
			ctx.Forward(r)
		}
		return nil
	})
}

// FilterNot drops the records for which drop returns true.
func (s Stream[K, V]) FilterNot(drop func(key K, value V) bool) Stream[K, V] {
	return s.Filter(func(k K, v V) bool { return !drop(k, v) })
}

// Peek calls fn for every record and passes it on unchanged.
func (s Stream[K, V]) Peek(fn func(key K, value V)) Stream[K, V] {
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
	for _, o := range others {
		parents = append(parents, o.node)
	}
	fn := processor.Func[K, V, K, V](func(ctx processor.Context[K, V], r processor.Record[K, V]) error {
		ctx.Forward(r)
		return nil
	})
	AddProcessor(s.t, name, fn.Supplier(), parents...)
	return Stream[K, V]{t: s.t, node: name}
}

// Branch splits the stream: a record goes to the first branch whose
// predicate accepts it, and is dropped when none does.
func (s Stream[K, V]) Branch(preds ...func(key K, value V) bool) []Stream[K, V] {
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
	return Stream[K, V]{t: s.t, node: src}
}

// GroupBy re-keys the stream with fn and repartitions it by the new key
// through <application id>-<name>-repartition.
func GroupBy[K, V, K2 any](s Stream[K, V], name string, fn func(key K, value V) K2, key serde.Serde[K2], value serde.Serde[V]) Stream[K2, V] {
	rekeyed := Map(s, func(k K, v V) (K2, V) { return fn(k, v), v })
	return Repartition(rekeyed, name, key, value)
}

// Aggregate folds the records of each key into an aggregate kept in the
// key-value store named store (logged to <application id>-<store>-changelog)
// and emits every updated aggregate: a changelog stream, as a KTable.
func Aggregate[K, V, A any](s Stream[K, V], store string, initial func() A, add func(key K, value V, agg A) A, key serde.Serde[K], agg serde.Serde[A]) Stream[K, A] {
	name := s.t.name("KSTREAM-AGGREGATE")
	AddProcessor(s.t, name, processor.Func[K, V, K, A](func(ctx processor.Context[K, A], r processor.Record[K, V]) error {
		st, err := processor.GetKeyValueStore[K, A](ctx, store)
		if err != nil {
			return err
		}
		cur, ok, err := st.Get(r.Key)
		if err != nil {
			return err
		}
		if !ok {
			cur = initial()
		}
		next := add(r.Key, r.Value, cur)
		if err := st.Put(r.Key, next); err != nil {
			return err
		}
		ctx.Forward(processor.WithValue(r, next))
		return nil
	}).Supplier(), s.node)
	AddKeyValueStore(s.t, KeyValueStore[K, A]{Name: store, Key: key, Value: agg}, name)
	return Stream[K, A]{t: s.t, node: name}
}
