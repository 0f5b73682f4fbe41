package testkit

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/changelog"
	"github.com/samsa-streams/samsa/internal/engine"
	"github.com/samsa-streams/samsa/internal/stores"
	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/topology"
)

// DriverConfig configures a Driver.
type DriverConfig struct {
	// ApplicationID names internal topics; default "driver".
	ApplicationID string
	// Partitions gives the partition count of topics by name; topics not
	// listed have DefaultPartitions. Repartition topics get the count of
	// the input of the sub-topology that writes them, or, when the
	// sub-topology reading them also reads other topics (a join), the
	// count of those, as in an App.
	Partitions map[string]int32
	// DefaultPartitions is the partition count of unlisted topics; default 1.
	DefaultPartitions int32
	// StartTime is the initial wall-clock time; default the Unix epoch.
	StartTime time.Time
	// Errors chooses what a failing record does, as samsa.Config.Errors:
	// by default a deserialization or processing error fails the pipe
	// (Pipe returns it, and the driver stays failed); Skip drops the
	// record, DeadLetter writes it to DeadLetterTopic with the error
	// headers an App writes (samsa.HeaderErrorMessage, …), readable with
	// OutputTopic. The broker never rejects a record here, so Production
	// does not apply.
	Errors samsa.ErrorPolicies
	// DeadLetterTopic receives dead-lettered records; required when a
	// policy is DeadLetter.
	DeadLetterTopic string
	// CacheMaxBytes bounds the record caches of the aggregations, as
	// samsa.Config.CacheMaxBytes: 0 is 10 MiB, shared evenly by the
	// cached store instances of every task; negative turns caching off.
	// The caches are flushed at every commit, so that with the driver's
	// commit after every record they change no result.
	CacheMaxBytes int64
	// ManualCommit commits only when Commit is called, not after every
	// piped record or wall-clock advance: the records piped in between
	// are one transaction, as an App's commit interval makes them, and
	// the record caches collapse the updates of a key among them. A
	// failure aborts everything since the last commit.
	ManualCommit bool
}

// Driver runs a topology synchronously, without a broker: records piped
// into input topics are processed before Pipe returns, records written to a
// topic that a sub-topology reads (a repartition topic) are delivered to the
// task of the partition they were written to, and wall-clock time moves only
// when told. It is multi-partition: every (sub-topology, partition) is a
// task, as in an App, so a missing repartition shows up as wrong results.
// A Driver starts no goroutine.
//
// Each input record (or wall-clock advance) is a transaction, as in an
// App with exactly-once processing (unless DriverConfig.ManualCommit: then
// the records between two calls of Commit are one): when it is processed,
// the record caches are flushed and the stores' writes are committed; when processing fails, they are dropped (aborted),
// and so are the records written since, which a read_committed consumer
// never sees. After a failure every Pipe returns it until Restart.
//
// Records piped into, or written to, the topic of a global table
// (topology.GlobalTableOf) update its store at once, whatever their
// partition, as Kafka Streams' TopologyTestDriver does; every task reads
// that one store.
type Driver struct {
	cfg      DriverConfig
	g        *engine.Graph
	subs     []*engine.Subtopology
	topicSub map[string]int
	tasks    map[processor.TaskID]*engine.Task
	ids      []processor.TaskID
	clock    time.Time
	parts    map[string]int32
	offsets  map[string]map[int32]int64
	outputs  map[string][]*kgo.Record
	pending  []*kgo.Record
	err      error
	state    *changelog.Engine // in memory, as an App's with InMemoryState
	skipped  int64
	dead     int64
	// reasons and dropNodes count the records dropped by design, by
	// reason and by operator.
	reasons, dropNodes map[string]int64

	// written holds, per topic written since the last settle, how many
	// records it had before: an abort drops the records written since.
	written map[string]int
	// cache is the record cache budget every task shares.
	cache *engine.CacheBudget
	// changelogs counts the records written to each store's changelog in
	// committed transactions; changelogPending those since the last
	// commit.
	changelogs       map[string]int64
	changelogPending map[string]int64
	// globals are the global stores by the topic they read; typedGlobals
	// the same by store name, as tasks see them.
	globals      map[string]globalStore
	typedGlobals map[string]processor.StateStore
}

// globalStore is a global store the driver fills from its topic.
type globalStore struct {
	def   *engine.GlobalDef
	raw   *changelog.Store
	typed processor.StateStore
}

// onError applies DriverConfig.Errors to a failed record.
func (d *Driver) onError(kind engine.ErrorKind, _ error) engine.Decision {
	p := samsa.Fail
	switch kind {
	case engine.ErrorDeserialization:
		p = d.cfg.Errors.Deserialization
	case engine.ErrorProcessing:
		p = d.cfg.Errors.Processing
	}
	switch p {
	case samsa.Skip:
		return engine.Skip
	case samsa.DeadLetter:
		return engine.DeadLetter
	}
	return engine.Fail
}

// onHandled counts what the policy did.
func (d *Driver) onHandled(_ engine.ErrorKind, dec engine.Decision, _ error) {
	switch dec {
	case engine.Skip:
		d.skipped++
	case engine.DeadLetter:
		d.dead++
	}
}

// Skipped returns the number of records the error policy skipped.
func (d *Driver) Skipped() int64 { return d.skipped }

// DeadLettered returns the number of records the error policy sent to the
// dead-letter topic.
func (d *Driver) DeadLettered() int64 { return d.dead }

// NewDriver validates the topology and creates its tasks.
func NewDriver(top *topology.Topology, cfg DriverConfig) (*Driver, error) {
	if cfg.ApplicationID == "" {
		cfg.ApplicationID = "driver"
	}
	if cfg.DefaultPartitions <= 0 {
		cfg.DefaultPartitions = 1
	}
	if cfg.StartTime.IsZero() {
		cfg.StartTime = time.Unix(0, 0)
	}
	if (cfg.Errors.Deserialization == samsa.DeadLetter || cfg.Errors.Processing == samsa.DeadLetter) && cfg.DeadLetterTopic == "" {
		return nil, fmt.Errorf("testkit: DriverConfig.DeadLetterTopic is empty but an error policy is DeadLetter")
	}
	compiled, err := top.Compile(cfg.ApplicationID)
	if err != nil {
		return nil, err
	}
	plan := compiled.(*engine.Plan)
	g, subs := plan.Graph, plan.Subs
	if cfg.CacheMaxBytes == 0 {
		cfg.CacheMaxBytes = samsa.DefaultCacheMaxBytes
	}
	d := &Driver{
		cache: engine.NewCacheBudget(cfg.CacheMaxBytes), changelogs: map[string]int64{}, changelogPending: map[string]int64{},
		cfg: cfg, g: g, subs: subs, topicSub: plan.TopicSub,
		tasks: map[processor.TaskID]*engine.Task{}, clock: cfg.StartTime,
		parts: map[string]int32{}, offsets: map[string]map[int32]int64{}, outputs: map[string][]*kgo.Record{}, written: map[string]int{},
	}
	for t, n := range cfg.Partitions {
		d.parts[t] = n
	}
	if err := d.resolvePartitions(); err != nil {
		return nil, err
	}
	d.state, err = changelog.NewEngine(changelog.Options{ApplicationID: cfg.ApplicationID, InMemory: true})
	if err != nil {
		return nil, err
	}
	d.globals = map[string]globalStore{}
	d.typedGlobals = map[string]processor.StateStore{}
	for _, name := range slices.Sorted(maps.Keys(g.Globals)) {
		def := g.Globals[name]
		raw, err := d.state.Open(globalTask, name)
		if err != nil {
			_ = d.Close()
			return nil, fmt.Errorf("testkit: global store %q: %w", name, err)
		}
		gs := globalStore{def: def, raw: raw, typed: def.Wrap(raw)}
		d.globals[def.Topic] = gs
		d.typedGlobals[name] = gs.typed
	}
	if err := d.startTasks(); err != nil {
		_ = d.Close()
		return nil, err
	}
	return d, nil
}

// startTasks creates a task per sub-topology and partition over the
// driver's state.
func (d *Driver) startTasks() error {
	stores := memoryStores{d.state, d.changelogPending}
	for _, st := range d.subs {
		n := d.partitions(st.SourceTopics[0])
		for p := int32(0); p < n; p++ {
			t, err := engine.NewTask(d.g, st, p, engine.TaskConfig{
				AppID: d.cfg.ApplicationID, Output: driverOutput{d}, Stores: stores, Now: d.now,
				OnError: d.onError, OnHandled: d.onHandled, DeadLetterTopic: d.cfg.DeadLetterTopic,
				Globals: d.typedGlobals, OnDrop: d.onDrop, Cache: d.cache,
			})
			if err != nil {
				return err
			}
			d.tasks[t.ID] = t
			d.ids = append(d.ids, t.ID)
		}
	}
	sort.Slice(d.ids, func(i, j int) bool {
		a, b := d.ids[i], d.ids[j]
		if a.Subtopology != b.Subtopology {
			return a.Subtopology < b.Subtopology
		}
		return a.Partition < b.Partition
	})
	return nil
}

// Restart closes every task and creates it again over the same state, as
// an App restarted after a crash with its local state (or restored from
// its changelogs): the stores keep what was committed, and what the
// processors kept in memory (a windowed aggregation's stream time, a
// punctuation schedule) starts again. It clears the failure of an earlier
// Pipe, so that piping can go on. The driver does not deliver the failed
// record again, as a consumer rewound to the committed offsets would: pipe
// it again to have it processed again. Output records already written stay
// to be read. Work not committed yet (DriverConfig.ManualCommit) is
// dropped, as a crash drops it: its records, store writes and cached
// updates.
func (d *Driver) Restart() error {
	_ = d.abort(nil)
	var errs []error
	for _, id := range d.ids {
		errs = append(errs, d.tasks[id].Close())
	}
	d.tasks = map[processor.TaskID]*engine.Task{}
	d.ids = nil
	d.pending, d.err = nil, nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("testkit: restart: %w", err)
	}
	if err := d.startTasks(); err != nil {
		return fmt.Errorf("testkit: restart: %w", err)
	}
	return nil
}

// resolvePartitions gives repartition topics the partition count of their
// writer's input and checks that co-partitioned inputs agree.
func (d *Driver) resolvePartitions() error {
	d.g.RepartitionPartitions(d.subs, d.parts, d.partitions)
	for _, st := range d.subs {
		first := st.SourceTopics[0]
		for _, t := range st.SourceTopics[1:] {
			if d.partitions(t) != d.partitions(first) {
				return fmt.Errorf("testkit: co-partitioned topics differ in partition count: %s=%d, %s=%d", first, d.partitions(first), t, d.partitions(t))
			}
		}
	}
	return nil
}

func (d *Driver) partitions(topic string) int32 {
	if n, ok := d.parts[topic]; ok {
		return n
	}
	return d.cfg.DefaultPartitions
}

func (d *Driver) now() time.Time { return d.clock }

// Close closes every task. The driver holds no goroutine or connection.
func (d *Driver) Close() error {
	var errs []error
	for _, id := range d.ids {
		errs = append(errs, d.tasks[id].Close())
	}
	d.tasks = map[processor.TaskID]*engine.Task{}
	d.ids = nil
	for _, gs := range d.globals {
		errs = append(errs, gs.raw.Close())
	}
	d.globals = nil
	if d.state != nil {
		errs = append(errs, d.state.Close())
	}
	return errors.Join(errs...)
}

// memoryStores opens a task's stores in the in-memory engine an App uses
// with InMemoryState: the same write buffers, commits and aborts.
type memoryStores struct {
	e *changelog.Engine
	// changelog counts the writes of each logged store since the last
	// commit: the records an App would write to its changelog.
	changelog map[string]int64
}

// Open implements engine.StoreProvider.
func (m memoryStores) Open(task processor.TaskID, def *engine.StoreDef) (engine.Opened, error) {
	s, err := m.e.Open(task, def.Name)
	if err != nil {
		return engine.Opened{}, err
	}
	if def.Logged {
		name := def.Name
		s.OnWrite = func(_, _ []byte) { m.changelog[name]++ }
	}
	return engine.Lay(def, s, s.Windows, s.Sessions), nil
}

// ChangelogRecords returns how many records the changelog topic of the
// named store received in committed transactions, over every task: one
// per store write, as an App writes them. With the record cache, that is
// one per key and commit (or eviction) instead of one per update.
func (d *Driver) ChangelogRecords(store string) int64 { return d.changelogs[store] }

// settle ends the work of one input record (or wall-clock advance) as an
// App's commit would: the stores' write buffers are committed, or, when
// processing failed, dropped as an aborted transaction drops them, with
// the records written since the last settle, which a read_committed
// consumer of an aborted transaction never sees.
func (d *Driver) settle(err error) error {
	if err != nil {
		return d.abort(err)
	}
	if d.cfg.ManualCommit {
		return nil
	}
	return d.commit()
}

// abort drops the work since the last commit, as an aborted transaction:
// the records written since, the stores' write buffers and the record
// caches' updates.
func (d *Driver) abort(err error) error {
	for topic, n := range d.written {
		d.outputs[topic] = d.outputs[topic][:n]
	}
	clear(d.written)
	clear(d.changelogPending)
	for _, id := range d.ids {
		d.tasks[id].Abort()
	}
	return err
}

// commit flushes the record caches (upstream sub-topologies first, with
// what they write to repartition topics processed and flushed in turn),
// then commits the stores' write buffers.
func (d *Driver) commit() error {
	for {
		for _, id := range d.ids {
			if err := d.tasks[id].FlushCaches(); err != nil {
				d.err = err
				return d.abort(err)
			}
		}
		if len(d.pending) == 0 {
			break
		}
		if err := d.drain(); err != nil {
			return d.abort(err)
		}
	}
	clear(d.written)
	for store, n := range d.changelogPending {
		d.changelogs[store] += n
	}
	clear(d.changelogPending)
	var err error
	for _, id := range d.ids {
		for _, s := range d.tasks[id].RawStores() {
			if ferr := s.Flush(); ferr != nil && err == nil {
				err = fmt.Errorf("testkit: task %s: commit store %q: %w", id, s.Name(), ferr)
				d.err = err
			}
		}
	}
	return err
}

// Commit commits the work since the last commit (DriverConfig.ManualCommit):
// the record caches are flushed (their updates written to the stores and
// forwarded), then the stores' writes and the records written become
// committed; those records are readable from then on. Without
// ManualCommit every pipe commits, and Commit has nothing to do.
func (d *Driver) Commit() error {
	if d.err != nil {
		return d.err
	}
	return d.commit()
}

// Now returns the driver's wall-clock time.
func (d *Driver) Now() time.Time { return d.clock }

// AdvanceWallClockTime moves the wall clock forward and fires the
// wall-clock punctuators that are due.
func (d *Driver) AdvanceWallClockTime(by time.Duration) error {
	if d.err != nil {
		return d.err
	}
	d.clock = d.clock.Add(by)
	for _, id := range d.ids {
		d.tasks[id].PunctuateWallClock()
		if err := d.tasks[id].Err(); err != nil {
			d.err = err
			return d.settle(err)
		}
	}
	return d.settle(d.drain())
}

// PartitionCount returns the number of partitions topic has in the
// driver: its count in DriverConfig, or DefaultPartitions, or, for an
// internal topic, the count the topology gives it (as an App would create
// it).
func (d *Driver) PartitionCount(topic string) int32 { return d.partitions(topic) }

// driverOutput is the engine.Output of the Driver's tasks (a type of its
// own, so that the Driver's exported API shows no engine part).
type driverOutput struct{ d *Driver }

// Produce implements engine.Output: the record goes to the topic's output
// queue and, when a sub-topology reads the topic, to its task too.
func (o driverOutput) Produce(topic string, partition int32, key, value []byte, ts time.Time, headers []processor.Header, origin *kgo.Record) {
	o.d.produce(topic, partition, key, value, ts, headers, origin)
}

// Partitions implements engine.Output.
func (o driverOutput) Partitions(topic string) (int32, error) { return o.d.partitions(topic), nil }

func (d *Driver) produce(topic string, partition int32, key, value []byte, ts time.Time, headers []processor.Header, _ *kgo.Record) {
	if partition < 0 {
		partition = 0
		if key != nil {
			partition = engine.KeyPartition(key, d.partitions(topic))
		}
	}
	r := d.record(topic, partition, key, value, ts, headers)
	if _, ok := d.written[topic]; !ok {
		d.written[topic] = len(d.outputs[topic])
	}
	d.outputs[topic] = append(d.outputs[topic], r)
	_, read := d.topicSub[topic]
	_, global := d.globals[topic]
	if read || global {
		d.pending = append(d.pending, r)
	}
}

func (d *Driver) record(topic string, partition int32, key, value []byte, ts time.Time, headers []processor.Header) *kgo.Record {
	if d.offsets[topic] == nil {
		d.offsets[topic] = map[int32]int64{}
	}
	off := d.offsets[topic][partition]
	d.offsets[topic][partition] = off + 1
	return &kgo.Record{Topic: topic, Partition: partition, Offset: off, Key: key, Value: value, Timestamp: ts, Headers: engine.ToKafkaHeaders(headers)}
}

// pipe delivers one raw record to its task and processes until quiet.
func (d *Driver) pipe(r *kgo.Record) error {
	if d.err != nil {
		return d.err
	}
	d.pending = append(d.pending, r)
	return d.settle(d.drain())
}

func (d *Driver) drain() error {
	for len(d.pending) > 0 {
		r := d.pending[0]
		d.pending = d.pending[1:]
		if gs, ok := d.globals[r.Topic]; ok {
			if err := d.updateGlobal(gs, r); err != nil {
				d.err = err
				return err
			}
			continue
		}
		sub, ok := d.topicSub[r.Topic]
		if !ok {
			continue
		}
		t := d.tasks[processor.TaskID{Subtopology: sub, Partition: r.Partition}]
		t.Add(r)
		t.Process(1 << 30)
		if err := t.Err(); err != nil {
			d.err = err
			return err
		}
	}
	return nil
}

// ErrUnknownTopic is returned when records are piped into a topic that the
// topology does not read.
var ErrUnknownTopic = errors.New("testkit: unknown input topic")

// globalTask is the task id the driver opens global stores under: they
// belong to no task.
var globalTask = processor.TaskID{Subtopology: -1, Partition: -1}

// updateGlobal applies a record of a global store's topic to the store at
// once, as Kafka Streams' TopologyTestDriver does: a global store sees
// every partition of its topic, before the tasks process what comes next.
func (d *Driver) updateGlobal(gs globalStore, r *kgo.Record) error {
	if err := gs.def.Update(gs.raw, r.Key, r.Value, r.Timestamp); err != nil {
		gs.raw.Abort()
		return fmt.Errorf("testkit: global store %q, record at %q partition %d offset %d: %w", gs.def.Name, r.Topic, r.Partition, r.Offset, err)
	}
	if err := gs.raw.Flush(); err != nil {
		return fmt.Errorf("testkit: global store %q: commit: %w", gs.def.Name, err)
	}
	return nil
}

// GlobalStoreOf returns the global store named store (of a
// topology.GlobalTable), which every task reads. It is read-only.
func GlobalStoreOf[K, V any](d *Driver, store string) (processor.KeyValueStore[K, V], error) {
	for _, gs := range d.globals {
		if gs.def.Name != store {
			continue
		}
		kv, ok := gs.typed.(processor.KeyValueStore[K, V])
		if !ok {
			have := fmt.Sprintf("%T", gs.typed)
			if st, ok := gs.typed.(interface{ StoreType() string }); ok {
				have = st.StoreType()
			}
			return nil, fmt.Errorf("testkit: global store %q is a %s, not a %s", store, have, stores.TypeName[K, V]("KeyValueStore"))
		}
		return kv, nil
	}
	return nil, fmt.Errorf("testkit: no global store %q", store)
}

// Input pipes typed records into a topic.
type Input[K, V any] struct {
	d          *Driver
	topic      string
	key        serde.Serde[K]
	value      serde.Serde[V]
	roundRobin int32
}

// InputTopic returns a handle to pipe records into topic.
func InputTopic[K, V any](d *Driver, topic string, key serde.Serde[K], value serde.Serde[V]) *Input[K, V] {
	return &Input[K, V]{d: d, topic: topic, key: key, value: value}
}

// Pipe sends key and value at the driver's current wall-clock time through
// the default partitioner, and processes it.
func (in *Input[K, V]) Pipe(key K, value V) error {
	return in.PipeRecord(processor.NewRecord(key, value, in.d.clock), -1)
}

// PipeAt sends key and value with the given event time.
func (in *Input[K, V]) PipeAt(key K, value V, ts time.Time) error {
	return in.PipeRecord(processor.NewRecord(key, value, ts), -1)
}

// PipeRecord sends a record with its time and headers to partition, or
// through the default partitioner (murmur2 of the key, round robin for a
// nil key) when partition is negative. A tombstone (processor.NewTombstone,
// Record.AsTombstone) is sent with a null value and a record whose key is
// null (Record.WithNullKey) without a key, as a sink writes them.
func (in *Input[K, V]) PipeRecord(r processor.Record[K, V], partition int32) error {
	var kb, vb []byte
	var err error
	if !r.KeyIsNull() {
		if kb, err = in.key.Serialize(in.topic, r.Key); err != nil {
			return fmt.Errorf("testkit: serialize key for %q: %w", in.topic, err)
		}
	}
	if !r.IsTombstone() {
		if vb, err = in.value.Serialize(in.topic, r.Value); err != nil {
			return fmt.Errorf("testkit: serialize value for %q: %w", in.topic, err)
		}
	}
	return in.PipeRaw(kb, vb, r.Timestamp, r.Headers, partition)
}

// PipeTombstone sends a tombstone for key (a null value) with the given
// event time.
func (in *Input[K, V]) PipeTombstone(key K, ts time.Time) error {
	return in.PipeRecord(processor.NewTombstone[K, V](key, ts), -1)
}

// PipeRaw sends raw bytes, e.g. a payload that is not valid for the serde.
// A topic that no source of the topology reads is an error (ErrUnknownTopic):
// its records would vanish.
func (in *Input[K, V]) PipeRaw(key, value []byte, ts time.Time, headers []processor.Header, partition int32) error {
	_, read := in.d.topicSub[in.topic]
	if _, global := in.d.globals[in.topic]; !read && !global {
		read := make([]string, 0, len(in.d.topicSub))
		for t := range in.d.topicSub {
			read = append(read, t)
		}
		sort.Strings(read)
		return fmt.Errorf("%w: no source of the topology reads %q (it reads %s)", ErrUnknownTopic, in.topic, strings.Join(read, ", "))
	}
	n := in.d.partitions(in.topic)
	switch {
	case partition >= n:
		return fmt.Errorf("testkit: topic %q has %d partitions, no partition %d", in.topic, n, partition)
	case partition >= 0:
	case key != nil:
		partition = engine.KeyPartition(key, n)
	default:
		partition = in.roundRobin % n
		in.roundRobin++
	}
	return in.d.pipe(in.d.record(in.topic, partition, key, value, ts, headers))
}

// Output reads typed records from a topic the topology writes. Reading
// consumes: each record is returned once.
type Output[K, V any] struct {
	d     *Driver
	topic string
	key   serde.Serde[K]
	value serde.Serde[V]
	next  int
}

// OutputTopic returns a handle to read topic.
func OutputTopic[K, V any](d *Driver, topic string, key serde.Serde[K], value serde.Serde[V]) *Output[K, V] {
	return &Output[K, V]{d: d, topic: topic, key: key, value: value}
}

// QueueSize returns how many records are left to read. Only committed
// records are readable, as a read_committed consumer reads them (see
// DriverConfig.ManualCommit).
func (o *Output[K, V]) QueueSize() int { return o.d.committedLen(o.topic) - o.next }

// committedLen is the number of committed records of topic.
func (d *Driver) committedLen(topic string) int {
	if n, ok := d.written[topic]; ok {
		return n
	}
	return len(d.outputs[topic])
}

// IsEmpty reports whether every record was read.
func (o *Output[K, V]) IsEmpty() bool { return o.QueueSize() == 0 }

// ErrNoRecord is returned when an output topic has nothing left to read.
var ErrNoRecord = errors.New("testkit: no record to read")

// ReadRecord returns the next record with its time, headers and its place
// in the output topic (Origin: topic, partition, offset). A record written
// with a null value is a tombstone (Record.IsTombstone) and one written
// without a key says so (Record.KeyIsNull), as a source reads them: the
// serdes are not asked to decode nil, the fields hold the zero values.
func (o *Output[K, V]) ReadRecord() (processor.Record[K, V], error) {
	var zero processor.Record[K, V]
	if o.IsEmpty() {
		return zero, fmt.Errorf("%w in %q", ErrNoRecord, o.topic)
	}
	r := o.d.outputs[o.topic][o.next]
	o.next++
	var k K
	var v V
	var err error
	if r.Key != nil {
		if k, err = o.key.Deserialize(o.topic, r.Key); err != nil {
			return zero, fmt.Errorf("testkit: %q offset %d: key: %w", o.topic, r.Offset, err)
		}
	}
	if r.Value != nil {
		if v, err = o.value.Deserialize(o.topic, r.Value); err != nil {
			return zero, fmt.Errorf("testkit: %q offset %d: value: %w", o.topic, r.Offset, err)
		}
	}
	rec := processor.SourceRecord(k, v, r.Timestamp, engine.FromKafkaHeaders(r.Headers), processor.Origin{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset})
	if r.Key == nil {
		rec = rec.WithNullKey()
	}
	if r.Value == nil {
		rec = rec.AsTombstone()
	}
	return rec, nil
}

// ReadKeyValue returns the next key and value.
func (o *Output[K, V]) ReadKeyValue() (processor.KeyValue[K, V], error) {
	r, err := o.ReadRecord()
	return processor.KeyValue[K, V]{Key: r.Key, Value: r.Value}, err
}

// ReadKeyValues returns every record left, in the order written (partition
// by partition interleaved as produced).
func (o *Output[K, V]) ReadKeyValues() ([]processor.KeyValue[K, V], error) {
	var out []processor.KeyValue[K, V]
	for !o.IsEmpty() {
		kv, err := o.ReadKeyValue()
		if err != nil {
			return out, err
		}
		out = append(out, kv)
	}
	return out, nil
}

// ReadValues returns the values of every record left.
func (o *Output[K, V]) ReadValues() ([]V, error) {
	kvs, err := o.ReadKeyValues()
	out := make([]V, len(kvs))
	for i, kv := range kvs {
		out[i] = kv.Value
	}
	return out, err
}

// ReadKeyValuesToMap reads every record left and keeps the last value per
// key, as a table would.
func ReadKeyValuesToMap[K comparable, V any](o *Output[K, V]) (map[K]V, error) {
	kvs, err := o.ReadKeyValues()
	m := make(map[K]V, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = kv.Value
	}
	return m, err
}

func (d *Driver) onDrop(node, reason string) {
	if d.reasons == nil {
		d.reasons, d.dropNodes = map[string]int64{}, map[string]int64{}
	}
	d.reasons[reason]++
	d.dropNodes[node]++
}

// DroppedByNode returns how many records each operator (by its node name,
// as Describe prints it) dropped by design, as an App's
// samsa_dropped_records_total counts them (its node label).
func (d *Driver) DroppedByNode() map[string]int64 {
	out := make(map[string]int64, len(d.dropNodes))
	for n, c := range d.dropNodes {
		out[n] = c
	}
	return out
}

// DroppedByReason returns how many records the operators dropped by
// design, by reason, as an App's samsa_dropped_records_total counts them
// (its reason label): a fixed text per kind of drop, such as "late record
// in a windowed aggregation"; the record's times go to the debug log only.
func (d *Driver) DroppedByReason() map[string]int64 {
	out := make(map[string]int64, len(d.reasons))
	for r, n := range d.reasons {
		out[r] = n
	}
	return out
}

// Dropped returns how many records the operators of every task dropped by
// design, not by error: records with a null key or value in an aggregation,
// late records for a closed window. Each is also logged at debug level.
func (d *Driver) Dropped() int64 {
	var n int64
	for _, id := range d.ids {
		n += d.tasks[id].Dropped()
	}
	return n
}
