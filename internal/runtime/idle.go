package runtime

// This file holds MaxTaskIdle (Kafka Streams' max.task.idle.ms, KIP-695):
// a task with several input partitions processes while one of them has no
// record buffered only once that partition is known to be caught up (its
// position at its last stable offset), and then only after MaxTaskIdle
// more without data. The poll loop asks before each record
// (engine.Task.SetInputGate); a task that waits just does not process: the
// loop keeps polling and the other tasks keep processing.

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa/internal/engine"
)

// lagWaitBound bounds how long, beyond MaxTaskIdle, a task waits for an
// empty input partition that is not known to be caught up: its end offset
// or position is not known yet, or records known to be there are not
// fetched yet. Kafka Streams waits until the lag is known and the records
// fetched, however long; samsa processes anyway after this bound (logged
// at debug), so that a partition the brokers cannot serve does not stop
// the task's other inputs for good.
const lagWaitBound = 10 * time.Second

// idleLookupEvery is the least time between two look-ups of end offsets
// and positions.
const idleLookupEvery = 200 * time.Millisecond

// topicPartition names an input partition.
type topicPartition struct {
	topic     string
	partition int32
}

// inputIdle is what the poll loop knows of one input partition.
type inputIdle struct {
	// pos is the next offset the consumer returns (the offset after the
	// last record or transaction marker fetched, or the committed offset
	// it started from); end is the partition's last stable offset. -1:
	// not known.
	pos, end int64
	// waitSince is when a task began waiting for the partition while it
	// was not known to be caught up; idleSince when it began waiting for
	// it caught up. Zero: not waiting. Both are cleared when a record
	// arrives.
	waitSince, idleSince time.Time
	// enforced is set once a wait ended in enforced processing (and was
	// logged), until a record arrives.
	enforced bool
}

// idleVerdict is what a task does about one of its empty input partitions.
type idleVerdict int

const (
	// idleProcess: the partition is caught up and MaxTaskIdle passed (or
	// is negative): process the others.
	idleProcess idleVerdict = iota
	// idleWait: do not process yet.
	idleWait
	// idleEnforced: the wait is over though the partition may have more
	// records (Kafka Streams' "enforced processing"): process the others.
	idleEnforced
)

// decide returns what a task does at now about the partition, which has no
// record buffered, under maxIdle (MaxTaskIdle), and since when it waits
// (zero when it does not). It starts the partition's waits.
func (p *inputIdle) decide(now time.Time, maxIdle time.Duration) (idleVerdict, time.Time) {
	if maxIdle < 0 {
		return idleProcess, time.Time{}
	}
	if p.pos >= 0 && p.end >= 0 && p.pos >= p.end {
		// Caught up: wait maxIdle for new records.
		if p.idleSince.IsZero() {
			p.idleSince = now
		}
		if now.Before(p.idleSince.Add(maxIdle)) {
			return idleWait, p.idleSince
		}
		if maxIdle > 0 {
			return idleEnforced, p.idleSince
		}
		return idleProcess, time.Time{}
	}
	// Records are known to be there, or the lag is not known: wait for
	// them, up to the bound.
	p.idleSince = time.Time{}
	if p.waitSince.IsZero() {
		p.waitSince = now
	}
	if now.Before(p.waitSince.Add(maxIdle + lagWaitBound)) {
		return idleWait, p.waitSince
	}
	return idleEnforced, p.waitSince
}

// deadline returns when the partition's current wait ends, if it waits.
func (p *inputIdle) deadline(maxIdle time.Duration) (time.Time, bool) {
	switch {
	case maxIdle < 0 || p.enforced:
		return time.Time{}, false
	case !p.idleSince.IsZero():
		return p.idleSince.Add(maxIdle), true
	case !p.waitSince.IsZero():
		return p.waitSince.Add(maxIdle + lagWaitBound), true
	}
	return time.Time{}, false
}

// idleLookup is the result of one look-up: end offsets (last stable) and
// the committed or log-start offsets of the partitions whose position was
// not known.
type idleLookup struct {
	end, pos map[topicPartition]int64
	gen      uint64
}

// idleTracker keeps the positions and end offsets of the input partitions
// of the tasks with several inputs and decides their waits. Its methods are
// called by the poll loop (under App.mu) and by its look-up goroutine.
type idleTracker struct {
	maxIdle time.Duration
	log     *slog.Logger

	mu    sync.Mutex
	parts map[topicPartition]*inputIdle
	// want holds the partitions to look up; looking is set while a
	// look-up goroutine runs; gen counts the rewinds, so that a look-up
	// begun before one does not set positions after it.
	want    map[topicPartition]bool
	looking bool
	gen     uint64
}

func newIdleTracker(maxIdle time.Duration, log *slog.Logger) *idleTracker {
	return &idleTracker{maxIdle: maxIdle, log: log, parts: map[topicPartition]*inputIdle{}, want: map[topicPartition]bool{}}
}

// part returns the partition's state, made on first use. it.mu is held.
func (it *idleTracker) part(tp topicPartition) *inputIdle {
	p := it.parts[tp]
	if p == nil {
		p = &inputIdle{pos: -1, end: -1}
		it.parts[tp] = p
	}
	return p
}

// watch starts tracking a task's input partitions (a task with one input
// is never gated) and asks for their end offsets and positions.
func (it *idleTracker) watch(t *engine.Task) {
	if it.maxIdle < 0 || len(t.Inputs()) < 2 {
		return
	}
	it.mu.Lock()
	defer it.mu.Unlock()
	for _, topic := range t.Inputs() {
		tp := topicPartition{topic, t.ID.Partition}
		it.part(tp)
		it.want[tp] = true
	}
}

// forget stops tracking a task's input partitions.
func (it *idleTracker) forget(t *engine.Task) {
	it.mu.Lock()
	defer it.mu.Unlock()
	for _, topic := range t.Inputs() {
		tp := topicPartition{topic, t.ID.Partition}
		delete(it.parts, tp)
		delete(it.want, tp)
	}
}

// rewind forgets every position: the consumer goes back to the committed
// offsets.
func (it *idleTracker) rewind() {
	it.mu.Lock()
	defer it.mu.Unlock()
	it.gen++
	for tp, p := range it.parts {
		p.pos = -1
		p.waitSince, p.idleSince, p.enforced = time.Time{}, time.Time{}, false
		it.want[tp] = true
	}
}

// rewound notes that the consumer went back to offset on a partition:
// the records from there are fetched again.
func (it *idleTracker) rewound(tp topicPartition, offset int64) {
	it.mu.Lock()
	defer it.mu.Unlock()
	if p := it.parts[tp]; p != nil {
		p.pos = offset
	}
}

// received notes a record (or, data false, a transaction marker) of a
// tracked partition polled before its task was tracked.
func (it *idleTracker) received(r *kgo.Record, data bool) {
	if it.maxIdle < 0 {
		return // nothing tracked
	}
	it.mu.Lock()
	defer it.mu.Unlock()
	p := it.parts[topicPartition{r.Topic, r.Partition}]
	if p == nil {
		return
	}
	p.pos = max(p.pos, r.Offset+1)
	if data {
		p.waitSince, p.idleSince, p.enforced = time.Time{}, time.Time{}, false
	}
}

// fetched notes the end offset a fetch response gave for a tracked
// partition and the records (transaction markers included) it polled, if
// any: one call per partition and poll, not per record.
func (it *idleTracker) fetched(topic string, partition int32, end int64, recs []*kgo.Record) {
	if it.maxIdle < 0 {
		return // nothing tracked
	}
	it.mu.Lock()
	defer it.mu.Unlock()
	p := it.parts[topicPartition{topic, partition}]
	if p == nil {
		return
	}
	p.end = max(p.end, end)
	if len(recs) == 0 {
		return
	}
	p.pos = max(p.pos, recs[len(recs)-1].Offset+1)
	for _, r := range recs {
		if !r.Attrs.IsControl() {
			p.waitSince, p.idleSince, p.enforced = time.Time{}, time.Time{}, false
			break
		}
	}
}

// ready reports whether a task may process its other inputs while this
// partition has no record buffered. It is the tasks' input gate.
func (it *idleTracker) ready(tp topicPartition, now time.Time) bool {
	it.mu.Lock()
	defer it.mu.Unlock()
	p := it.part(tp)
	v, since := p.decide(now, it.maxIdle)
	if p.pos < 0 || p.end < 0 {
		it.want[tp] = true
	}
	if v == idleEnforced && !p.enforced {
		p.enforced = true
		it.log.Debug("enforced processing: an input partition has no record buffered after the wait (Config.MaxTaskIdle): processing the task's other inputs",
			"topic", tp.topic, "partition", tp.partition, "waited", now.Sub(since).Round(time.Millisecond),
			"position", p.pos, "end_offset", p.end, "max_task_idle", it.maxIdle)
	}
	return v != idleWait
}

// nextDeadline returns the earliest end of a wait after now, for the poll
// timeout.
func (it *idleTracker) nextDeadline(now time.Time) (time.Time, bool) {
	it.mu.Lock()
	defer it.mu.Unlock()
	var next time.Time
	ok := false
	for _, p := range it.parts {
		if d, waits := p.deadline(it.maxIdle); waits && d.After(now) && (!ok || d.Before(next)) {
			next, ok = d, true
		}
	}
	return next, ok
}

// startLookup takes the partitions to look up and, when there are some and
// no look-up runs, marks one running and returns them.
func (it *idleTracker) startLookup() ([]topicPartition, uint64, bool) {
	it.mu.Lock()
	defer it.mu.Unlock()
	if it.looking || len(it.want) == 0 {
		return nil, 0, false
	}
	tps := make([]topicPartition, 0, len(it.want))
	for tp := range it.want {
		if _, ok := it.parts[tp]; ok {
			tps = append(tps, tp)
		}
	}
	clear(it.want)
	if len(tps) == 0 {
		return nil, 0, false
	}
	it.looking = true
	return tps, it.gen, true
}

// endLookup lets the next look-up start.
func (it *idleTracker) endLookup() {
	it.mu.Lock()
	it.looking = false
	it.mu.Unlock()
}

// apply notes a look-up's result.
func (it *idleTracker) apply(l idleLookup) {
	it.mu.Lock()
	defer it.mu.Unlock()
	for tp, end := range l.end {
		if p := it.parts[tp]; p != nil {
			p.end = max(p.end, end)
		}
	}
	if l.gen != it.gen {
		return // rewound meanwhile: the positions are stale
	}
	for tp, pos := range l.pos {
		if p := it.parts[tp]; p != nil {
			p.pos = max(p.pos, pos)
		}
	}
}

// idleGate returns the input gate of task t: nil with MaxTaskIdle negative.
func (a *App) idleGate(t *engine.Task) func(topic string) bool {
	if a.cfg.MaxTaskIdle < 0 {
		return nil
	}
	partition := t.ID.Partition
	return func(topic string) bool {
		return a.idle.ready(topicPartition{topic, partition}, time.Now())
	}
}

// lookupIdle starts a goroutine that looks up the end offsets, and the
// positions not known, of the partitions the tasks wait for, unless one
// runs. a.mu must be held (for a.cl).
func (a *App) lookupIdle() {
	if a.runCtx == nil || a.cl == nil {
		return
	}
	tps, gen, ok := a.idle.startLookup()
	if !ok {
		return
	}
	adm := kadm.NewClient(a.cl)
	ctx := a.runCtx
	a.idleLookups.Add(1)
	go func() {
		defer a.idleLookups.Done()
		l := a.lookupOffsets(ctx, adm, tps)
		l.gen = gen
		a.idle.apply(l)
		a.wakePoll() // the waiting tasks decide again
		select {
		case <-ctx.Done():
		case <-time.After(idleLookupEvery):
		}
		a.idle.endLookup()
	}()
}

// lookupOffsets asks the brokers for the last stable offsets of the
// partitions and for their positions when not known: the group's committed
// offset, or the log start offset when none was committed (the consumer
// starts from there). A failure leaves what it could not learn unknown: the
// tasks ask again.
func (a *App) lookupOffsets(ctx context.Context, adm *kadm.Client, tps []topicPartition) idleLookup {
	l := idleLookup{end: map[topicPartition]int64{}, pos: map[topicPartition]int64{}}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	set := map[string]bool{}
	var topics []string
	for _, tp := range tps {
		if !set[tp.topic] {
			set[tp.topic] = true
			topics = append(topics, tp.topic)
		}
	}
	ends, err := adm.ListCommittedOffsets(ctx, topics...)
	if err != nil {
		a.log.Debug("MaxTaskIdle: listing end offsets", "topics", topics, "err", err)
	}
	starts, serr := adm.ListStartOffsets(ctx, topics...)
	if serr != nil {
		a.log.Debug("MaxTaskIdle: listing start offsets", "topics", topics, "err", serr)
	}
	committed, cerr := adm.FetchOffsets(ctx, a.cfg.ApplicationID)
	if cerr != nil {
		a.log.Debug("MaxTaskIdle: fetching committed offsets", "group", a.cfg.ApplicationID, "err", cerr)
	}
	for _, tp := range tps {
		if o, ok := ends.Lookup(tp.topic, tp.partition); ok && o.Err == nil {
			l.end[tp] = o.Offset
		}
		if cerr != nil {
			continue
		}
		c, ok := committed.Lookup(tp.topic, tp.partition)
		if ok && c.Err != nil {
			continue
		}
		if ok && c.At >= 0 {
			l.pos[tp] = c.At
		} else if s, ok := starts.Lookup(tp.topic, tp.partition); ok && s.Err == nil && serr == nil {
			l.pos[tp] = s.Offset
		}
	}
	return l
}
