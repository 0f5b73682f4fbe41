package topology

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
)

// SelectKey gives every record the key fn returns and keeps its value, as
// Kafka Streams' selectKey: a tombstone stays a tombstone (fn sees the
// zero value), the new key is not null (fn sees the zero value for a null
// key). The key changed, so a stateful operator after SelectKey (Count,
// Aggregate, Reduce, Join) reads the stream through a repartition topic,
// as after Map; the value serde known for s is kept for it.
func SelectKey[K, V, K2 any](s Stream[K, V], fn func(key K, value V) K2) Stream[K2, V] {
	s.t.nilFuncs("SelectKey", "fn", fn)
	return rekeyed(stateless(s, "KSTREAM-KEY-SELECT", func(ctx processor.Context[K2, V], r processor.Record[K, V]) error {
		out := processor.WithKeyValue(r, fn(r.Key, r.Value), r.Value)
		if r.IsTombstone() {
			out = out.AsTombstone()
		}
		ctx.Forward(out)
		return nil
	}))
}

// FlatMapValues turns every record into zero or more records with the
// values fn returns, in order, each with the record's key (null if it is),
// time and headers, as Kafka Streams' flatMapValues. The key is unchanged,
// so the stream stays partitioned as it was: a stateful operator after it
// adds no repartition. For a tombstone fn sees the zero value, and the
// values it returns are values, not tombstones (as MapValues).
func FlatMapValues[K, V, V2 any](s Stream[K, V], fn func(key K, value V) []V2) Stream[K, V2] {
	s.t.nilFuncs("FlatMapValues", "fn", fn)
	return stateless(s, "KSTREAM-FLATMAPVALUES", func(ctx processor.Context[K, V2], r processor.Record[K, V]) error {
		for _, v := range fn(r.Key, r.Value) {
			ctx.Forward(processor.WithValue(r, v))
		}
		return nil
	})
}

// MapValuesWithHeaders changes the value and the headers of every record
// and keeps its key (null if it is), as MapValues: fn gets the record's
// headers and returns the new value and the headers the output record
// carries. The headers fn gets are a copy, so it may change and return
// them (append a header, drop one); returning them as they are keeps them.
// Kafka Streams says the same with processValues and a FixedKeyProcessor
// that reads and changes record.headers(). For a tombstone fn sees the
// zero value and what it returns is a value, as with MapValues.
func MapValuesWithHeaders[K, V, V2 any](s Stream[K, V], fn func(key K, value V, headers []processor.Header) (V2, []processor.Header)) Stream[K, V2] {
	s.t.nilFuncs("MapValuesWithHeaders", "fn", fn)
	return stateless(s, "KSTREAM-MAPVALUES", func(ctx processor.Context[K, V2], r processor.Record[K, V]) error {
		v, hs := fn(r.Key, r.Value, slices.Clone(r.Headers))
		out := processor.WithValue(r, v)
		out.Headers = hs
		ctx.Forward(out)
		return nil
	})
}

// Foreach calls fn for every record and ends the stream: nothing is
// forwarded, as Kafka Streams' foreach. For a tombstone or a null key fn
// sees the zero value. Use Peek to go on with the stream.
func (s Stream[K, V]) Foreach(fn func(key K, value V)) {
	s.t.nilFuncs("Foreach", "fn", fn)
	name := s.t.name("KSTREAM-FOREACH")
	f := processor.Func[K, V, K, V](func(_ processor.Context[K, V], r processor.Record[K, V]) error {
		fn(r.Key, r.Value)
		return nil
	})
	AddProcessor(s.t, name, f.Supplier(), s.node)
}

// ToTopicFunc writes the stream with the given serdes to the topic topic
// returns for each record, as Kafka Streams' to(TopicNameExtractor): it
// sees the whole record (key, value, time, headers, and where the input
// record came from). The topics must exist; a record for which topic
// returns "" goes to the processing-error policy.
func (s Stream[K, V]) ToTopicFunc(topic func(r processor.Record[K, V]) string, key serde.Serde[K], value serde.Serde[V]) {
	s.t.nilFuncs("ToTopicFunc", "topic", topic)
	if topic == nil {
		s.t.g.Errorf("topology: ToTopicFunc after %q needs a topic function", s.node)
		return
	}
	s.ToSink(Sink[K, V]{TopicFunc: topic, Key: key, Value: value})
}

// RepartitionWithPartitions is Repartition with a fixed partition count:
// the App creates <application id>-<name>-repartition with n partitions,
// whatever the partition count of the stream's input, as Kafka Streams'
// repartition(Repartitioned.as(name).withNumberOfPartitions(n)). The
// sub-topology reading it runs n tasks. A stateful operator after it that
// also reads other topics (a Join with a table) needs them to have n
// partitions too: the App fails at startup otherwise (samsa.ErrCopartition).
func RepartitionWithPartitions[K, V any](s Stream[K, V], name string, n int32, key serde.Serde[K], value serde.Serde[V]) Stream[K, V] {
	if n <= 0 {
		s.t.g.Errorf("topology: repartition %q: the partition count must be positive, got %d", name, n)
	}
	out := Repartition(s, name, key, value)
	if node, ok := s.t.g.Node(name + "-repartition-sink"); ok && n > 0 {
		node.Partitions = n
	}
	return out
}

// Splitter splits a stream into named branches, as Kafka Streams'
// BranchedKStream: see Stream.Split.
type Splitter[K, V any] struct {
	s        Stream[K, V]
	name     string
	preds    []func(K, V) bool
	children []string
	out      map[string]Stream[K, V]
	done     bool
}

// Split starts splitting the stream into branches, as Kafka Streams'
// split(Named.as(prefix)): add branches with Branch, then end with
// DefaultBranch or NoDefaultBranch, which return the branches by name. A
// record goes to the first branch whose predicate accepts it, or to the
// default branch when none does (dropped without one); predicates see the
// zero value for a null key or a tombstone, and records pass unchanged.
// Every branch stays partitioned as the stream was.
//
// A branch is named prefix + its name; a branch given no name ("") is
// named prefix + its position (1 for the first Branch), the default branch
// prefix + "0", as in Kafka Streams. With prefix "" the splitter is named
// KSTREAM-BRANCH-<n> and that is the prefix. Branch names are node names:
// they must be unique in the topology.
func (s Stream[K, V]) Split(prefix string) *Splitter[K, V] {
	name := prefix
	if name == "" {
		name = s.t.name("KSTREAM-BRANCH")
	}
	sp := &Splitter[K, V]{s: s, name: name, out: map[string]Stream[K, V]{}}
	AddProcessor(s.t, name, func() processor.Processor[K, V, K, V] {
		return &splitter[K, V]{preds: sp.preds, children: sp.children}
	}, s.node)
	return sp
}

// Branch adds a branch of the records pred accepts (and no earlier
// predicate did), named name (see Split).
func (sp *Splitter[K, V]) Branch(pred func(key K, value V) bool, name string) *Splitter[K, V] {
	sp.s.t.nilFuncs("Split branch "+strconv.Quote(name), "pred", pred)
	if sp.done {
		sp.s.t.g.Errorf("topology: split %q: Branch after DefaultBranch or NoDefaultBranch", sp.name)
		return sp
	}
	if pred == nil {
		sp.s.t.g.Errorf("topology: split %q: branch %q has no predicate", sp.name, name)
		return sp
	}
	sp.preds = append(sp.preds, pred)
	sp.branch(name, len(sp.preds))
	return sp
}

// DefaultBranch adds the branch of the records no predicate accepts, named
// name (prefix + "0" for ""), and returns every branch by name.
func (sp *Splitter[K, V]) DefaultBranch(name string) map[string]Stream[K, V] {
	if sp.done {
		sp.s.t.g.Errorf("topology: split %q: DefaultBranch after DefaultBranch or NoDefaultBranch", sp.name)
		return sp.out
	}
	sp.branch(name, 0)
	sp.done = true
	return sp.out
}

// NoDefaultBranch ends the split without a default branch (records no
// predicate accepts are dropped) and returns every branch by name.
func (sp *Splitter[K, V]) NoDefaultBranch() map[string]Stream[K, V] {
	sp.done = true
	return sp.out
}

// branch adds the pass-through child node of a branch.
func (sp *Splitter[K, V]) branch(name string, position int) {
	child := sp.name + name
	if name == "" {
		child = fmt.Sprintf("%s%d", sp.name, position)
	}
	sp.children = append(sp.children, child)
	pass := processor.Func[K, V, K, V](func(ctx processor.Context[K, V], r processor.Record[K, V]) error {
		ctx.Forward(r)
		return nil
	})
	AddProcessor(sp.s.t, child, pass.Supplier(), sp.name)
	sp.out[child] = Stream[K, V]{t: sp.s.t, node: child, rekeyedAt: sp.s.rekeyedAt, key: sp.s.key, value: sp.s.value}
}

// splitter is the processor of Split, as Kafka Streams' KStreamBranch:
// children[i] is the branch of preds[i]; a last child without a predicate
// is the default branch.
type splitter[K, V any] struct {
	preds    []func(K, V) bool
	children []string
	ctx      processor.Context[K, V]
}

func (p *splitter[K, V]) Init(ctx processor.Context[K, V]) error {
	p.ctx = ctx
	return nil
}

func (p *splitter[K, V]) Process(r processor.Record[K, V]) error {
	for i, pred := range p.preds {
		if pred(r.Key, r.Value) {
			p.ctx.ForwardTo(p.children[i], r)
			return nil
		}
	}
	if len(p.children) > len(p.preds) {
		p.ctx.ForwardTo(p.children[len(p.preds)], r)
	}
	return nil
}

func (p *splitter[K, V]) Close() error { return nil }
