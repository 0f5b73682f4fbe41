package topology

import (
	"fmt"
	"strconv"

	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
)

// Cogrouped is several streams with the same key type, each with its own
// adder, to be folded into one aggregate per key, as Kafka Streams'
// CogroupedKStream. Start it with Cogroup, add streams with CogroupWith,
// finish with (*Cogrouped).Aggregate.
type Cogrouped[K, A any] struct {
	t     *Topology
	parts []func(store string, key serde.Serde[K], initial func() A, i int) (node string)
}

// Cogroup starts a cogrouped aggregation with the stream s and its adder,
// as Kafka Streams' KGroupedStream.cogroup(aggregator).
func Cogroup[K, V, A any](s Stream[K, V], add func(key K, value V, agg A) A) *Cogrouped[K, A] {
	return CogroupWith(&Cogrouped[K, A]{t: s.t}, s, add)
}

// CogroupWith adds the stream s with its adder to a cogrouped aggregation,
// as Kafka Streams' CogroupedKStream.cogroup(groupedStream, aggregator).
func CogroupWith[K, V, A any](c *Cogrouped[K, A], s Stream[K, V], add func(key K, value V, agg A) A) *Cogrouped[K, A] {
	if c.t != s.t {
		s.t.g.Errorf("topology: CogroupWith: the streams belong to different topologies")
		return c
	}
	c.parts = append(c.parts, func(store string, key serde.Serde[K], initial func() A, i int) string {
		s.t.nilFuncs("Cogroup "+strconv.Quote(store), "add", add)
		in := byKey(s, fmt.Sprintf("Cogroup %q (stream %d)", store, i+1), store+"-cogroup-"+strconv.Itoa(i+1), key, nil)
		name := s.t.name("COGROUPKSTREAM-AGGREGATE")
		AddProcessor(s.t, name, func() processor.Processor[K, V, K, A] {
			return &aggregator[K, V, A]{store: store,
				first: func(k K, v V) (A, error) { return add(k, v, initial()), nil },
				add:   func(k K, v V, a A) (A, error) { return add(k, v, a), nil }}
		}, in.node)
		return name
	})
	return c
}

// Aggregate folds the records of every cogrouped stream into one aggregate
// per key, kept in the key-value store named store (logged), starting from
// initial, each record with its own stream's adder; every updated aggregate
// is emitted (one per key and commit with the record cache, as in
// Aggregate), as Kafka Streams' CogroupedKStream.aggregate(initializer)
// .toStream(). As Aggregate: records with a null key or
// value are dropped, an update carries the highest event time of the key's
// records, and a re-keyed stream is repartitioned by key first (through
// <application id>-<store>-cogroup-<n>-repartition for the n-th stream).
// The cogrouped streams must be co-partitioned.
func (c *Cogrouped[K, A]) Aggregate(store string, initial func() A, key serde.Serde[K], agg serde.Serde[A]) Stream[K, A] {
	c.t.nilFuncs("Cogroup "+strconv.Quote(store), "initial", initial)
	nodes := make([]string, len(c.parts))
	for i, part := range c.parts {
		nodes[i] = part(store, key, initial, i)
	}
	if len(nodes) == 0 {
		c.t.g.Errorf("topology: Cogroup %q: no stream", store)
		return Stream[K, A]{t: c.t}
	}
	addTimestampedStore(c.t, store, key, agg, nodes[0])
	for _, n := range nodes[1:] {
		c.t.ConnectStore(store, n)
	}
	out := Stream[K, A]{t: c.t, node: nodes[0], key: key, value: agg}
	if len(nodes) == 1 {
		return out
	}
	others := make([]Stream[K, A], 0, len(nodes)-1)
	for _, n := range nodes[1:] {
		others = append(others, Stream[K, A]{t: c.t, node: n})
	}
	return out.Merge(others...)
}
