package changelog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa/internal/retry"
)

// Reader reads changelog topics into stores: it restores a store's
// partition up to the last stable offset, and keeps standby stores
// following their partitions. One Reader, over one Kafka client
// (read_committed, control records kept: their offsets count in the
// positions), serves both: a restore's polls also return the followed
// partitions' records, and hand them to their stores.
//
// The Reader does not own its client: whoever made it closes it, once no
// Restore or Tail runs (closing it also ends them: Restore then returns an
// error wrapping kgo.ErrClientClosed, Tail returns).
//
// Restore and Tail poll the client: one goroutine calls them, one at a
// time (the runtime's state updater). Follow, Unfollow, Positions and
// Failing may be called from any goroutine.
type Reader struct {
	// Set by NewReader, never changed.
	cl  *kgo.Client
	adm *kadm.Client
	log *slog.Logger

	// OnRestored, if set, is called with the number of records each
	// write of a restore applied to its store (on the goroutine of
	// Restore). Set it before the first Restore.
	OnRestored func(records int64)
	// OnApplied, if set, is called after a poll's records and errors
	// were applied to the followed stores (by Tail, or by a Restore whose
	// poll returned some), without the Reader's lock held: it may call
	// Positions and Failing. Set it before the first Follow.
	OnApplied func()

	// mu guards followed. Follow and Unfollow (the runtime's poll loop and
	// group callbacks) and the appliers (the goroutine of Restore and
	// Tail) take it; a store is never written after Unfollow returned.
	mu       sync.Mutex
	followed map[topicPartition]*follower
}

// topicPartition names one changelog partition.
type topicPartition struct {
	topic     string
	partition int32
}

// follower is a followed partition's store, its position and its failure;
// guarded by Reader.mu.
type follower struct {
	s   *Store
	pos int64 // next offset to apply
	// failing is set while the partition's fetches fail, until it
	// delivers records again.
	failing *followFailure
}

// followFailure is the state of a followed partition whose fetches fail.
type followFailure struct {
	err         error
	since, last time.Time
	count       int
	logged      time.Time // last log line
	unlogged    int       // failures since that line
}

// followLogEvery rate-limits the log lines about one failing followed
// partition.
const followLogEvery = 5 * time.Second

// restoreBatch bounds the records of one poll, and of one write to the
// store during a restore.
const restoreBatch = 10000

// ErrTurnOver is returned by Restore when its turn ended (until passed)
// before the store caught up: the store's checkpoint keeps the position,
// and the next Restore goes on from it.
var ErrTurnOver = errors.New("changelog: restore turn over")

// ErrTopicGone is matched (errors.Is) by the error of a Restore whose
// changelog topic was deleted or recreated during the restore (the broker
// no longer knows the topic's id): retrying cannot help.
var ErrTopicGone = errors.New("changelog: topic deleted or recreated")

// topicGoneError says a restore's changelog topic was deleted or
// recreated; it is ErrTopicGone and wraps the fetch error.
type topicGoneError struct {
	topic string
	err   error
}

func (e *topicGoneError) Error() string {
	return fmt.Sprintf("changelog topic %q was deleted or recreated during the restore: %v", e.topic, e.err)
}

func (e *topicGoneError) Unwrap() error { return e.err }

func (e *topicGoneError) Is(target error) bool { return target == ErrTopicGone }

// NewReader returns a Reader over cl, which must read committed records
// and keep control records (kgo.FetchIsolationLevel(kgo.ReadCommitted()),
// kgo.KeepControlRecords()) and consume no group. log receives the
// Reader's warnings and lines about standby fetches (slog.Default() when
// nil).
func NewReader(cl *kgo.Client, log *slog.Logger) *Reader {
	if log == nil {
		log = slog.Default()
	}
	return &Reader{cl: cl, adm: kadm.NewClient(cl), log: log, followed: map[topicPartition]*follower{}}
}

// RestoreProgress is the figures of one store's restore, reported at its
// start, after every batch and at its end.
type RestoreProgress struct {
	// Done counts the changelog records applied to the store so far,
	// earlier turns included (transaction markers and compacted-away
	// offsets are not records); ToGo the offsets left to the last stable
	// offset listed when this turn started (0 once past it).
	Done, ToGo int64
	// Rate is records applied per second so far; ETA the time left at
	// the rate offsets were read in this turn.
	Rate float64
	ETA  time.Duration
	// Finished is true on the last report of a store.
	Finished bool
}

// RestoreTurns carries a store's restore from one turn to the next: the
// records applied and the time spent in earlier turns. The zero value
// starts afresh.
type RestoreTurns struct {
	applied int64
	spent   time.Duration
}

// restoreOffsets returns where the restore of a store's changelog
// partition starts (its checkpoint, or the log start offset if that is
// later) and its target, the last stable offset. Failed listings are
// retried with backoff until ctx is done.
func (r *Reader) restoreOffsets(ctx context.Context, topic string, partition int32, s *Store) (start, target int64, err error) {
	start, ok, err := s.Checkpoint()
	if err != nil {
		return 0, 0, err
	}
	if !ok {
		start = 0
	}
	for attempt := 1; ; attempt++ {
		end, logStart, err := listRestoreOffsets(ctx, r.adm, topic, partition)
		if err == nil {
			return max(start, logStart), end, nil
		}
		if ctx.Err() != nil {
			return 0, 0, fmt.Errorf("offsets of %q: %w", topic, ctx.Err())
		}
		if errors.Is(err, kgo.ErrClientClosed) {
			return 0, 0, err
		}
		d := retry.Backoff(attempt)
		r.log.Warn("restore: listing the changelog offsets failed: retrying", "topic", topic, "partition", partition,
			"attempt", attempt, "backoff", d, "err", err)
		if err := retry.Sleep(ctx, d); err != nil {
			return 0, 0, fmt.Errorf("offsets of %q: %w", topic, err)
		}
	}
}

// listRestoreOffsets lists the last stable offset and the log start offset
// of a changelog partition.
func listRestoreOffsets(ctx context.Context, adm *kadm.Client, topic string, partition int32) (end, logStart int64, err error) {
	lookup := func(what string, list func(context.Context, ...string) (kadm.ListedOffsets, error)) (int64, error) {
		los, err := list(ctx, topic)
		if err != nil {
			return 0, fmt.Errorf("%s offset of %q: %w", what, topic, err)
		}
		lo, ok := los.Lookup(topic, partition)
		if !ok {
			return 0, fmt.Errorf("%s offset of %q partition %d: missing", what, topic, partition)
		}
		if lo.Err != nil {
			return 0, fmt.Errorf("%s offset of %q partition %d: %w", what, topic, partition, lo.Err)
		}
		return lo.Offset, nil
	}
	if end, err = lookup("end", adm.ListCommittedOffsets); err != nil { // the last stable offset
		return 0, 0, err
	}
	if logStart, err = lookup("start", adm.ListStartOffsets); err != nil {
		return 0, 0, err
	}
	return end, logStart, nil
}

// Restore replays partition of a store's changelog topic from the store's
// checkpoint to the last stable offset listed at the start, in batches of
// at most 10,000 records. Every committed record a fetch returns is
// applied, also those past the target (committed since), and the
// checkpoint is always one past the last record read: it never claims a
// record the store does not hold. Fetch errors are retried with backoff; a
// cancelled ctx stops the restore at once, keeping what was read with its
// checkpoint. With a non-zero until, the restore stops at the first batch
// past that time and returns ErrTurnOver; turns (nil: a fresh restore)
// carries the figures from one turn to the next. A deleted or recreated
// topic is an error matching ErrTopicGone.
//
// report, if not nil, is told at the start, after every batch and at the
// end; log is true at most every 3 seconds and at the end, for a progress
// line. Records of followed partitions that the restore's polls return go
// to their stores, and their errors to Failing.
func (r *Reader) Restore(ctx context.Context, s *Store, topic string, partition int32, until time.Time, turns *RestoreTurns, report func(p RestoreProgress, log bool)) error {
	if turns == nil {
		turns = &RestoreTurns{}
	}
	if report == nil {
		report = func(RestoreProgress, bool) {}
	}
	start, target, err := r.restoreOffsets(ctx, topic, partition, s)
	if err != nil {
		return err
	}
	if start >= target {
		report(RestoreProgress{Finished: true}, false)
		return nil
	}
	r.cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: {partition: kgo.NewOffset().At(start)}})
	defer r.cl.RemoveConsumePartitions(map[string][]int32{topic: {partition}})

	began := time.Now()
	lastLog := began
	defer func() { turns.spent += time.Since(began) }()
	pos, flushed := start, start // next offset to read; checkpoint written
	applied := turns.applied
	defer func() { turns.applied = applied }()
	batch := make([]Record, 0, restoreBatch)
	flush := func() error {
		if len(batch) == 0 && pos == flushed {
			return nil
		}
		if err := s.Restore(batch, pos); err != nil {
			return err
		}
		applied += int64(len(batch))
		if r.OnRestored != nil {
			r.OnRestored(int64(len(batch)))
		}
		batch, flushed = batch[:0], pos
		return nil
	}
	// stop applies what was read, then returns err.
	stop := func(err error) error {
		if ferr := flush(); ferr != nil {
			return errors.Join(err, ferr)
		}
		return err
	}
	// tell reports at the start, after every batch and at the end; it
	// asks for a log line every few seconds and at the end.
	tell := func(finished bool) {
		now := time.Now()
		logIt := finished || now.Sub(lastLog) >= 3*time.Second
		if logIt {
			lastLog = now
		}
		secs := max((turns.spent + now.Sub(began)).Seconds(), 1e-3)
		p := RestoreProgress{Done: applied, ToGo: max(target-pos, 0), Rate: float64(applied) / secs, Finished: finished}
		// ToGo counts offsets: the ETA comes from the offsets' rate.
		if offRate := float64(pos-start) / max(now.Sub(began).Seconds(), 1e-3); offRate > 0 {
			p.ETA = time.Duration(float64(p.ToGo) / offRate * float64(time.Second))
		}
		report(p, logIt)
	}
	tell(false)
	failures := 0
	for pos < target {
		fs := r.cl.PollRecords(ctx, restoreBatch)
		before := pos
		// The followed partitions share the client: their records and
		// errors go to them.
		var others []*kgo.Record
		var otherErrs []kgo.FetchError
		fs.EachRecord(func(rec *kgo.Record) {
			if rec.Topic != topic || rec.Partition != partition {
				others = append(others, rec)
				return
			}
			if rec.Offset < pos {
				return
			}
			if !rec.Attrs.IsControl() {
				batch = append(batch, Record{Key: rec.Key, Value: rec.Value})
			}
			pos = rec.Offset + 1
		})
		var fetchErr error
		for _, fe := range fs.Errors() {
			if fe.Topic != "" && (fe.Topic != topic || (fe.Partition >= 0 && fe.Partition != partition)) {
				otherErrs = append(otherErrs, fe)
				continue
			}
			switch {
			case errors.Is(fe.Err, context.Canceled), errors.Is(fe.Err, context.DeadlineExceeded):
				// ctx is checked below.
			case errors.Is(fe.Err, kgo.ErrClientClosed):
				return stop(fmt.Errorf("fetch %q: %w", topic, fe.Err))
			case errors.Is(fe.Err, kerr.UnknownTopicID):
				return stop(&topicGoneError{topic: topic, err: fe.Err})
			default:
				fetchErr = fmt.Errorf("fetch %q partition %d: %w", fe.Topic, fe.Partition, fe.Err)
			}
		}
		if len(others) > 0 || len(otherErrs) > 0 {
			r.apply(others, otherErrs)
		}
		if len(batch) >= restoreBatch || pos >= target {
			if err := flush(); err != nil {
				return err
			}
			if pos < target {
				tell(false)
			}
		}
		if err := ctx.Err(); err != nil {
			return stop(err)
		}
		if !until.IsZero() && pos < target && time.Now().After(until) {
			return stop(ErrTurnOver)
		}
		if pos > before {
			failures = 0
		}
		if fetchErr != nil {
			failures++
			d := retry.Backoff(failures)
			r.log.Warn("restore fetch failed: retrying", "task", s.task.String(), "store", s.name, "topic", topic,
				"attempt", failures, "backoff", d, "err", fetchErr)
			if err := retry.Sleep(ctx, d); err != nil {
				return stop(err)
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	tell(true)
	return nil
}

// Follow makes s follow partition of its changelog topic: fetching starts
// at s's checkpoint (0 without one), and Tail, or the polls of a Restore,
// apply what the partition gains to s. A partition followed already is
// followed into s from s's checkpoint instead.
func (r *Reader) Follow(topic string, partition int32, s *Store) {
	next, _, _ := s.Checkpoint()
	tp := topicPartition{topic, partition}
	r.mu.Lock()
	_, was := r.followed[tp]
	r.followed[tp] = &follower{s: s, pos: next}
	r.mu.Unlock()
	if was {
		r.cl.RemoveConsumePartitions(map[string][]int32{topic: {partition}})
	}
	r.cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: {partition: kgo.NewOffset().At(next)}})
}

// Unfollow stops following partition of topic: once it returns, the
// Reader no longer writes its store, which the caller may close.
func (r *Reader) Unfollow(topic string, partition int32) {
	tp := topicPartition{topic, partition}
	r.mu.Lock()
	_, was := r.followed[tp]
	delete(r.followed, tp)
	r.mu.Unlock()
	if was {
		r.cl.RemoveConsumePartitions(map[string][]int32{topic: {partition}})
	}
}

// Following returns the number of partitions followed.
func (r *Reader) Following() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.followed)
}

// Tail applies what the followed partitions gained to their stores,
// waiting up to wait (at least a millisecond) for records, or until ctx
// ends. It returns at once when nothing is followed. Fetch errors never
// stop it (the client keeps retrying): see Failing.
func (r *Reader) Tail(ctx context.Context, wait time.Duration) {
	if r.Following() == 0 {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, max(wait, time.Millisecond))
	fs := r.cl.PollRecords(pctx, restoreBatch)
	cancel()
	r.apply(fs.Records(), fs.Errors())
}

// apply applies records fetched for the followed partitions, by Tail or by
// a Restore reading the same client, and notes the fetch errors. Errors
// are logged, at most once per followLogEvery per partition, and kept for
// Failing. Then it calls OnApplied.
func (r *Reader) apply(recs []*kgo.Record, errs []kgo.FetchError) {
	r.applyLocked(recs, errs, time.Now())
	if r.OnApplied != nil {
		r.OnApplied()
	}
}

// applyLocked is apply's work under r.mu.
func (r *Reader) applyLocked(recs []*kgo.Record, errs []kgo.FetchError, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, fe := range errs {
		if errors.Is(fe.Err, context.DeadlineExceeded) || errors.Is(fe.Err, context.Canceled) || errors.Is(fe.Err, kgo.ErrClientClosed) {
			continue
		}
		r.failed(fe.Topic, fe.Partition, fe.Err, now)
	}
	batches := map[topicPartition][]Record{}
	last := map[topicPartition]int64{}
	for _, rec := range recs {
		tp := topicPartition{rec.Topic, rec.Partition}
		f, ok := r.followed[tp]
		if !ok || rec.Offset < f.pos {
			// Not followed, or fetched before it was followed again
			// at a later position, while this poll was under way.
			continue
		}
		if !rec.Attrs.IsControl() {
			batches[tp] = append(batches[tp], Record{Key: rec.Key, Value: rec.Value})
		}
		last[tp] = rec.Offset
	}
	for tp, off := range last {
		f := r.followed[tp]
		if err := f.s.Restore(batches[tp], off+1); err != nil {
			r.failed(tp.topic, tp.partition, fmt.Errorf("apply changelog records to the standby store: %w", err), now)
			continue
		}
		f.pos = off + 1
		if ff := f.failing; ff != nil {
			r.log.Info("standby changelog fetches again", "task", f.s.task.String(),
				"topic", tp.topic, "partition", tp.partition, "failures", ff.count, "for", now.Sub(ff.since).Round(time.Millisecond))
			f.failing = nil
		}
	}
}

// failed records an error on the followed partitions it concerns: one
// partition, every partition of a topic (partition -1), or every followed
// partition (no topic: the client's own error). r.mu must be held.
func (r *Reader) failed(errTopic string, partition int32, err error, now time.Time) {
	for tp, f := range r.followed {
		if partition >= 0 && tp.partition != partition {
			continue
		}
		if errTopic != "" && tp.topic != errTopic {
			continue
		}
		ff := f.failing
		if ff == nil {
			ff = &followFailure{since: now}
			f.failing = ff
		}
		ff.err, ff.last = err, now
		ff.count++
		ff.unlogged++
		if now.Sub(ff.logged) >= followLogEvery {
			r.log.Warn("standby changelog fetch failed: the standby falls behind until it recovers", "task", f.s.task.String(),
				"topic", tp.topic, "partition", tp.partition, "failures", ff.unlogged, "since", ff.since.Format(time.RFC3339), "err", err)
			ff.logged, ff.unlogged = now, 0
		}
	}
}

// FollowFailure describes a followed partition whose fetches fail: its
// store falls behind until it recovers.
type FollowFailure struct {
	Topic     string
	Partition int32
	// Err is the last error; Count the failed fetches since the first,
	// at Since; Last the time of the last one.
	Err         error
	Count       int
	Since, Last time.Time
}

// Failing returns the followed partitions whose fetches failed and have
// delivered no records since, in no order. A failure is cleared when its
// partition delivers records again; one that is caught up and delivers
// none stays listed, with the time of its last error.
func (r *Reader) Failing() []FollowFailure {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []FollowFailure
	for tp, f := range r.followed {
		if ff := f.failing; ff != nil {
			out = append(out, FollowFailure{Topic: tp.topic, Partition: tp.partition, Err: ff.err, Count: ff.count, Since: ff.since, Last: ff.last})
		}
	}
	return out
}

// Positions returns the next offset to apply of every followed partition,
// by topic and partition: how far each followed store is.
func (r *Reader) Positions() map[string]map[int32]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]map[int32]int64{}
	for tp, f := range r.followed {
		if out[tp.topic] == nil {
			out[tp.topic] = map[int32]int64{}
		}
		out[tp.topic][tp.partition] = f.pos
	}
	return out
}
