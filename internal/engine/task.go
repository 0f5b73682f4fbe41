package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
)

// Output is where sinks write: the Kafka producer at run time, a collector
// in the test driver.
type Output interface {
	// Produce sends a record asynchronously. Errors surface at the next
	// flush. origin is the input record being processed (nil in a
	// punctuator), for the production error handler.
	Produce(topic string, partition int32, key, value []byte, ts time.Time, headers []processor.Header, origin *kgo.Record)
	// Partitions returns the number of partitions of an output topic.
	Partitions(topic string) (int32, error)
}

// ErrDeserialization is wrapped by the error of a record that cannot be deserialized.
var ErrDeserialization = errors.New("deserialization failed")

// ErrProcessing is wrapped by the error a processor returned.
var ErrProcessing = errors.New("processing failed")

// Task runs one sub-topology for one partition number: its node instances,
// its input queues and its stores.
type Task struct {
	ID    processor.TaskID
	AppID string
	// Now is the wall clock; the test driver replaces it.
	Now func() time.Time

	out     Output
	inst    map[string]Instance
	order   []*Node
	sources map[string]sourceInstance
	queues  []*queue
	byTopic map[string]*queue
	stores  map[string]RawStore
	typed   map[string]processor.StateStore
	// globals are the global stores the task's processors read.
	globals map[string]processor.StateStore
	g       *Graph

	streamTime time.Time
	// watermark is the highest Watermark returned; committedWatermark its
	// value at the last commit (an abort goes back to it).
	watermark, committedWatermark time.Time
	hasTime                       bool
	puncts                        []*punctuator
	// the stream time at the last commit (or at creation), which Abort
	// restores together with each punctuator's saved schedule
	committedTime    time.Time
	committedHasTime bool

	err             error
	onError         func(ErrorKind, error) Decision
	dlq             string
	poisoned        func(*kgo.Record) (error, bool)
	onHandled       func(ErrorKind, Decision, error)
	skipped         int64
	dropped         int64
	retries         int64
	deadLettered    int64
	handled         bool        // the error policy already decided for the current record or punctuation
	punct           *punctuator // the punctuator running, or nil
	current         *kgo.Record
	commitRequested bool
	processed       int64
	// gate, if set, is asked before each record, for each empty input
	// queue of a task with several inputs, whether the task may process
	// without it (SetInputGate).
	gate func(topic string) bool
	// cache is the record cache budget the task's cached stores share
	// (nil: caching off); flushing is set while a cache flush forwards.
	cache    *CacheBudget
	flushing bool

	// The metrics hooks (nil: none), from TaskConfig.
	processLatency   func(time.Duration)
	punctuateLatency func(time.Duration)
	onDrop           func(node, reason string)
}

// LatencySampleEvery is the process-latency sampling period: one record in
// LatencySampleEvery (a power of two) is timed for TaskConfig.ProcessLatency.
const LatencySampleEvery = 64

type queue struct {
	topic string
	recs  []*kgo.Record
	head  int
	// next offset to commit and its leader epoch; -1 when nothing was
	// processed since the last commit.
	next      int64
	epoch     int32
	committed int64
	// time is the partition time: the highest event time processed from
	// the partition (hasTime: one was); committedTime and
	// committedHasTime their values at the last commit.
	time, committedTime       time.Time
	hasTime, committedHasTime bool
	// after is the offset after the last transaction marker polled
	// behind the records queued (0: none), and its leader epoch: next
	// moves there once they are processed.
	after      int64
	afterEpoch int32
}

// TaskConfig is what a task needs besides its graph.
type TaskConfig struct {
	AppID  string
	Output Output
	Stores StoreProvider
	// Globals are the typed global stores by name (GlobalDef.Wrap of
	// their raw stores), shared by every task; a task whose processors use
	// one fails to start without it.
	Globals map[string]processor.StateStore
	// Now is the wall clock; nil means time.Now.
	Now func() time.Time
	// OnError decides what a deserialization or processing error does;
	// nil fails the task.
	OnError func(kind ErrorKind, err error) Decision
	// OnHandled, if set, is told what was done (Skip or DeadLetter) once
	// per record or punctuation the policy did not fail: the one place
	// the runtime counts and logs it.
	OnHandled func(kind ErrorKind, d Decision, err error)
	// DeadLetterTopic receives dead-lettered input records.
	DeadLetterTopic string
	// Poisoned, if set, is asked before each input record is processed:
	// a record one of whose outputs the broker rejected in an attempt
	// that was rolled back is not processed again, but handed to the
	// production error policy with the rejection.
	Poisoned func(r *kgo.Record) (error, bool)
	// ProcessLatency, if set, receives the time one record took through
	// the topology, for one record in LatencySampleEvery: timing every
	// record would cost more than the metric is worth.
	ProcessLatency func(time.Duration)
	// PunctuateLatency, if set, receives the time each punctuation took.
	PunctuateLatency func(time.Duration)
	// OnDrop, if set, is told the operator (node) and the reason of every
	// record an operator dropped by design (see Dropped).
	OnDrop func(node, reason string)
	// Cache is the record cache budget of the instance, shared by the
	// cached stores of all its tasks; nil turns caching off.
	Cache *CacheBudget
}

// ErrorKind says where an error happened.
type ErrorKind int

// Error kinds.
const (
	ErrorDeserialization ErrorKind = iota
	ErrorProcessing
	ErrorProduction
)

// String names the kind as the dead-letter header carries it.
func (k ErrorKind) String() string {
	switch k {
	case ErrorDeserialization:
		return "deserialization"
	case ErrorProcessing:
		return "processing"
	case ErrorProduction:
		return "production"
	}
	return "unknown"
}

// Decision is what an error handler chose.
type Decision int

// Decisions.
const (
	Fail Decision = iota
	Skip
	DeadLetter
)

// String names the decision as samsa's error policies do.
func (d Decision) String() string {
	switch d {
	case Fail:
		return "fail"
	case Skip:
		return "skip"
	case DeadLetter:
		return "dead-letter"
	}
	return "unknown"
}

// NewTask builds the instances of a sub-topology for one partition.
func NewTask(g *Graph, sub *Subtopology, partition int32, cfg TaskConfig) (*Task, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	stores := cfg.Stores
	t := &Task{
		ID:        processor.TaskID{Subtopology: sub.ID, Partition: partition},
		AppID:     cfg.AppID,
		Now:       cfg.Now,
		out:       cfg.Output,
		onError:   cfg.OnError,
		dlq:       cfg.DeadLetterTopic,
		poisoned:  cfg.Poisoned,
		onHandled: cfg.OnHandled,

		processLatency:   cfg.ProcessLatency,
		punctuateLatency: cfg.PunctuateLatency,
		onDrop:           cfg.OnDrop,
		cache:            cfg.Cache,
		inst:             make(map[string]Instance, len(sub.Nodes)),
		order:            sub.Nodes,
		sources:          map[string]sourceInstance{},
		byTopic:          map[string]*queue{},
		stores:           map[string]RawStore{},
		typed:            map[string]processor.StateStore{},
		globals:          map[string]processor.StateStore{},
		g:                g,
	}
	for _, n := range sub.Nodes {
		t.inst[n.Name] = n.Make()
	}
	for _, n := range sub.Nodes {
		for _, c := range n.Children {
			if err := t.inst[n.Name].AddChild(c, t.inst[c]); err != nil {
				return nil, fmt.Errorf("topology: node %q %w", n.Name, err)
			}
		}
		if n.Kind == KindSource {
			si, ok := t.inst[n.Name].(sourceInstance)
			if !ok {
				return nil, fmt.Errorf("engine: source %q has no source instance", n.Name)
			}
			for _, topic := range n.Topics {
				t.sources[topic] = si
				q := &queue{topic: topic, next: -1, committed: -1}
				t.queues = append(t.queues, q)
				t.byTopic[topic] = q
			}
		}
	}
	for _, name := range sub.Stores {
		def := g.Stores[name]
		s, err := stores.Open(t.ID, def)
		if err != nil {
			t.closeStores()
			return nil, fmt.Errorf("task %s: store %q: %w", t.ID, name, err)
		}
		t.stores[name] = s.Raw
		t.typed[name] = def.Wrap(s)
	}
	for _, n := range sub.Nodes {
		for _, name := range n.Globals {
			s, ok := cfg.Globals[name]
			if !ok {
				t.closeStores()
				return nil, fmt.Errorf("task %s: global store %q is not available", t.ID, name)
			}
			t.globals[name] = s
		}
	}
	for i := len(sub.Nodes) - 1; i >= 0; i-- {
		n := sub.Nodes[i]
		if err := t.inst[n.Name].Init(t, n); err != nil {
			t.closeStores()
			return nil, fmt.Errorf("task %s: %w", t.ID, err)
		}
	}
	t.saveTime()
	return t, nil
}

// Add queues an input record for processing. A transaction marker (a
// control record, which a read_committed consumer may keep) is not
// processed: the offset to commit moves past it once the records before it
// are processed, as the consumer's position does.
func (t *Task) Add(r *kgo.Record) {
	q := t.byTopic[r.Topic]
	if r.Attrs.IsControl() {
		if q.head == len(q.recs) {
			if r.Offset+1 > q.next {
				q.next, q.epoch = r.Offset+1, r.LeaderEpoch
			}
			return
		}
		q.after, q.afterEpoch = r.Offset+1, r.LeaderEpoch
		return
	}
	q.recs = append(q.recs, r)
}

// next returns the queue whose head record has the lowest timestamp.
func (t *Task) next() *queue {
	var best *queue
	for _, q := range t.queues {
		if q.head == len(q.recs) {
			continue
		}
		if best == nil || q.recs[q.head].Timestamp.Before(best.recs[best.head].Timestamp) {
			best = q
		}
	}
	return best
}

// Process processes up to max queued records, lowest timestamp first across
// the task's input partitions, and returns how many it processed. After a
// fatal error it stops; Err returns the error.
func (t *Task) Process(max int) int {
	n := 0
	for n < max && t.err == nil {
		q := t.next()
		if q == nil || !t.mayProcess() {
			break
		}
		r := q.recs[q.head]
		q.recs[q.head] = nil
		q.head++
		if q.head == len(q.recs) {
			q.recs, q.head = q.recs[:0], 0
		}
		t.current, t.handled = r, false
		var began time.Time
		sample := t.processLatency != nil && t.processed&(LatencySampleEvery-1) == 0
		if sample {
			began = time.Now()
		}
		if err, bad := t.isPoisoned(r); bad {
			t.handle(ErrorProduction, err)
		} else {
			t.sources[r.Topic].consume(r)
		}
		if sample {
			t.processLatency(time.Since(began))
		}
		t.current = nil
		if t.err != nil {
			break
		}
		q.next, q.epoch = r.Offset+1, r.LeaderEpoch
		if len(q.recs) == 0 && q.after > 0 {
			if q.after > q.next {
				q.next, q.epoch = q.after, q.afterEpoch // the marker behind it
			}
			q.after = 0
		}
		t.processed++
		n++
		t.punctuateStream()
	}
	return n
}

// SetInputGate sets the function that Process asks, before each record of a
// task with several input topics, about each input whose queue is empty:
// true lets the task process the others without it, false makes Process
// stop until it is called again (the runtime's MaxTaskIdle). A task with
// one input never asks. nil processes without waiting.
func (t *Task) SetInputGate(gate func(topic string) bool) { t.gate = gate }

// mayProcess reports whether the gate lets the task process with the
// input queues it has empty.
func (t *Task) mayProcess() bool {
	if t.gate == nil || len(t.queues) < 2 {
		return true
	}
	for _, q := range t.queues {
		if q.head == len(q.recs) && !t.gate(q.topic) {
			return false
		}
	}
	return true
}

// Inputs returns the task's input topics, in the order of its sources.
func (t *Task) Inputs() []string {
	topics := make([]string, len(t.queues))
	for i, q := range t.queues {
		topics[i] = q.topic
	}
	return topics
}

func (t *Task) isPoisoned(r *kgo.Record) (error, bool) {
	if t.poisoned == nil {
		return nil, false
	}
	return t.poisoned(r)
}

// Processed returns the number of records processed over the task's life.
func (t *Task) Processed() int64 { return t.processed }

// Err returns the fatal error that stopped the task, if any.
func (t *Task) Err() error { return t.err }

// Current returns the input record being processed, or nil.
func (t *Task) Current() *kgo.Record { return t.current }

// CommitRequested reports and clears a processor's request to commit.
func (t *Task) CommitRequested() bool {
	r := t.commitRequested
	t.commitRequested = false
	return r
}

// Offsets returns the next offsets to commit for the input partitions that
// advanced since the last MarkCommitted.
func (t *Task) Offsets() map[string]kgo.EpochOffset {
	var m map[string]kgo.EpochOffset
	for _, q := range t.queues {
		if q.next >= 0 && q.next != q.committed {
			if m == nil {
				m = make(map[string]kgo.EpochOffset, len(t.queues))
			}
			m[q.topic] = kgo.EpochOffset{Epoch: q.epoch, Offset: q.next}
		}
	}
	return m
}

// Unprocessed returns, for each input topic with records queued and not
// processed yet (held by the input gate, or not reached), the offset of the
// first of them: where the consumer must go back to if they are dropped.
func (t *Task) Unprocessed() map[string]kgo.EpochOffset {
	var m map[string]kgo.EpochOffset
	for _, q := range t.queues {
		if q.head == len(q.recs) {
			continue
		}
		if m == nil {
			m = make(map[string]kgo.EpochOffset, len(t.queues))
		}
		r := q.recs[q.head]
		m[q.topic] = kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset}
	}
	return m
}

// DropUnprocessed forgets the records queued and not processed, and the
// transaction markers polled behind them, once the consumer was moved back
// to the offsets Unprocessed returned: they are fetched again. What was
// processed stays, to be committed.
func (t *Task) DropUnprocessed() {
	for _, q := range t.queues {
		for i := q.head; i < len(q.recs); i++ {
			q.recs[i] = nil
		}
		q.recs, q.head, q.after = q.recs[:0], 0, 0
	}
}

// MarkOffsetsCommitted records that the offsets returned by Offsets are
// committed, together with the stream time and the punctuation schedules
// that Abort goes back to, when the caller commits the stores itself (all
// stores of an instance in one synced batch).
func (t *Task) MarkOffsetsCommitted() {
	for _, q := range t.queues {
		if q.next >= 0 {
			q.committed = q.next
		}
	}
	t.saveTime()
}

// MarkCommitted records that the offsets returned by Offsets are committed,
// together with the stream time and the punctuation schedules that Abort
// goes back to, and flushes the stores.
func (t *Task) MarkCommitted() error {
	t.MarkOffsetsCommitted()
	for name, s := range t.stores {
		if err := s.Flush(); err != nil {
			return fmt.Errorf("task %s: flush store %q: %w", t.ID, name, err)
		}
	}
	return nil
}

// Abort drops the stores' uncommitted writes and forgets the offsets
// processed since the last commit: the consumer rewinds to the committed
// offsets and the records are processed again. Stream time and the
// punctuation schedules go back to the last commit too, so that the
// records processed again see the same stream time and fire the same
// punctuations as the first time.
func (t *Task) Abort() {
	t.restoreTime()
	for _, q := range t.queues {
		q.next, q.after = q.committed, 0
		for i := q.head; i < len(q.recs); i++ {
			q.recs[i] = nil
		}
		q.recs, q.head = q.recs[:0], 0
	}
	for _, s := range t.stores {
		s.Abort()
	}
}

// RawStores returns the task's stores by name, for the runtime's restore
// and commit bookkeeping.
func (t *Task) RawStores() map[string]RawStore { return t.stores }

// Close closes the node instances and stores.
func (t *Task) Close() error {
	var errs []error
	for _, n := range t.order {
		if err := t.inst[n.Name].Close(); err != nil {
			errs = append(errs, fmt.Errorf("task %s: close %q: %w", t.ID, n.Name, err))
		}
	}
	errs = append(errs, t.closeStores())
	return errors.Join(errs...)
}

func (t *Task) closeStores() error {
	var errs []error
	for name, s := range t.stores {
		if err := s.Close(); err != nil {
			errs = append(errs, fmt.Errorf("task %s: close store %q: %w", t.ID, name, err))
		}
	}
	return errors.Join(errs...)
}

// StreamTime returns the highest event time seen by the task.
func (t *Task) StreamTime() time.Time { return t.streamTime }

// saveTime records the stream time and every punctuator's schedule as
// committed.
func (t *Task) saveTime() {
	t.committedTime, t.committedHasTime = t.streamTime, t.hasTime
	t.committedWatermark = t.watermark
	for _, q := range t.queues {
		q.committedTime, q.committedHasTime = q.time, q.hasTime
	}
	for _, p := range t.puncts {
		p.savedNext, p.savedArmed, p.saved = p.next, p.armed, true
	}
}

// restoreTime goes back to the stream time and schedules of saveTime. A
// stream-time punctuator scheduled since then is armed as if it had been
// scheduled at the committed stream time; a wall-clock one keeps its
// schedule, the wall clock does not go back.
func (t *Task) restoreTime() {
	t.streamTime, t.hasTime = t.committedTime, t.committedHasTime
	t.watermark = t.committedWatermark
	for _, q := range t.queues {
		q.time, q.hasTime = q.committedTime, q.committedHasTime
	}
	for _, p := range t.puncts {
		switch {
		case p.saved:
			p.next, p.armed = p.savedNext, p.savedArmed
		case p.typ == processor.StreamTime:
			p.next, p.armed = time.Time{}, false
			if t.hasTime {
				p.next, p.armed = t.streamTime.Add(p.interval), true
			}
		}
	}
}

func (t *Task) observe(topic string, ts time.Time) {
	if !t.hasTime || ts.After(t.streamTime) {
		t.streamTime, t.hasTime = ts, true
	}
	if q := t.byTopic[topic]; q != nil && (!q.hasTime || ts.After(q.time)) {
		q.time, q.hasTime = ts, true
	}
}

// Watermark returns the event time that every input of the task that has
// records waiting has reached, never moving backwards: the lowest
// partition time (the highest event time processed from the partition,
// or the time of its first record waiting) among the input partitions
// with records buffered; an input with none is idle (under MaxTaskIdle the
// task processes without it only once it is caught up or waited for) and
// does not hold the watermark back. With no input buffered it is the
// stream time. The zero time before any input.
func (t *Task) Watermark() time.Time {
	var wm time.Time
	found := false
	for _, q := range t.queues {
		if q.head == len(q.recs) {
			continue
		}
		pt := q.time
		if !q.hasTime {
			pt = q.recs[q.head].Timestamp
		}
		if !found || pt.Before(wm) {
			wm, found = pt, true
		}
	}
	if !found {
		wm = t.streamTime
	}
	if wm.After(t.watermark) {
		t.watermark = wm
	}
	return t.watermark
}

func (t *Task) fail(err error) {
	if t.err == nil {
		t.err = err
	}
}

func (t *Task) deserializationError(r *kgo.Record, what string, err error) {
	if errors.Is(err, serde.ErrUnavailable) {
		// Still down after the retries: the record is fine, so never
		// skip or dead-letter it; stop, and process it again on restart.
		t.fail(fmt.Errorf("task %s: %s of record at topic %q partition %d offset %d: %w", t.ID, what, r.Topic, r.Partition, r.Offset, err))
		return
	}
	t.handle(ErrorDeserialization, fmt.Errorf("task %s: %w: %s of record at topic %q partition %d offset %d: %w", t.ID, ErrDeserialization, what, r.Topic, r.Partition, r.Offset, err))
}

func (t *Task) processingError(node string, err error) {
	if errors.Is(err, serde.ErrUnavailable) {
		t.fail(fmt.Errorf("task %s: node %q: %w", t.ID, node, err))
		return
	}
	flush := ""
	if t.flushing {
		flush = " (record cache flush)"
	}
	if r := t.current; r != nil {
		t.handle(ErrorProcessing, fmt.Errorf("task %s: %w: node %q%s on record at topic %q partition %d offset %d: %w", t.ID, ErrProcessing, node, flush, r.Topic, r.Partition, r.Offset, err))
		return
	}
	if t.flushing {
		t.handle(ErrorProcessing, fmt.Errorf("task %s: %w: node %q in a record cache flush: %w", t.ID, ErrProcessing, node, err))
		return
	}
	if p := t.punct; p != nil && p.node != node {
		t.handle(ErrorProcessing, fmt.Errorf("task %s: %w: node %q in a punctuation of node %q: %w", t.ID, ErrProcessing, node, p.node, err))
		return
	}
	t.handle(ErrorProcessing, fmt.Errorf("task %s: %w: node %q in a punctuator: %w", t.ID, ErrProcessing, node, err))
}

// handle applies the error policy once per record or punctuation: fail the
// task, or skip (counted), or send the input record's original bytes to
// the dead-letter topic. A punctuation has no input record: under
// DeadLetter it is counted as skipped. Further errors of a record or
// punctuation already decided (another node failing on it) are only logged.
func (t *Task) handle(kind ErrorKind, err error) {
	if t.handled {
		slog.Warn("samsa: another error on a record or punctuation the error policy already handled", "task", t.ID.String(), "kind", kind.String(), "err", err)
		return
	}
	t.handled = true
	d := Fail
	if t.onError != nil {
		d = t.onError(kind, err)
	}
	switch {
	case d == Fail:
		t.fail(err)
		return
	case d == DeadLetter && t.current != nil && t.dlq != "":
		t.out.Produce(t.dlq, -1, t.current.Key, t.current.Value, t.current.Timestamp, DeadLetterHeaders(t.current, kind, err, t.AppID, t.ID.String(), t.Now()), nil)
		t.deadLettered++
	default:
		d = Skip // a punctuation has no input record to dead-letter
		t.skipped++
	}
	if t.onHandled != nil {
		t.onHandled(kind, d, err)
	}
}

// Skipped and DeadLettered count the records the error policy skipped or
// sent to the dead-letter topic.
func (t *Task) Skipped() int64 { return t.skipped }

// DeadLettered counts the records sent to the dead-letter topic.
func (t *Task) DeadLettered() int64 { return t.deadLettered }

// Dropped counts the records that operators dropped by design, not by
// error: records with a null key or value reaching an aggregation, which
// Kafka Streams drops too (its dropped-records metric).
func (t *Task) Dropped() int64 { return t.dropped }

// drop counts a record an operator dropped by design and logs it at debug
// level with where it came from.
func (t *Task) drop(node, reason, detail string) {
	t.dropped++
	if t.onDrop != nil {
		t.onDrop(node, reason)
	}
	if !slog.Default().Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	args := []any{"task", t.ID.String(), "node", node, "reason", reason}
	if detail != "" {
		args = append(args, "detail", detail)
	}
	if r := t.current; r != nil {
		args = append(args, "topic", r.Topic, "partition", r.Partition, "offset", r.Offset)
	}
	slog.Debug("samsa: record dropped", args...)
}

// divert writes the record being processed to topic: its own headers,
// then extra, then where it came from.
func (t *Task) divert(topic string, extra []processor.Header) {
	r := t.current
	if r == nil {
		return
	}
	hs := append(make([]processor.Header, 0, len(r.Headers)+len(extra)+5), FromKafkaHeaders(r.Headers)...)
	hs = append(hs, extra...)
	hs = append(hs,
		processor.Header{Key: HeaderSourceTopic, Value: []byte(r.Topic)},
		processor.Header{Key: HeaderSourcePartition, Value: []byte(strconv.Itoa(int(r.Partition)))},
		processor.Header{Key: HeaderSourceOffset, Value: []byte(strconv.FormatInt(r.Offset, 10))},
		processor.Header{Key: HeaderApplicationID, Value: []byte(t.AppID)},
		processor.Header{Key: HeaderTask, Value: []byte(t.ID.String())},
	)
	t.out.Produce(topic, -1, r.Key, r.Value, r.Timestamp, hs, r)
}

// Dead-letter headers.
const (
	HeaderErrorMessage    = "samsa.error.message"
	HeaderErrorKind       = "samsa.error.kind"
	HeaderSourceTopic     = "samsa.source.topic"
	HeaderSourcePartition = "samsa.source.partition"
	HeaderSourceOffset    = "samsa.source.offset"
	HeaderApplicationID   = "samsa.application.id"
	HeaderTask            = "samsa.task"
	HeaderTimestamp       = "samsa.error.timestamp"
)

// DeadLetterHeaders returns the input record's headers followed by the
// headers that say why and where it failed.
func DeadLetterHeaders(r *kgo.Record, kind ErrorKind, err error, appID, task string, now time.Time) []processor.Header {
	hs := append(make([]processor.Header, 0, len(r.Headers)+8), FromKafkaHeaders(r.Headers)...)
	return append(hs,
		processor.Header{Key: HeaderErrorMessage, Value: []byte(err.Error())},
		processor.Header{Key: HeaderErrorKind, Value: []byte(kind.String())},
		processor.Header{Key: HeaderSourceTopic, Value: []byte(r.Topic)},
		processor.Header{Key: HeaderSourcePartition, Value: []byte(strconv.Itoa(int(r.Partition)))},
		processor.Header{Key: HeaderSourceOffset, Value: []byte(strconv.FormatInt(r.Offset, 10))},
		processor.Header{Key: HeaderApplicationID, Value: []byte(appID)},
		processor.Header{Key: HeaderTask, Value: []byte(task)},
		processor.Header{Key: HeaderTimestamp, Value: []byte(strconv.FormatInt(now.UnixMilli(), 10))},
	)
}

func (t *Task) stateStore(n *Node, name string) (processor.StateStore, error) {
	if slices.Contains(n.Globals, name) {
		return t.globals[name], nil
	}
	if !slices.Contains(n.Stores, name) {
		return nil, fmt.Errorf("%w: store %q, processor %q", processor.ErrStoreNotConnected, name, n.Name)
	}
	s, ok := t.typed[name]
	if !ok {
		return nil, fmt.Errorf("task %s: store %q is not available", t.ID, name)
	}
	return s, nil
}

// Store returns the typed store with the given name, for inspection by tests.
func (t *Task) Store(name string) (processor.StateStore, bool) {
	s, ok := t.typed[name]
	return s, ok
}

type punctuator struct {
	t         *Task
	node      string
	interval  time.Duration
	typ       processor.PunctuationType
	fn        func(time.Time) error
	next      time.Time
	armed     bool
	cancelled bool
	// the schedule at the last commit, when saved
	savedNext  time.Time
	savedArmed bool
	saved      bool
}

func (p *punctuator) Cancel() { p.cancelled = true }

func (t *Task) schedule(node string, interval time.Duration, typ processor.PunctuationType, fn func(time.Time) error) processor.Cancellable {
	if interval <= 0 {
		interval = time.Millisecond
	}
	p := &punctuator{t: t, node: node, interval: interval, typ: typ, fn: fn}
	switch typ {
	case processor.WallClockTime:
		p.next, p.armed = t.Now().Add(interval), true
	default:
		if t.hasTime {
			p.next, p.armed = t.streamTime.Add(interval), true
		}
	}
	t.puncts = append(t.puncts, p)
	return p
}

func (t *Task) punctuateStream() {
	if len(t.puncts) == 0 || !t.hasTime {
		return
	}
	t.fire(processor.StreamTime, t.streamTime)
}

// PunctuateWallClock fires the wall-clock punctuators that are due.
func (t *Task) PunctuateWallClock() {
	if len(t.puncts) == 0 || t.err != nil {
		return
	}
	t.fire(processor.WallClockTime, t.Now())
}

// NextWallClock returns when the next wall-clock punctuator is due.
func (t *Task) NextWallClock() (time.Time, bool) {
	var next time.Time
	ok := false
	for _, p := range t.puncts {
		if p.typ == processor.WallClockTime && !p.cancelled && (!ok || p.next.Before(next)) {
			next, ok = p.next, true
		}
	}
	return next, ok
}

func (t *Task) fire(typ processor.PunctuationType, now time.Time) {
	live := t.puncts[:0]
	for _, p := range t.puncts {
		if !p.cancelled {
			live = append(live, p)
		}
	}
	t.puncts = live
	for _, p := range slices.Clone(t.puncts) {
		if p.typ != typ || p.cancelled || t.err != nil {
			continue
		}
		if !p.armed {
			p.next, p.armed = now.Add(p.interval), true
			continue
		}
		if now.Before(p.next) {
			continue
		}
		// Due: move to the next due time first, so that a failing
		// punctuation that the error policy skips keeps its schedule.
		p.advance(now)
		t.punct, t.handled = p, false
		var began time.Time
		if t.punctuateLatency != nil {
			began = time.Now()
		}
		if err := p.fn(now); err != nil {
			t.processingError(p.node, err)
		}
		if t.punctuateLatency != nil {
			t.punctuateLatency(time.Since(began))
		}
		t.punct = nil
	}
}

// advance moves the next due time to the first multiple of the interval
// after now, counted from the current due time (as Kafka Streams'
// PunctuationSchedule.next): a punctuation fires once however many
// intervals it missed. It computes the multiple instead of stepping one
// interval at a time, so that a jump of years at a millisecond interval
// costs nothing; only a gap beyond time.Duration's range (292 years) takes
// more than one step.
func (p *punctuator) advance(now time.Time) {
	maxSteps := time.Duration(math.MaxInt64) / p.interval
	for !p.next.After(now) {
		steps := now.Sub(p.next)/p.interval + 1 // Sub saturates at the maximum Duration
		p.next = p.next.Add(min(steps, maxSteps) * p.interval)
	}
}
