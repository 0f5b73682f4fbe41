package engine

import (
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
)

// Instance is one node's instance inside one task.
type Instance interface {
	// Init is called once, parents after children, before any record.
	Init(t *Task, n *Node) error
	// Close is called once when the task closes.
	Close() error
	// AddChild wires a child; it fails when the child cannot receive the
	// records this node emits.
	AddChild(name string, child Instance) error
}

// Receiver is an instance that receives typed records.
type Receiver[K, V any] interface {
	Instance
	Receive(r processor.Record[K, V])
}

// sourceInstance is an instance that consumes raw records.
type sourceInstance interface {
	Instance
	consume(r *kgo.Record)
}

// children is the typed fan-out shared by sources and processors.
type children[K, V any] struct {
	node  string
	list  []Receiver[K, V]
	names []string
}

func (c *children[K, V]) add(name string, child Instance) error {
	r, ok := child.(Receiver[K, V])
	if !ok {
		var k K
		var v V
		return fmt.Errorf("emits records of key %T and value %T, which child %q cannot receive", k, v, name)
	}
	c.list = append(c.list, r)
	c.names = append(c.names, name)
	return nil
}

func (c *children[K, V]) forward(r processor.Record[K, V]) {
	for _, ch := range c.list {
		ch.Receive(r)
	}
}

// NewSource returns the factory of a typed source instance.
func NewSource[K, V any](key serde.Serde[K], value serde.Serde[V], ts func(*kgo.Record) time.Time) func() Instance {
	return NewTimedSource(key, value, SourceTime[K, V]{Raw: ts})
}

// SourceTime says how a source stamps its records with their event time:
// by default the record's own timestamp.
type SourceTime[K, V any] struct {
	// Raw extracts the time from the raw record.
	Raw func(*kgo.Record) time.Time
	// Typed extracts it from the deserialized record, given the current
	// time of its partition (the highest event time the source stamped on
	// it, zero before any); an error hands the record to the processing
	// error policy.
	Typed func(r processor.Record[K, V], partitionTime time.Time) (time.Time, error)
	// WallClock stamps every record with the task's wall clock.
	WallClock bool
}

// NewTimedSource is NewSource with a choice of event time.
func NewTimedSource[K, V any](key serde.Serde[K], value serde.Serde[V], st SourceTime[K, V]) func() Instance {
	return func() Instance {
		return &source[K, V]{key: key, value: value, ts: st.Raw, typed: st.Typed, wall: st.WallClock}
	}
}

type source[K, V any] struct {
	key   serde.Serde[K]
	value serde.Serde[V]
	ts    func(*kgo.Record) time.Time
	typed func(processor.Record[K, V], time.Time) (time.Time, error)
	wall  bool
	// partTime is the highest event time stamped per input topic (a task
	// reads one partition of each).
	partTime map[string]time.Time
	t        *Task
	out      children[K, V]
}

func (s *source[K, V]) Init(t *Task, n *Node) error { s.t = t; s.out.node = n.Name; return nil }
func (s *source[K, V]) Close() error                { return nil }
func (s *source[K, V]) AddChild(name string, c Instance) error {
	return s.out.add(name, c)
}

// Retries of a serde whose dependency is down (serde.ErrUnavailable): the
// record is not bad, so it is retried in place with exponential backoff and
// nothing is lost; after UnavailableTimeout the task fails instead.
var (
	UnavailableBackoff = 50 * time.Millisecond
	UnavailableMaxWait = 2 * time.Second
	UnavailableTimeout = time.Minute
)

// retryUnavailable calls fn again while it fails with serde.ErrUnavailable;
// callers try once themselves first, so the hot path pays no closure.
func retryUnavailable[T any](t *Task, fn func() (T, error)) (T, error) {
	wait, waited := UnavailableBackoff, time.Duration(0)
	for {
		t.retries++
		time.Sleep(wait)
		waited += wait
		wait = min(2*wait, UnavailableMaxWait)
		v, err := fn()
		if err == nil || !errors.Is(err, serde.ErrUnavailable) || waited >= UnavailableTimeout {
			return v, err
		}
	}
}

// consume deserializes a raw record and forwards it. A null key or value
// never reaches a deserializer: the record carries the zero K or V and says
// it is null (processor.Record.KeyIsNull, IsTombstone), so a tombstone is
// never mistaken for an empty value and a sink writes it null again.
func (s *source[K, V]) consume(r *kgo.Record) {
	var k K
	var err error
	if r.Key != nil {
		k, err = s.key.Deserialize(r.Topic, r.Key)
		if err != nil && errors.Is(err, serde.ErrUnavailable) {
			k, err = retryUnavailable(s.t, func() (K, error) { return s.key.Deserialize(r.Topic, r.Key) })
		}
		if err != nil {
			s.t.deserializationError(r, "key", err)
			return
		}
	}
	var v V
	if r.Value != nil {
		v, err = s.value.Deserialize(r.Topic, r.Value)
		if err != nil && errors.Is(err, serde.ErrUnavailable) {
			v, err = retryUnavailable(s.t, func() (V, error) { return s.value.Deserialize(r.Topic, r.Value) })
		}
		if err != nil {
			s.t.deserializationError(r, "value", err)
			return
		}
	}
	ts := r.Timestamp
	switch {
	case s.wall:
		ts = s.t.Now()
	case s.ts != nil:
		ts = s.ts(r)
	}
	hs := FromKafkaHeaders(r.Headers)
	rec := processor.SourceRecord(k, v, ts, hs, processor.Origin{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset})
	if r.Key == nil {
		rec = rec.WithNullKey()
	}
	if r.Value == nil {
		rec = rec.AsTombstone()
	}
	if s.typed != nil {
		if s.partTime == nil {
			s.partTime = map[string]time.Time{}
		}
		if ts, err = s.typed(rec, s.partTime[r.Topic]); err != nil {
			s.t.processingError(s.out.node, fmt.Errorf("timestamp of the record at topic %q partition %d offset %d: %w", r.Topic, r.Partition, r.Offset, err))
			return
		}
		rec.Timestamp = ts
	}
	if ts.UnixMilli() < 0 {
		s.t.processingError(s.out.node, fmt.Errorf("invalid timestamp %d ms (before the Unix epoch) of the record at topic %q partition %d offset %d", ts.UnixMilli(), r.Topic, r.Partition, r.Offset))
		return
	}
	if s.typed != nil && ts.After(s.partTime[r.Topic]) {
		s.partTime[r.Topic] = ts
	}
	s.t.observe(r.Topic, ts)
	s.out.forward(rec)
}

// NewProcessor returns the factory of a typed processor instance.
func NewProcessor[KIn, VIn, KOut, VOut any](supplier processor.Supplier[KIn, VIn, KOut, VOut]) func() Instance {
	return func() Instance { return &proc[KIn, VIn, KOut, VOut]{p: supplier()} }
}

type proc[KIn, VIn, KOut, VOut any] struct {
	p    processor.Processor[KIn, VIn, KOut, VOut]
	t    *Task
	n    *Node
	out  children[KOut, VOut]
	byNm map[string]Receiver[KOut, VOut]
}

func (p *proc[KIn, VIn, KOut, VOut]) Init(t *Task, n *Node) error {
	p.t, p.n = t, n
	p.out.node = n.Name
	p.byNm = make(map[string]Receiver[KOut, VOut], len(p.out.names))
	for i, nm := range p.out.names {
		p.byNm[nm] = p.out.list[i]
	}
	if err := p.p.Init(p); err != nil {
		return fmt.Errorf("processor %q: init: %w", n.Name, err)
	}
	return nil
}

func (p *proc[KIn, VIn, KOut, VOut]) Close() error { return p.p.Close() }

func (p *proc[KIn, VIn, KOut, VOut]) AddChild(name string, c Instance) error {
	return p.out.add(name, c)
}

func (p *proc[KIn, VIn, KOut, VOut]) Receive(r processor.Record[KIn, VIn]) {
	if p.t.err != nil {
		return
	}
	if err := p.p.Process(r); err != nil {
		p.t.processingError(p.n.Name, err)
	}
}

// Forward implements processor.Context.
func (p *proc[KIn, VIn, KOut, VOut]) Forward(r processor.Record[KOut, VOut]) { p.out.forward(r) }

// ForwardTo implements processor.Context.
func (p *proc[KIn, VIn, KOut, VOut]) ForwardTo(child string, r processor.Record[KOut, VOut]) {
	c, ok := p.byNm[child]
	if !ok {
		p.t.processingError(p.n.Name, fmt.Errorf("ForwardTo: %q is not a child of %q (children: %v)", child, p.n.Name, p.out.names))
		return
	}
	c.Receive(r)
}

// Dropper is implemented by the context the engine gives every processor:
// a DSL operator reports through it a record it drops by design, not by
// error (a null key or value in an aggregation, as Kafka Streams drops
// them). The task counts it (Task.Dropped) and logs it at debug level.
//
// reason is a fixed text, the label of the dropped-records metric (one
// series per reason: never put a record's data in it); detail, which may
// name the record's times, only goes to the debug log.
type Dropper interface {
	// Drop reports that the record being processed was dropped, and why.
	Drop(reason, detail string)
}

// Drop implements Dropper.
func (p *proc[KIn, VIn, KOut, VOut]) Drop(reason, detail string) {
	p.t.drop(p.n.Name, reason, detail)
}

// Diverter is implemented by the context the engine gives every processor:
// a DSL operator writes through it the input record being processed, as
// it was read (key, value, timestamp and headers), to a side topic with
// headers of its own added, followed by the source headers of a dead
// letter (topic, partition, offset, application id, task). A windowed
// aggregation sends its late records to a late-records topic this way.
// The record is produced as every output is (within the transaction under
// exactly-once); in a punctuator, where no input record is processed,
// nothing is written.
type Diverter interface {
	// Divert writes the record being processed to topic, with headers.
	Divert(topic string, headers []processor.Header)
}

// Divert implements Diverter.
func (p *proc[KIn, VIn, KOut, VOut]) Divert(topic string, headers []processor.Header) {
	p.t.divert(topic, headers)
}

// ApplicationID implements processor.TaskContext.
func (p *proc[KIn, VIn, KOut, VOut]) ApplicationID() string { return p.t.AppID }

// TaskID implements processor.TaskContext.
func (p *proc[KIn, VIn, KOut, VOut]) TaskID() processor.TaskID { return p.t.ID }

// StreamTime implements processor.TaskContext.
func (p *proc[KIn, VIn, KOut, VOut]) StreamTime() time.Time { return p.t.StreamTime() }

// Watermark implements processor.TaskContext.
func (p *proc[KIn, VIn, KOut, VOut]) Watermark() time.Time { return p.t.Watermark() }

// WallClock implements processor.TaskContext.
func (p *proc[KIn, VIn, KOut, VOut]) WallClock() time.Time { return p.t.Now() }

// Schedule implements processor.TaskContext.
func (p *proc[KIn, VIn, KOut, VOut]) Schedule(interval time.Duration, typ processor.PunctuationType, fn func(time.Time) error) processor.Cancellable {
	return p.t.schedule(p.n.Name, interval, typ, fn)
}

// StateStore implements processor.TaskContext.
func (p *proc[KIn, VIn, KOut, VOut]) StateStore(name string) (processor.StateStore, error) {
	return p.t.stateStore(p.n, name)
}

// RequestCommit implements processor.TaskContext.
func (p *proc[KIn, VIn, KOut, VOut]) RequestCommit() { p.t.commitRequested = true }

// SinkSpec configures a typed sink.
type SinkSpec[K, V any] struct {
	Topic     string
	TopicFunc func(r processor.Record[K, V]) string
	Key       serde.Serde[K]
	Value     serde.Serde[V]
	// Partitioner chooses the partition in [0, numPartitions); nil is
	// KeyPartition.
	Partitioner func(topic string, key K, value V, keyBytes []byte, numPartitions int32) int32
}

// NewSink returns the factory of a typed sink instance.
func NewSink[K, V any](spec SinkSpec[K, V]) func() Instance {
	return func() Instance { return &sink[K, V]{spec: spec} }
}

type sink[K, V any] struct {
	spec  SinkSpec[K, V]
	t     *Task
	n     *Node
	topic string
	rr    int32
}

// Init takes the topic from the node, where the runtime may have resolved
// an internal (repartition) topic name.
func (s *sink[K, V]) Init(t *Task, n *Node) error {
	s.t, s.n, s.topic = t, n, n.Topic
	return nil
}
func (s *sink[K, V]) Close() error { return nil }
func (s *sink[K, V]) AddChild(name string, _ Instance) error {
	return fmt.Errorf("is a sink and cannot have child %q", name)
}

func (s *sink[K, V]) Receive(r processor.Record[K, V]) {
	if s.t.err != nil {
		return
	}
	topic := s.topic
	if s.spec.TopicFunc != nil {
		if topic = s.spec.TopicFunc(r); topic == "" {
			s.t.processingError(s.n.Name, errors.New("the topic function returned no topic"))
			return
		}
	}
	// A null key or value (a tombstone) is written null without asking
	// the serde; a serde may also write a value as null (a nil pointer
	// with serde.JSON), which makes the record written a tombstone.
	var kb, vb []byte
	var err error
	if !r.KeyIsNull() {
		kb, err = s.spec.Key.Serialize(topic, r.Key)
		if err != nil && errors.Is(err, serde.ErrUnavailable) {
			kb, err = retryUnavailable(s.t, func() ([]byte, error) { return s.spec.Key.Serialize(topic, r.Key) })
		}
		if err != nil {
			s.t.processingError(s.n.Name, fmt.Errorf("serialize key for topic %q: %w", topic, err))
			return
		}
	}
	if !r.IsTombstone() {
		vb, err = s.spec.Value.Serialize(topic, r.Value)
		if err != nil && errors.Is(err, serde.ErrUnavailable) {
			vb, err = retryUnavailable(s.t, func() ([]byte, error) { return s.spec.Value.Serialize(topic, r.Value) })
		}
		if err != nil {
			s.t.processingError(s.n.Name, fmt.Errorf("serialize value for topic %q: %w", topic, err))
			return
		}
	}
	n, err := s.t.out.Partitions(topic)
	if err != nil {
		s.t.processingError(s.n.Name, fmt.Errorf("sink %q: %w", s.n.Name, err))
		return
	}
	var p int32
	switch {
	case s.spec.Partitioner != nil:
		p = s.spec.Partitioner(topic, r.Key, r.Value, kb, n)
		if p < 0 || p >= n {
			s.t.processingError(s.n.Name, fmt.Errorf("partitioner of sink %q chose partition %d of topic %q, which has %d", s.n.Name, p, topic, n))
			return
		}
	case kb != nil:
		p = KeyPartition(kb, n)
	default:
		p = s.rr % n
		s.rr++
	}
	s.t.out.Produce(topic, p, kb, vb, r.Timestamp, r.Headers, s.t.current)
}

// KeyPartition is Kafka's default partitioner for keyed records:
// murmur2(key) & 0x7fffffff mod n, so records land where a Java producer
// would put them.
func KeyPartition(key []byte, n int32) int32 {
	return int32(murmur2(key)&0x7fffffff) % n
}

// murmur2 is the 32-bit MurmurHash2 as Kafka's Utils.murmur2 computes it.
func murmur2(b []byte) uint32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	h := seed ^ uint32(len(b))
	for len(b) >= 4 {
		k := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
		b = b[4:]
	}
	switch len(b) {
	case 3:
		h ^= uint32(b[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(b[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(b[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}

// FromKafkaHeaders converts a Kafka record's headers (nil for none).
func FromKafkaHeaders(in []kgo.RecordHeader) []processor.Header {
	if len(in) == 0 {
		return nil
	}
	out := make([]processor.Header, len(in))
	for i, h := range in {
		out[i] = processor.Header{Key: h.Key, Value: h.Value}
	}
	return out
}

// ToKafkaHeaders converts headers for a Kafka record (nil for none).
func ToKafkaHeaders(in []processor.Header) []kgo.RecordHeader {
	if len(in) == 0 {
		return nil
	}
	out := make([]kgo.RecordHeader, len(in))
	for i, h := range in {
		out[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
	}
	return out
}
