package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa/exactlyonce"
	"github.com/samsa-streams/samsa/internal/engine"
	"github.com/samsa-streams/samsa/internal/metrics"
	"github.com/samsa-streams/samsa/processor"
)

// output is the engine.Output of a running App: the franz-go producer and
// the record collector. A promise never blocks and never produces: it only
// records a rejected record with its origin under a mutex. The commit path
// (App.settleProduction, after the flush) retries records rejected in a
// too-large batch alone, applies the production error policy, produces the
// dead letters and checks them, all before any offset is committed.
type output struct {
	// Set when Run starts (cl by startClient, under App.mu), read-only
	// otherwise: the client, the production error policy, the
	// dead-letter topic and the App's counters.
	cl           *kgo.Client
	guarantee    string // its name, for errors
	bootstrap    []string
	policy       Policies
	dlq          string
	appID        string
	log          *slog.Logger
	skipped      *atomic.Int64 // the App's counters
	deadLettered *atomic.Int64
	metrics      *metrics.Metrics
	rr           atomic.Int32

	// Owned by the goroutine that holds App.mu (the poll loop, or a group
	// callback while the loop is blocked): the promise never reads them.
	//
	// app finds the input record behind a changelog write; the commit
	// path sets it. done is onDone, made once (a method value allocates).
	// poison holds the input records whose outputs the broker rejected in
	// a rolled-back attempt: when the task meets one again, its outputs
	// are dropped and the policy applies to it instead (see poisoned).
	// clPoison holds rejected changelog writes whose input record is not
	// known yet: it is found when the same write comes again.
	app      *App
	done     func(*kgo.Record, error)
	poison   map[originKey]*poisoned
	clPoison []changelogPoison
	// rollbacks counts the attempts in a row rolled back for rejections.
	rollbacks int

	mu       sync.Mutex // guards the fields below, shared with the promise goroutine
	parts    map[string]int32
	firstErr error     // fatal at once: fenced, or an unknown output topic
	failed   []failure // records the broker rejected since the last settle
}

// recKind says what a produced record is, for the decision on its rejection.
type recKind uint8

const (
	kindOutput     recKind = iota // a sink's record
	kindChangelog                 // a store write appended to its changelog
	kindDeadLetter                // an input record sent to the dead-letter topic
)

// tracked is a produced record together with what the commit path needs
// if the broker rejects it, in one allocation: the record's Context points
// at ctx, so the promise finds the origin without a closure per record.
type tracked struct {
	rec kgo.Record
	ctx recCtx
}

// recCtx is the Context of a tracked record. The embedded Background has
// no Done channel: franz-go never cancels the record for it.
type recCtx struct {
	context.Context
	origin *kgo.Record // the input record processed (nil in a punctuator and for changelog writes)
	kind   recKind
	ack    func(int64) // changelog writes: the store's offset acknowledgement
}

// failure is a record the broker rejected.
type failure struct {
	rec *kgo.Record
	tc  *recCtx // nil for a record produced without tracking
	err error
}

// originKey names an input record.
type originKey struct {
	topic     string
	partition int32
	offset    int64
}

func keyOf(r *kgo.Record) originKey { return originKey{r.Topic, r.Partition, r.Offset} }

// poisoned is an input record one of whose outputs the broker rejected.
type poisoned struct {
	err     error  // the rejection, naming the record written and the input record
	task    string // <sub-topology>_<partition>
	applied bool   // skipped or dead-lettered in the current attempt
	// topic is the output topic that rejected the record: only the input
	// record's outputs to it are dropped when it is processed again, as
	// Kafka Streams' production handler drops the failed record only.
	// Empty for a rejected changelog write: the whole input record is
	// handed to the policy (its store write cannot be logged).
	topic string
}

// changelogPoison is a rejected changelog write.
type changelogPoison struct {
	topic     string
	partition int32
	key       []byte
	value     []byte
	err       error
}

// Produce implements engine.Output.
func (o *output) Produce(topic string, partition int32, key, value []byte, ts time.Time, headers []processor.Header, origin *kgo.Record) {
	if len(o.poison) > 0 && origin != nil {
		if p := o.poison[keyOf(origin)]; p != nil && (p.topic == "" || p.topic == topic) {
			o.divert(p, origin)
			return
		}
	}
	o.send(topic, partition, key, value, ts, headers, kindOutput, origin)
}

// send produces a tracked record.
func (o *output) send(topic string, partition int32, key, value []byte, ts time.Time, headers []processor.Header, kind recKind, origin *kgo.Record) {
	if partition < 0 {
		n, err := o.Partitions(topic)
		if err != nil {
			o.fail(topic, -1, err)
			return
		}
		if key != nil {
			partition = engine.KeyPartition(key, n)
		} else {
			partition = (o.rr.Add(1) & 0x7fffffff) % n
		}
	}
	tr := &tracked{
		rec: kgo.Record{Topic: topic, Partition: partition, Key: key, Value: value, Timestamp: ts},
		ctx: recCtx{Context: context.Background(), origin: origin, kind: kind},
	}
	tr.rec.Context = &tr.ctx
	tr.rec.Headers = engine.ToKafkaHeaders(headers)
	o.cl.Produce(context.Background(), &tr.rec, o.promise())
}

// produceAck produces a changelog record and reports its offset to ack once
// the broker acknowledged it.
func (o *output) produceAck(topic string, partition int32, key, value []byte, ack func(int64)) {
	if (len(o.poison) > 0 || len(o.clPoison) > 0) && o.divertChangelog(topic, partition, key, value) {
		return
	}
	tr := &tracked{
		rec: kgo.Record{Topic: topic, Partition: partition, Key: key, Value: value},
		ctx: recCtx{Context: context.Background(), kind: kindChangelog, ack: ack},
	}
	tr.rec.Context = &tr.ctx
	o.cl.Produce(context.Background(), &tr.rec, o.promise())
}

// promise returns the one promise of every produced record.
func (o *output) promise() func(*kgo.Record, error) {
	if o.done == nil {
		o.done = o.onDone
	}
	return o.done
}

// onDone is the promise: it acknowledges changelog offsets and records
// rejections. It blocks on nothing but o.mu and never produces.
func (o *output) onDone(r *kgo.Record, err error) {
	tc, _ := r.Context.(*recCtx)
	if err == nil {
		if tc != nil && tc.ack != nil {
			tc.ack(r.Offset)
		}
		return
	}
	o.mu.Lock()
	if o.firstErr == nil && fenced(err) {
		// A newer producer with our transactional id, or the group,
		// fenced this one: what it wrote is aborted; rebuild.
		o.firstErr = fmt.Errorf("%s: %w: fenced: produce to topic %q partition %d: %w", exactlyonce.NameExactlyOnce, exactlyonce.ErrUnknownOutcome, r.Topic, r.Partition, err)
	}
	o.failed = append(o.failed, failure{rec: r, tc: tc, err: err})
	o.mu.Unlock()
}

// fail records an error that stops the app at once.
func (o *output) fail(topic string, partition int32, err error) {
	o.mu.Lock()
	if o.firstErr == nil {
		o.firstErr = fmt.Errorf("samsa: produce to topic %q partition %d: %w", topic, partition, err)
	}
	o.mu.Unlock()
}

// take returns and forgets the rejections recorded so far.
func (o *output) take() []failure {
	o.mu.Lock()
	fs := o.failed
	o.failed = nil
	o.mu.Unlock()
	return fs
}

// rejected returns every record the broker rejected since the last call;
// call it after a flush. A batch over the topic's size limit is rejected
// whole, with every record buffered behind it in its partition, so a record
// rejected as too large is first sent again in a batch of its own (one
// record per partition per round, then a flush): its innocent neighbours
// get through and only a record too large by itself is returned. The
// retried records may land after records produced later.
func (o *output) rejected(ctx context.Context) ([]failure, error) {
	var final, retry []failure
	for _, f := range o.take() {
		if f.tc != nil && tooLarge(f.err) {
			retry = append(retry, f)
		} else {
			final = append(final, f)
		}
	}
	type tp struct {
		topic     string
		partition int32
	}
	for len(retry) > 0 {
		seen := map[tp]bool{}
		var rest []failure
		for _, f := range retry {
			k := tp{f.rec.Topic, f.rec.Partition}
			if seen[k] {
				rest = append(rest, f)
				continue
			}
			seen[k] = true
			o.cl.Produce(ctx, f.rec, o.promise())
		}
		if err := o.cl.Flush(ctx); err != nil {
			return nil, fmt.Errorf("%s: %w: flush producer: %w", o.guarantee, exactlyonce.ErrCommitFailed, err)
		}
		final = append(final, o.take()...)
		retry = rest
	}
	return final, nil
}

func tooLarge(err error) bool {
	return errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge)
}

// divert drops an output of a poisoned input record and, the first time in
// this attempt, applies the production policy to the input record.
func (o *output) divert(p *poisoned, origin *kgo.Record) {
	if p.applied {
		return
	}
	p.applied = true
	switch o.policy.Production {
	case engine.Skip:
		o.skipped.Add(1)
		o.metrics.Skip(engine.ErrorProduction.String())
		o.log.Warn("skipping an input record whose output the broker rejected", "err", p.err)
	case engine.DeadLetter:
		o.deadLettered.Add(1)
		o.metrics.DeadLetter(engine.ErrorProduction.String())
		o.log.Warn("dead-lettering an input record whose output the broker rejected", "topic", o.dlq, "err", p.err)
		o.send(o.dlq, -1, origin.Key, origin.Value, origin.Timestamp,
			engine.DeadLetterHeaders(origin, engine.ErrorProduction, p.err, o.appID, p.task, time.Now()), kindDeadLetter, origin)
	}
}

// divertChangelog reports whether a changelog write belongs to a poisoned
// input record (then dropped, the policy applied to the input record). A
// write equal to a rejected one poisons the input record being processed.
func (o *output) divertChangelog(topic string, partition int32, key, value []byte) bool {
	if o.app == nil {
		return false
	}
	origin, task := o.app.inputOf(topic, partition)
	if origin == nil {
		return false // a punctuator's write: no input record to skip
	}
	k := keyOf(origin)
	if p := o.poison[k]; p != nil {
		o.divert(p, origin)
		return true
	}
	for i, c := range o.clPoison {
		if c.topic != topic || c.partition != partition || !bytes.Equal(c.key, key) || !bytes.Equal(c.value, value) {
			continue
		}
		o.clPoison = slices.Delete(o.clPoison, i, i+1)
		p := &poisoned{task: task, err: fmt.Errorf("%w for the record at topic %q partition %d offset %d", c.err, origin.Topic, origin.Partition, origin.Offset)}
		if o.poison == nil {
			o.poison = map[originKey]*poisoned{}
		}
		o.poison[k] = p
		o.divert(p, origin)
		return true
	}
	return false
}

// poisoned reports whether the input record r had an output rejected in an
// attempt that was rolled back, and the error to hand to the production
// policy. It is the hook for the task: a task that consults it before
// processing r (and, when it reports true, applies the policy to r with
// engine.ErrorProduction instead of processing it) also drops r's store
// writes; without it, Produce and produceAck drop r's records but r's
// writes stay in the store's buffer.
//
// Only a record whose changelog write was rejected is taken out whole; one
// whose output was rejected is processed, and only that output dropped.
func (o *output) poisoned(r *kgo.Record) (error, bool) {
	p := o.poison[keyOf(r)]
	if p == nil || p.topic != "" {
		return nil, false
	}
	p.applied = true
	return p.err, true
}

// rollback forgets the rejections and the fatal error of an attempt that
// was rolled back; the policy decisions of that attempt are undone (their
// dead letters were aborted with it) and made again when the records come
// back.
func (o *output) rollback() {
	o.mu.Lock()
	o.firstErr = nil
	o.failed = nil
	o.mu.Unlock()
	for _, p := range o.poison {
		if !p.applied {
			continue
		}
		p.applied = false
		switch o.policy.Production {
		case engine.Skip:
			o.skipped.Add(-1)
		case engine.DeadLetter:
			o.deadLettered.Add(-1)
		}
	}
}

// committed forgets the poisoned records whose policy was committed.
func (o *output) committed() {
	for k, p := range o.poison {
		if p.applied {
			delete(o.poison, k)
		}
	}
}

// close releases nothing: retries use the App's own producer.
func (o *output) close() {}

// reset forgets a produce error after the transaction that saw it aborted.
func (o *output) reset() { o.rollback() }

func (o *output) err() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.firstErr
}

// Partitions returns the partition count of an output topic; topics chosen
// per record are looked up once.
func (o *output) Partitions(topic string) (int32, error) {
	o.mu.Lock()
	n, ok := o.parts[topic]
	o.mu.Unlock()
	if ok {
		return n, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	td, err := kadm.NewClient(o.cl).ListTopics(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("look up topic %q: %w", topic, err)
	}
	d, ok := td[topic]
	if !ok || d.Err != nil {
		return 0, fmt.Errorf("%w: output topic %q does not exist", ErrMissingTopic, topic)
	}
	n = int32(len(d.Partitions))
	o.mu.Lock()
	o.parts[topic] = n
	o.mu.Unlock()
	return n, nil
}

// fenced reports whether a produce error means this transactional producer
// was fenced or its transaction can no longer commit.
func fenced(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) ||
		errors.Is(err, kerr.TransactionAbortable) || errors.Is(err, kerr.InvalidTxnState)
}

// maxPoisonRollbacks bounds the attempts in a row that end rolled back
// because a record was rejected: the records are poisoned after the first,
// so a later one means the policy cannot take effect.
const maxPoisonRollbacks = 3

// settleProduction runs at every commit, after processing and before any
// offset is committed: it flushes the producer, learns the outcome of every
// record produced since the last commit and decides each rejection by the
// production error policy. It reports rolledBack when the attempt was
// rolled back (the transaction aborted, or under at-least-once the consumer
// rewound to the committed offsets) to be processed again with the
// rejected input records poisoned; the caller then commits nothing. An
// error means nothing may be committed either.
func (a *App) settleProduction(ctx context.Context, offsets exactlyonce.Offsets) (rolledBack bool, err error) {
	o := a.out
	o.app = a
	if err := a.cl.Flush(ctx); err != nil {
		return false, fmt.Errorf("%s: %w: flush producer: %w", a.proto.Name(), exactlyonce.ErrCommitFailed, err)
	}
	fs, err := o.rejected(ctx)
	if err != nil {
		return false, err
	}
	if len(fs) == 0 {
		a.out.rollbacks = 0
		return false, nil
	}
	var fatal []error
	changelog := false
	for _, f := range fs {
		if err := a.fatalRejection(f); err != nil {
			fatal = append(fatal, err)
		}
		if f.tc != nil && f.tc.kind == kindChangelog {
			changelog = true
		}
	}
	if len(fatal) == 0 && a.out.rollbacks >= maxPoisonRollbacks {
		fatal = append(fatal, fmt.Errorf("%w: still rejected after %d attempts: %w", ErrProduction, a.out.rollbacks, a.describe(fs[0])))
	}
	eos := a.proto.Transactional()
	if len(fatal) > 0 {
		// Nothing past the rejected record may be committed: the
		// transaction is aborted here, at-least-once commits nothing.
		if eos {
			if err := a.proto.Abort(ctx, nil); err != nil {
				fatal = append(fatal, err)
			}
		}
		return false, errors.Join(fatal...)
	}
	if !eos && !changelog {
		// At-least-once: the outputs that got through stay; skip or
		// dead-letter each input record whose output was rejected, then
		// check the dead letters before the offsets are committed.
		seen := map[originKey]bool{}
		for _, f := range fs {
			k := keyOf(f.tc.origin)
			if seen[k] {
				continue
			}
			seen[k] = true
			o.divert(&poisoned{err: a.describe(f), task: a.taskOf(f.tc.origin)}, f.tc.origin)
		}
		if err := a.cl.Flush(ctx); err != nil {
			return false, fmt.Errorf("%s: %w: flush dead letters: %w", a.proto.Name(), exactlyonce.ErrCommitFailed, err)
		}
		again, err := o.rejected(ctx)
		if err != nil {
			return false, err
		}
		for _, f := range again {
			fatal = append(fatal, a.describe(f))
		}
		return false, errors.Join(fatal...)
	}
	// Roll the attempt back and process it again with the rejected input
	// records poisoned: each is processed as before, and only its outputs
	// to the topic that rejected one are dropped (skipped, or the input
	// record dead-lettered once). An input record whose changelog write
	// was rejected is handed to the policy whole, without its store
	// writes, once it is known (the write comes again).
	for _, f := range fs {
		if f.tc.kind == kindChangelog {
			o.clPoison = append(o.clPoison, changelogPoison{topic: f.rec.Topic, partition: f.rec.Partition, key: f.rec.Key, value: f.rec.Value, err: a.describe(f)})
			continue
		}
		if o.poison == nil {
			o.poison = map[originKey]*poisoned{}
		}
		o.poison[keyOf(f.tc.origin)] = &poisoned{err: a.describe(f), task: a.taskOf(f.tc.origin), topic: f.rec.Topic}
	}
	a.out.rollbacks++
	a.log.Warn("the broker rejected records: processing again from the committed offsets with their input records handed to the production policy",
		"rejected", len(fs), "policy", a.cfg.Errors.Production.String(), "first", a.describe(fs[0]))
	if err := a.proto.Abort(ctx, offsets); err != nil {
		return false, err
	}
	a.rollbackTasks()
	return true, nil
}

// fatalRejection returns the error that stops the app for a rejected
// record, or nil when the policy can take it.
func (a *App) fatalRejection(f failure) error {
	switch {
	case fenced(f.err):
		return fmt.Errorf("%s: %w: fenced: %w", exactlyonce.NameExactlyOnce, exactlyonce.ErrUnknownOutcome, a.describe(f))
	case f.tc == nil, a.cfg.Errors.Production == engine.Fail, f.tc.kind == kindDeadLetter:
		return a.describe(f)
	case f.tc.kind == kindOutput && f.tc.origin == nil:
		return a.describe(f) // a punctuator's output: no input record to skip
	case f.tc.kind == kindChangelog:
		for _, c := range a.out.clPoison {
			if c.topic == f.rec.Topic && c.partition == f.rec.Partition && string(c.key) == string(f.rec.Key) && string(c.value) == string(f.rec.Value) {
				return a.describe(f) // rejected again: written outside an input record
			}
		}
	}
	return nil
}

// describe names a rejected record: the topic and partition written, the
// store for a changelog, and the input record it was produced for.
func (a *App) describe(f failure) error {
	r := f.rec
	var what string
	switch {
	case f.tc != nil && f.tc.kind == kindChangelog:
		store := strings.TrimSuffix(strings.TrimPrefix(r.Topic, a.cfg.ApplicationID+"-"), "-changelog")
		what = fmt.Sprintf("write of store %q to changelog topic %q partition %d", store, r.Topic, r.Partition)
	case f.tc != nil && f.tc.kind == kindDeadLetter:
		what = fmt.Sprintf("dead letter to topic %q partition %d", r.Topic, r.Partition)
	default:
		what = fmt.Sprintf("produce to topic %q partition %d", r.Topic, r.Partition)
	}
	switch {
	case f.tc != nil && f.tc.origin != nil:
		in := f.tc.origin
		what += fmt.Sprintf(" for the record at topic %q partition %d offset %d", in.Topic, in.Partition, in.Offset)
	case f.tc != nil && f.tc.kind == kindOutput:
		what += " in a punctuator"
	}
	return fmt.Errorf("%w: %s: %w", ErrProduction, what, f.err)
}

// taskOf names the task that processes an input record.
func (a *App) taskOf(r *kgo.Record) string {
	return processor.TaskID{Subtopology: a.topicSub[r.Topic], Partition: r.Partition}.String()
}

// inputOf returns the input record being processed by the task that writes
// a changelog partition, and the task's name. a.mu must be held.
func (a *App) inputOf(changelog string, partition int32) (*kgo.Record, string) {
	sub, ok := a.changelogSub[changelog]
	if !ok {
		return nil, ""
	}
	id := processor.TaskID{Subtopology: sub, Partition: partition}
	t, ok := a.tasks[id]
	if !ok {
		return nil, ""
	}
	return t.Current(), id.String()
}

// rollbackTasks drops every task's uncommitted work and the collector's
// decisions of the attempt: the records are processed again from the
// committed offsets. a.mu must be held.
func (a *App) rollbackTasks() {
	a.dropQueued()
	a.out.rollback()
	a.lastCmt = time.Now()
}
