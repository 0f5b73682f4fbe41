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
// finish with (*Cogrouped).Aggregate, or per window with
// (*Cogrouped).WindowedAggregate, (*Cogrouped).SlidingAggregate or
// (*Cogrouped).SessionAggregate.
type Cogrouped[K, A any] struct {
	t     *Topology
	parts []cogroupPart[K, A]
}

// cogroupPart is one stream of a cogrouped aggregation: given the store,
// the key serde and the stream's position i, keyValue adds its processor
// of a key-value aggregate (starting from initial) and folds adds the node
// that turns its records into folds for a windowed, sliding or session
// aggregation (a window's first aggregate from initial); each returns the
// node's name.
type cogroupPart[K, A any] struct {
	keyValue func(store string, key serde.Serde[K], initial func() A, i int) (node string)
	folds    func(store string, key serde.Serde[K], initial func() A, i int) (node string)
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
	byStore := func(store string, key serde.Serde[K], i int) Stream[K, V] {
		s.t.nilFuncs("Cogroup "+strconv.Quote(store), "add", add)
		return byKey(s, fmt.Sprintf("Cogroup %q (stream %d)", store, i+1), store+"-cogroup-"+strconv.Itoa(i+1), key, nil)
	}
	c.parts = append(c.parts, cogroupPart[K, A]{
		keyValue: func(store string, key serde.Serde[K], initial func() A, i int) string {
			in := byStore(store, key, i)
			name := s.t.name("COGROUPKSTREAM-AGGREGATE")
			AddProcessor(s.t, name, func() processor.Processor[K, V, K, A] {
				return &aggregator[K, V, A]{store: store,
					first: func(k K, v V) (A, error) { return add(k, v, initial()), nil },
					add:   func(k K, v V, a A) (A, error) { return add(k, v, a), nil }}
			}, in.node)
			return name
		},
		folds: func(store string, key serde.Serde[K], initial func() A, i int) string {
			return foldNode(byStore(store, key, i),
				func(k K, v V, _ bool) (A, bool, error) { return add(k, v, initial()), false, nil },
				func(k K, v V, a A) (A, error) { return add(k, v, a), nil })
		},
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
	nodes, ok := c.partNodes(store, initial, func(part cogroupPart[K, A], i int) string { return part.keyValue(store, key, initial, i) })
	if !ok {
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

// WindowedAggregate folds the records of every cogrouped stream into one
// aggregate per key and time window, each record with its own stream's
// adder, a window's first record added to initial(), and emits every
// updated window's aggregate (one per key, window and commit with the
// record cache, as in WindowedAggregate), as Kafka Streams'
// CogroupedKStream.windowedBy(TimeWindows).aggregate(initializer)
// .toStream(). The aggregates are kept in the window
// store named store, as WindowedAggregate keeps them, and every window
// knob works as there: grace, EmitFinal, MaxOutOfOrder, LateRecordsTo,
// ProcessingTime.
//
// The streams feed one aggregation, with one stream time (the highest
// event time of the records of all the streams) that closes the windows
// for all of them; in Kafka Streams each cogrouped stream's aggregation
// has its own stream time, so that a record of one stream is late only by
// the records of its own stream (and Kafka Streams has no emitStrategy
// for a cogrouped aggregation: a suppress after it gives final results).
// As in WindowedAggregate, a record with a null key is dropped, a
// tombstone is given to its adder as the zero value, and a re-keyed
// stream is repartitioned by key first (through <application
// id>-<store>-cogroup-<n>-repartition for the n-th stream). The cogrouped
// streams must be co-partitioned.
func (c *Cogrouped[K, A]) WindowedAggregate(windows Windows, store string, initial func() A, key serde.Serde[K], agg serde.Serde[A]) Stream[Windowed[K], A] {
	nodes, ok := c.folds(store, initial, key)
	if !ok {
		return Stream[Windowed[K], A]{t: c.t}
	}
	return windowAggregation(c.t, windows, "KSTREAM-AGGREGATE", store, cogrouped[K, A], key, agg, nodes...)
}

// SlidingAggregate folds the records of every cogrouped stream into one
// aggregate per key and sliding window, each record with its own stream's
// adder, a created window starting from initial(), and emits every updated
// window's aggregate (one per key, window and commit with the record
// cache, as in SlidingAggregate), as Kafka Streams'
// CogroupedKStream.windowedBy(SlidingWindows).aggregate(initializer)
// .toStream(). The windows are those of SlidingAggregate,
// kept in the window store named store, and every knob of Sliding works as
// there: grace, EmitFinal, MaxOutOfOrder, LateRecordsTo. As for
// WindowedAggregate, the streams feed one aggregation with one stream
// time, where Kafka Streams has one per stream; as in SlidingAggregate,
// records with a null key or value are dropped.
func (c *Cogrouped[K, A]) SlidingAggregate(windows Sliding, store string, initial func() A, key serde.Serde[K], agg serde.Serde[A]) Stream[Windowed[K], A] {
	nodes, ok := c.folds(store, initial, key)
	if !ok {
		return Stream[Windowed[K], A]{t: c.t}
	}
	return slidingAggregation(c.t, windows, "KSTREAM-AGGREGATE", store, cogrouped[K, A], key, agg, nodes...)
}

// SessionAggregate folds the records of every cogrouped stream into
// session windows per key, each record with its own stream's adder, and
// emits every updated session (and a tombstone for each session merged
// away; one per session and commit with the record cache, as in
// SessionAggregate), as Kafka Streams'
// CogroupedKStream.windowedBy(SessionWindows).aggregate(initializer,
// sessionMerger).toStream(). The sessions are those of
// SessionAggregate, kept in the session store named store: a record
// starts a session, extends one, or joins the sessions it falls between,
// whichever streams their records came from, their aggregates combined
// with merge (starting from initial) before the record's adder adds it.
// Every knob of Sessions works as there: grace, EmitFinal, MaxOutOfOrder,
// LateRecordsTo.
//
// As for WindowedAggregate, the streams feed one aggregation with one
// stream time (the highest event time of the records of all the streams),
// which decides for all of them which records are late and which
// sessions are closed; in Kafka Streams each cogrouped stream's session
// aggregation has its own stream time. As in SessionAggregate, a record
// with a null key is dropped, a tombstone is given to its adder as the
// zero value, and a re-keyed stream is repartitioned by key first
// (through <application id>-<store>-cogroup-<n>-repartition for the n-th
// stream). The cogrouped streams must be co-partitioned.
func (c *Cogrouped[K, A]) SessionAggregate(sessions Sessions, store string, initial func() A, merge func(key K, a, b A) A, key serde.Serde[K], agg serde.Serde[A]) Stream[Windowed[K], A] {
	c.t.nilFuncs("Cogroup "+strconv.Quote(store), "merge", merge)
	nodes, ok := c.folds(store, initial, key)
	if !ok {
		return Stream[Windowed[K], A]{t: c.t}
	}
	return sessionAggregation(c.t, sessions, store, cogrouped[K, A], initial, merge, key, agg, nodes...)
}

// folds adds the nodes that turn each cogrouped stream's records into
// folds, and returns their names; false (an error recorded) when there is
// no stream.
func (c *Cogrouped[K, A]) folds(store string, initial func() A, key serde.Serde[K]) ([]string, bool) {
	return c.partNodes(store, initial, func(part cogroupPart[K, A], i int) string { return part.folds(store, key, initial, i) })
}

// partNodes adds, with node, a node for each cogrouped stream and returns
// their names; false (an error recorded) when there is no stream.
func (c *Cogrouped[K, A]) partNodes(store string, initial func() A, node func(part cogroupPart[K, A], i int) string) ([]string, bool) {
	c.t.nilFuncs("Cogroup "+strconv.Quote(store), "initial", initial)
	nodes := make([]string, len(c.parts))
	for i, part := range c.parts {
		nodes[i] = node(part, i)
	}
	if len(nodes) == 0 {
		c.t.g.Errorf("topology: Cogroup %q: no stream", store)
		return nil, false
	}
	return nodes, true
}

// cogrouped is the supplier of a cogrouped windowed, sliding or session
// aggregation's processor: the aggregation's processor itself, fed the folds of every
// stream.
func cogrouped[K, A any](core func() processor.Processor[K, fold[A], Windowed[K], A]) processor.Supplier[K, fold[A], Windowed[K], A] {
	return processor.Supplier[K, fold[A], Windowed[K], A](core)
}
