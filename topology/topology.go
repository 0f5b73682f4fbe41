// Package topology builds samsa topologies: sources reading Kafka topics,
// processors, sinks writing Kafka topics and the state stores processors use.
//
// Two layers are offered, as in Kafka Streams. The low-level builder
// (AddSource, AddProcessor, AddSink, AddStore) names every node; the DSL
// (Stream, Map, Filter, To, …) builds on it and names nodes for you. Both
// record mistakes as they go; Validate (and App at startup) reports all of
// them, each naming the node, store or topic at fault.
//
// # Names
//
// What an application keeps in Kafka is named by what you name, so that a
// topology can grow without losing its state:
//   - every store is named by you (Count, Aggregate, TableOf, the windowed
//     aggregations take its name), and its changelog is
//     <application id>-<store>-changelog;
//   - a repartition topic is <application id>-<name>-repartition, with the
//     name you give GroupBy or Repartition, or, when the DSL inserts one
//     after a key change, the name of the store of the aggregation that
//     needs it (<store>-repartition) or, for a join, of the table's store
//     (<table store>-join-repartition);
//   - a foreign-key join (FKJoin, FKLeftJoin) takes a name, as Kafka
//     Streams' TableJoined.as(name), and names after it its topics,
//     <application id>-<name>-subscription-registration-topic and
//     <application id>-<name>-subscription-response-topic (Kafka Streams'
//     names, with no -repartition suffix), and its stores,
//     <name>-subscription-store and the result's <name>-result-store (a
//     stream joined with the result and repartitioned first reads
//     <application id>-<name>-result-store-join-repartition);
//   - processor and sink nodes get generated names (KSTREAM-MAP-0000000003,
//     as Kafka Streams names them) that shift when an operator is added
//     upstream; they name no topic and no store, so nothing in Kafka moves
//     with them. Stream.Named and Table.Named replace the generated name
//     of the node an operator just added (Kafka Streams' Named.as), for
//     logs, metrics, Describe and dead-letter headers that stay put.
//
// Adding, removing or reordering stateless operators therefore renames no
// changelog and no repartition topic (TestAddingOperatorsRenamesNoTopic).
package topology

import (
	"reflect"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa/internal/engine"
	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
)

// Topology is a graph of sources, processors, sinks and stores. Build it
// once; an App compiles it for its application id and instantiates the
// result per task. Building is not safe for concurrent use; once built, a
// topology may be compiled (by samsa.New, testkit.NewDriver, Compile) on
// several goroutines and for several applications: compiling copies it.
type Topology struct {
	g   *engine.Graph
	seq int
	// generated are the node names the DSL generated: those Named may
	// replace.
	generated map[string]bool
}

// New returns an empty topology.
func New() *Topology { return &Topology{g: engine.NewGraph()} }

// Validate checks the topology and returns every problem found: unknown
// parents, cycles, duplicate names, sinks without parents, stores not
// connected, records of the wrong type flowing into a node.
func (t *Topology) Validate() error {
	_, err := t.g.Clone().Validate()
	return err
}

// Subtopologies returns the number of sub-topologies: the connected parts of
// the graph, each run as one task per input partition. It validates first.
func (t *Topology) Subtopologies() (int, error) {
	subs, err := t.g.Clone().Validate()
	if err != nil {
		return 0, err
	}
	return len(subs), nil
}

// Compiled is a topology compiled for one application id, as an App or a
// testkit.Driver runs it: a validated copy whose internal topics are named
// after the id. Changes made to the Topology afterwards do not affect it.
type Compiled interface {
	// ApplicationID returns the id the topology was compiled for.
	ApplicationID() string
	// Subtopologies returns the number of sub-topologies.
	Subtopologies() int
	// SourceTopics returns every topic read, repartition topics included,
	// sorted.
	SourceTopics() []string
	// InternalTopics returns the topics the application creates and owns,
	// sorted: repartition topics and the changelogs of logged stores.
	InternalTopics() []string
}

// Compile validates the topology and compiles it for an application id.
// samsa.New and testkit.NewDriver compile the topology they are given this
// way; call it to see the topics an application will read and create. It
// never changes t.
func (t *Topology) Compile(applicationID string) (Compiled, error) {
	return t.compile(applicationID)
}

func (t *Topology) compile(applicationID string) (*engine.Plan, error) {
	return engine.Compile(t.g, applicationID, engine.Names{
		Repartition: func(name string) string { return internalTopic(applicationID, name) },
		Changelog:   func(store string) string { return ChangelogTopic(applicationID, store) },
	})
}

// name returns a generated node name: PREFIX-0000000003, as Kafka Streams does.
func (t *Topology) name(prefix string) string {
	n := t.seq
	t.seq++
	name := prefix + "-" + pad10(n)
	if t.generated == nil {
		t.generated = map[string]bool{}
	}
	t.generated[name] = true
	return name
}

func pad10(n int) string {
	s := []byte("0000000000")
	for i := len(s) - 1; i >= 0 && n > 0; i-- {
		s[i] = byte('0' + n%10)
		n /= 10
	}
	return string(s)
}

// TimestampExtractor returns the event time of a raw input record. The
// default is the record's own timestamp.
type TimestampExtractor func(r *kgo.Record) time.Time

// Source configures a source node.
type Source[K, V any] struct {
	// Topics read by the source; at least one.
	Topics []string
	// Key and Value deserialize the records. Both are required.
	Key   serde.Serde[K]
	Value serde.Serde[V]
	// Timestamp extracts the event time from the raw record; nil means the
	// record's own timestamp.
	Timestamp TimestampExtractor
	// EventTime, when set, extracts the event time from the deserialized
	// record (a field of the value: no second decode), given the current
	// time of the record's partition (the highest event time this source
	// stamped on it; zero before any), as Kafka Streams' extractors get
	// partitionTime. It takes precedence over Timestamp. An error hands the
	// record to the processing-error policy.
	EventTime func(r processor.Record[K, V], partitionTime time.Time) (time.Time, error)
	// WallClock stamps every record with the wall clock when it is
	// processed (Kafka Streams' WallclockTimestampExtractor), for
	// processing-time windows; testkit.Driver's clock in tests.
	WallClock bool
}

// AddSource adds a source node reading the given topics.
func AddSource[K, V any](t *Topology, name string, src Source[K, V]) {
	if src.Key == nil || src.Value == nil {
		t.g.Errorf("topology: source %q needs both a key and a value serde", name)
		return
	}
	// A timestamp before the Unix epoch, whichever way it was found, is
	// handed to the processing-error policy, as Kafka Streams' default
	// extractor refuses it.
	t.g.Add(&engine.Node{
		Name:   name,
		Kind:   engine.KindSource,
		Topics: append([]string(nil), src.Topics...),
		Make: engine.NewTimedSource(src.Key, src.Value, engine.SourceTime[K, V]{
			Raw: src.Timestamp, Typed: src.EventTime, WallClock: src.WallClock,
		}),
	})
}

// nilFuncs records a validation error naming op and the parameter for each
// nil function among the name, function pairs given: a topology with one
// fails Validate (and so samsa.New and testkit.NewDriver) instead of
// panicking on the first record. It reports whether one was nil.
func (t *Topology) nilFuncs(op string, pairs ...any) bool {
	found := false
	for i := 0; i+1 < len(pairs); i += 2 {
		if v := reflect.ValueOf(pairs[i+1]); !v.IsValid() || (v.Kind() == reflect.Func && v.IsNil()) {
			t.g.Errorf("topology: %s: %s is nil", op, pairs[i])
			found = true
		}
	}
	return found
}

// AddProcessor adds a processor node fed by the named parents. supplier is
// called once per task. The parents must emit records of type KIn, VIn.
func AddProcessor[KIn, VIn, KOut, VOut any](t *Topology, name string, supplier processor.Supplier[KIn, VIn, KOut, VOut], parents ...string) {
	if supplier == nil {
		t.g.Errorf("topology: processor %q has no supplier", name)
		return
	}
	t.g.Add(&engine.Node{
		Name:    name,
		Kind:    engine.KindProcessor,
		Parents: append([]string(nil), parents...),
		Make:    engine.NewProcessor(supplier),
	})
}

// Partitioner chooses the partition of a record a sink writes, in
// [0, numPartitions). keyBytes is the serialized key.
type Partitioner[K, V any] func(topic string, key K, value V, keyBytes []byte, numPartitions int32) int32

// Sink configures a sink node.
type Sink[K, V any] struct {
	// Topic is the topic written, unless TopicFunc is set.
	Topic string
	// TopicFunc chooses the topic per record.
	TopicFunc func(r processor.Record[K, V]) string
	// Key and Value serialize the records. Both are required.
	Key   serde.Serde[K]
	Value serde.Serde[V]
	// Partitioner chooses the partition; nil means Kafka's default
	// (murmur2 of the key bytes, round robin for a nil key).
	Partitioner Partitioner[K, V]
}

// AddSink adds a sink node fed by the named parents.
func AddSink[K, V any](t *Topology, name string, s Sink[K, V], parents ...string) {
	switch {
	case s.Key == nil || s.Value == nil:
		t.g.Errorf("topology: sink %q needs both a key and a value serde", name)
		return
	case s.Topic == "" && s.TopicFunc == nil:
		t.g.Errorf("topology: sink %q needs a Topic or a TopicFunc", name)
		return
	}
	n := &engine.Node{
		Name:    name,
		Kind:    engine.KindSink,
		Parents: append([]string(nil), parents...),
		Topic:   s.Topic,
		Make: engine.NewSink(engine.SinkSpec[K, V]{
			Topic: s.Topic, TopicFunc: s.TopicFunc, Key: s.Key, Value: s.Value,
			Partitioner: s.Partitioner,
		}),
	}
	if s.TopicFunc != nil {
		n.Topic = ""
		n.TopicFuncName = "TopicNameExtractor"
	}
	t.g.Add(n)
}

// Topics returns the topics the topology reads, in the order of their
// sources: the application's input topics, without the internal topics
// the DSL adds (repartition and foreign-key join topics, named after the
// application id only once it is known; Describe and the App list those).
func (t *Topology) Topics() []string {
	var out []string
	for _, n := range t.g.Nodes {
		if n.Internal != "" {
			continue
		}
		out = append(out, n.Topics...)
	}
	return out
}

// ChangelogTopic returns the name of the changelog topic of a store:
// <application id>-<store>-changelog, as Kafka Streams names it.
func ChangelogTopic(applicationID, store string) string {
	return applicationID + "-" + store + "-changelog"
}

// RepartitionTopic returns the name of a repartition topic:
// <application id>-<name>-repartition, as Kafka Streams names it.
func RepartitionTopic(applicationID, name string) string {
	return applicationID + "-" + name + "-repartition"
}
