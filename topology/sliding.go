package topology

import (
	"fmt"
	"strconv"
	"time"

	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
)

// Sliding defines sliding windows, as Kafka Streams' SlidingWindows: windows
// of a fixed length that are not aligned to the epoch but to the records of
// a key. Two records of a key are in a common window when their event times
// are no more than the time difference apart. A window is [Start, End],
// both ends inclusive, with End = Start + time difference; a sliding
// aggregation keeps (and emits) only the windows whose set of records is
// distinct: for each record at t, its left window [t-d, t] (ending with it)
// and, when a later record of the key falls in it, its right window
// [t+1, t+1+d] (starting just after it). A record at t < d goes into the
// window [0, d] instead of its left window, as in Kafka Streams.
//
// Grace (allowed lateness) is how long after its end a window still accepts
// out-of-order records: a window is closed once end + grace < stream time
// (its inclusive end is before the close time), and a record is late, and
// dropped, when even its right window would be closed. The default is no
// grace, as SlidingWindows.ofTimeDifferenceWithNoGrace; WithGrace sets one,
// as ofTimeDifferenceAndGrace. WithMaxOutOfOrder delays the watermark
// behind the stream time and LateRecordsTo sends late records to a topic,
// as for time windows (Windows). Times are whole milliseconds: a duration
// with a fraction of a millisecond, or a negative one, is an error reported
// when the topology is validated.
type Sliding struct {
	diff, grace time.Duration
	final       bool // EmitFinal
	lateness
}

// SlidingWindows returns sliding windows with the given time difference
// (the length of a window) and no grace, as Kafka Streams'
// SlidingWindows.ofTimeDifferenceWithNoGrace.
func SlidingWindows(timeDifference time.Duration) Sliding {
	return Sliding{diff: timeDifference}
}

// WithGrace returns w with the given grace period, as Kafka Streams'
// SlidingWindows.ofTimeDifferenceAndGrace.
func (w Sliding) WithGrace(grace time.Duration) Sliding {
	w.grace = grace
	return w
}

// EmitFinal returns w with final results only: a sliding aggregation over
// w forwards nothing when a window is updated, and forwards each window's
// result once it closes, as Kafka Streams'
// suppress(Suppressed.untilWindowCloses(unbounded())) after a sliding
// windowed aggregation. See SlidingAggregate.
func (w Sliding) EmitFinal() Sliding {
	w.final = true
	return w
}

// WithMaxOutOfOrder returns w with a watermark delay, as
// Windows.WithMaxOutOfOrder: the aggregation's watermark trails its stream
// time by d, a window closes once end + grace < watermark, and a record is
// late once t + time difference + 1 + grace <= watermark. A late record is
// not applied: it is counted as dropped and, with LateRecordsTo, written to
// the late-records topic. With EmitFinal, a window's result is emitted
// once end + grace <= watermark. The default is 0, Kafka Streams' model.
func (w Sliding) WithMaxOutOfOrder(d time.Duration) Sliding {
	w.maxOutOfOrder = d
	return w
}

// MaxOutOfOrder returns the watermark delay (WithMaxOutOfOrder).
func (w Sliding) MaxOutOfOrder() time.Duration { return w.maxOutOfOrder }

// LateRecordsTo returns w with a late-records topic, as
// Windows.LateRecordsTo: a record that a sliding aggregation over w does
// not apply because the windows it belongs to have closed (a late record,
// or one whose every window is closed) is written to topic as it was read,
// with the headers samsa.late.reason, samsa.late.window.start and
// samsa.late.window.end (its left window [t - time difference, t], or
// [0, time difference] for a record before the time difference; or, for a
// record that is not late, the latest of its closed windows),
// samsa.late.watermark (the aggregation's watermark when the record
// arrived), then the source headers of a dead letter. The topic must exist
// when the App starts, as a sink topic.
func (w Sliding) LateRecordsTo(topic string) Sliding {
	w.lateTopic = topic
	return w
}

// LateTopic returns the late-records topic (LateRecordsTo), or "".
func (w Sliding) LateTopic() string { return w.lateTopic }

// Final reports whether w emits final results only (EmitFinal).
func (w Sliding) Final() bool { return w.final }

// TimeDifference returns the length of a window: End - Start.
func (w Sliding) TimeDifference() time.Duration { return w.diff }

// Grace returns how long after its end a window accepts out-of-order
// records.
func (w Sliding) Grace() time.Duration { return w.grace }

// Retention returns how long a sliding aggregation keeps a window behind
// the newest window start: 2 × time difference + grace, as Kafka Streams
// (+ MaxOutOfOrder).
func (w Sliding) Retention() time.Duration { return 2*w.diff + w.grace + w.maxOutOfOrder }

// check reports what is wrong with w.
func (w Sliding) check() error {
	switch {
	case w.diff < 0:
		return fmt.Errorf("sliding window time difference %v is negative", w.diff)
	case w.grace < 0:
		return fmt.Errorf("sliding window grace %v is negative", w.grace)
	case w.diff%time.Millisecond != 0 || w.grace%time.Millisecond != 0:
		return fmt.Errorf("sliding window time difference %v and grace %v must be whole milliseconds", w.diff, w.grace)
	}
	return w.lateness.check()
}

// SlidingAggregate folds the records of each key into sliding windows kept
// in the window store named store (logged to <application
// id>-<store>-changelog, retention windows.Retention()) and emits every
// updated window's aggregate, keyed by key and window [Start, End] (End
// inclusive, End = Start + time difference): Kafka Streams'
// groupByKey().windowedBy(SlidingWindows...).aggregate(...).toStream(). The
// store's record cache (samsa.Config.CacheMaxBytes, on by default; not with
// EmitFinal) collapses the updates of a key and window between two commits
// into one, written and emitted at the commit with the latest aggregate
// and time, as Kafka Streams' caching window store; the windows the
// aggregation reads to place a record are the cache's over the store's.
// Topology.WithoutCache emits every update, as Kafka Streams with caching
// off. After a key change the records are first repartitioned by key, as
// in WindowedAggregate. TimeWindowedSerde(key, time difference) writes the
// keys as Kafka Streams does.
//
// A record at t is added to every window of its key that holds t; it
// creates its left window [t-d, t] (from the records of the key before it
// within d) if it does not exist yet, the right window of the record just
// before it if that one does not exist and holds t, and its own right
// window [t+1, t+1+d] (holding the records of the key after it within d)
// when a later record falls in it and that window does not exist yet. The
// windows are updated and emitted in Kafka Streams' order: the existing
// windows by decreasing start, then the created ones (the previous
// record's right window, the left window, the right window); with the
// record cache, at the commit, the windows by their first update since the
// last commit.
//
// As in Kafka Streams (with windows.WithMaxOutOfOrder, the watermark, the
// stream time less that delay, takes the stream time's place below):
//   - the aggregation's stream time is the highest event time of the
//     records it has seen (records dropped before it do not advance it; it
//     starts again after a restart, and goes back with an aborted
//     transaction);
//   - a window is closed once end + grace < stream time; a record whose
//     right window would be closed (t + d + 1 + grace <= stream time) is
//     late: dropped, counted by the task as dropped and logged at debug
//     level; a record that is not late is not added to its windows that
//     are closed, each counted as dropped;
//   - an update carries the highest event time of the records in the
//     window;
//   - a record with a null key or a null value (a tombstone) is dropped,
//     counted, and does not advance the stream time;
//   - an aggregate that agg writes as null (a nil pointer with serde.JSON)
//     deletes the window.
//
// With windows.EmitFinal(), nothing is emitted when a window is updated:
// a window's result is emitted when end + grace <= stream time, as Kafka
// Streams' suppress(Suppressed.untilWindowCloses(unbounded())) does after
// a sliding windowed aggregation:
//   - after each update of a window, every window due (of any key) is
//     emitted, by end, then serialized key; the window just updated among
//     them if it is due;
//   - a window is still updated while end + grace == stream time (it is
//     not closed yet), and so an update at that moment emits it again, as
//     in Kafka Streams;
//   - a result carries the time of its aggregate (the highest event time of
//     the window's records) and the headers of the record that closed the
//     window (Kafka Streams': of its last update);
//   - a window whose aggregate is null (written as null) emits nothing.
//
// The windows not emitted yet, and the close time up to which windows were
// emitted, are kept in the key-value store <store>-emitted, as for
// WindowedAggregate with EmitFinal: final results are exactly once across
// aborts and restarts, and a window emitted before a restart stays closed
// after it.
func SlidingAggregate[K, V, A any](s Stream[K, V], windows Sliding, store string, initial func() A, add func(key K, value V, agg A) A, key serde.Serde[K], agg serde.Serde[A]) Stream[Windowed[K], A] {
	s.t.nilFuncs("SlidingAggregate "+strconv.Quote(store), "add", add)
	return SlidingAggregateErr(s, windows, store, initial, func(k K, v V, a A) (A, error) { return add(k, v, a), nil }, key, agg)
}

// SlidingAggregateErr is SlidingAggregate with an adder that can fail: an
// error skips the record (none of its windows changes, none is emitted) and
// goes to the processing-error policy (samsa.Config.Errors.Processing).
func SlidingAggregateErr[K, V, A any](s Stream[K, V], windows Sliding, store string, initial func() A, add func(key K, value V, agg A) (A, error), key serde.Serde[K], agg serde.Serde[A]) Stream[Windowed[K], A] {
	s.t.nilFuncs("SlidingAggregateErr "+strconv.Quote(store), "initial", initial, "add", add)
	first := func(k K, v V, _ bool) (A, bool, error) {
		a, err := add(k, v, initial())
		return a, false, err
	}
	s = byKey(s, fmt.Sprintf("SlidingAggregate %q", store), store, key, nil)
	return slidingAggregate(s, windows, "KSTREAM-AGGREGATE", store, first, add, key, agg)
}

// SlidingCount counts the records of each key in sliding windows kept in
// the window store named store and emits every updated count, as Kafka
// Streams' groupByKey().windowedBy(SlidingWindows...).count().toStream(). It
// is SlidingAggregate with a counter: late records, null keys and
// tombstones are dropped, and a count carries the highest event time of
// the records counted in its window.
func SlidingCount[K, V any](s Stream[K, V], windows Sliding, store string, key serde.Serde[K]) Stream[Windowed[K], int64] {
	s = byKey(s, fmt.Sprintf("SlidingCount %q", store), store, key, serde.Serde[V](ignoredValue[V]{}))
	return slidingAggregate(s, windows, "KSTREAM-AGGREGATE", store,
		func(K, V, bool) (int64, bool, error) { return 1, false, nil },
		func(_ K, _ V, n int64) (int64, error) { return n + 1, nil },
		key, serde.Int64)
}

// SlidingReduce combines the records of each key in sliding windows with
// reducer, kept in the window store named store, and emits every updated
// result, as Kafka Streams'
// groupByKey().windowedBy(SlidingWindows...).reduce(reducer).toStream(): a
// window's first value is its result as it is, each later one is
// reducer(result, value). A window created from the records before or
// after a record starts from their reduction. Late records, null keys and
// tombstones are dropped, as in SlidingAggregate.
func SlidingReduce[K, V any](s Stream[K, V], windows Sliding, store string, reducer func(agg, value V) V, key serde.Serde[K], value serde.Serde[V]) Stream[Windowed[K], V] {
	s.t.nilFuncs("SlidingReduce "+strconv.Quote(store), "reducer", reducer)
	s = byKey(s, fmt.Sprintf("SlidingReduce %q", store), store, key, value)
	return slidingAggregate(s, windows, "KSTREAM-REDUCE", store,
		func(_ K, v V, _ bool) (V, bool, error) { return v, false, nil },
		func(_ K, v V, agg V) (V, error) { return reducer(agg, v), nil },
		key, value)
}

// slidingAggregate adds the processor and the timestamped window store
// behind the sliding aggregations of one stream: first makes the aggregate
// of a window that had none with a record, add folds a record into an
// aggregate.
func slidingAggregate[K, V, A any](s Stream[K, V], windows Sliding, prefix, store string, first func(K, V, bool) (A, bool, error), add func(K, V, A) (A, error), key serde.Serde[K], agg serde.Serde[A]) Stream[Windowed[K], A] {
	return slidingAggregation(s.t, windows, prefix, store, func(core func() processor.Processor[K, fold[A], Windowed[K], A]) processor.Supplier[K, V, Windowed[K], A] {
		return singleStream(core, first, add)
	}, key, agg, s.node)
}

// slidingAggregation adds the processor of a sliding aggregation fed by
// parents, made by supplier around the aggregation's processor (core), and
// its timestamped window store.
func slidingAggregation[K, VIn, A any](t *Topology, windows Sliding, prefix, store string, supplier func(core func() processor.Processor[K, fold[A], Windowed[K], A]) processor.Supplier[K, VIn, Windowed[K], A], key serde.Serde[K], agg serde.Serde[A], parents ...string) Stream[Windowed[K], A] {
	name := t.name(prefix)
	if err := windows.check(); err != nil {
		t.g.Errorf("topology: sliding window aggregation %q (store %q): %v", name, store, err)
		windows = SlidingWindows(time.Millisecond) // keeps building; Validate fails
	}
	core := func() processor.Processor[K, fold[A], Windowed[K], A] {
		return &slidingAggregator[K, A]{windows: windows, store: store}
	}
	addWindowedProcessor(t, name, store, windows.final, windows.lateness, supplier(core), parents)
	addWindowedStore(t, name, store, max(windows.Retention(), time.Millisecond), key, agg, func(st *timestampedWindowStore[K, A], raw processor.BytesKeyValueStore) processor.StateStore {
		return &slidingStore[K, A]{timestampedWindowStore: st, maxStart: newStreamClock(raw)}
	})
	return Stream[Windowed[K], A]{t: t, node: name}
}

// slidingStore is the store of a sliding aggregation: a windowed
// aggregation's timestamped window store, and the highest window start
// written to it, in step with the store's transactions.
//
// Kafka Streams' window store does not return the windows that start more
// than its retention before the highest window start written (although it
// may still hold them), and what the sliding aggregation finds decides
// which windows it creates: maxStart lets samsa's aggregation see the same
// windows, whatever its own store's segments still hold.
type slidingStore[K, A any] struct {
	*timestampedWindowStore[K, A]
	maxStart *streamClock
}

// slidingAggregator is the processor of the sliding aggregations, as Kafka
// Streams' KStreamSlidingWindowAggregate over a store that iterates
// backwards (as its default, persistent window store does), over records
// whose values are folds (of one stream or of several, cogrouped).
type slidingAggregator[K, A any] struct {
	windows Sliding
	store   string
	ctx     processor.Context[Windowed[K], A]
	st      *slidingStore[K, A]
	// fin is the state of final results (Sliding.EmitFinal), nil without:
	// it keeps the stream time in place of the store's clock.
	fin *emitState
}

func (a *slidingAggregator[K, A]) Init(ctx processor.Context[Windowed[K], A]) error {
	s, err := ctx.StateStore(a.store)
	if err != nil {
		return err
	}
	st, ok := s.(*slidingStore[K, A])
	if !ok {
		return fmt.Errorf("topology: store %q is a %T, not a sliding aggregation's window store", a.store, s)
	}
	a.ctx, a.st = ctx, st
	if a.windows.final {
		if a.fin, err = emitStateOf(ctx, a.store, "sliding aggregation"); err != nil {
			return err
		}
		return nil
	}
	// No record cache with final results: an update forwards nothing.
	st.enableCache(ctx, func(e *cacheEntry[Windowed[K], A]) { a.ctx.Forward(e.rec) })
	return nil
}

// FlushCache writes and forwards the updates the store's record cache
// holds (engine.Flusher).
func (a *slidingAggregator[K, A]) FlushCache() error {
	if a.st == nil {
		return nil
	}
	return a.st.flushCache()
}

func (a *slidingAggregator[K, A]) Close() error {
	if a.st != nil {
		a.st.closeCache()
	}
	return nil
}

// slidingStep is one thing a record does to a window, done once every
// aggregate is computed: store and emit agg, or count the record as
// dropped for a closed window.
type slidingStep[A any] struct {
	start int64
	agg   timestamped[A]
	late  bool
}

// slidingRecord is the work on one record: the record, its time (ms), the
// close time, and the steps so far.
type slidingRecord[K, A any] struct {
	r         processor.Record[K, fold[A]]
	ts, close int64
	steps     []slidingStep[A]
}

func (a *slidingAggregator[K, A]) Process(r processor.Record[K, fold[A]]) error {
	if r.KeyIsNull() || r.Value.tombstone {
		dropped(a.ctx, "null key or value in a sliding window aggregation")
		return nil
	}
	ts := r.Timestamp.UnixMilli()
	if ts < 0 {
		dropped(a.ctx, "event time before the Unix epoch in a sliding window aggregation")
		return nil
	}
	d, grace := a.windows.diff.Milliseconds(), a.windows.grace.Milliseconds()
	closeTime, err := advanceClock(a.st.clock, a.fin, ts, a.windows.maxOutOfOrder.Milliseconds()+grace)
	if err != nil {
		return err
	}
	wm := closeTime + grace // the watermark (or, after a restart, the emitted close time's)
	w := &slidingRecord[K, A]{r: r, ts: ts, close: closeTime}
	if ts+d < w.close {
		droppedf(a.ctx, "late record in a sliding window aggregation", "event time %d, window [%d,%d] closed at watermark %d (now %d, grace %v)",
			ts, ts-d, ts, ts+d+1+grace, wm, a.windows.grace)
		start := max(ts-d, 0)
		a.windows.divert(a.ctx, start, start+d, wm)
		return nil
	}
	// Every window's new aggregate first, so that an error from add leaves
	// them all as they were; then store and emit them.
	if ts < d {
		err = a.processEarly(w)
	} else {
		err = a.processReverse(w)
	}
	if err != nil {
		return err
	}
	if a.fin != nil {
		// The windows already due first: a put below may move the store's
		// retention past a closed window not emitted yet, which would then
		// be read back as gone.
		if err := a.fin.emitDue(closeTime-d, func(w dueWindow) error { return a.emitFinal(r, w) }); err != nil {
			return err
		}
	}
	late, applied := int64(-1), false // the latest closed window's start
	for _, s := range w.steps {
		end := s.start + d
		if s.late {
			late = max(late, s.start)
			droppedf(a.ctx, "late record in a sliding window aggregation", "event time %d, window [%d,%d] closed at watermark %d (now %d, grace %v)",
				ts, s.start, end, end+1+grace, wm, a.windows.grace)
			continue
		}
		applied = true
		if a.fin != nil {
			if err := a.st.putTimed(r.Key, s.agg, s.start); err != nil {
				return err
			}
			a.st.maxStart.now = max(a.st.maxStart.now, s.start)
			if err := a.trackAndEmit(r, s.start, wm-grace); err != nil {
				return err
			}
			continue
		}
		out := processor.WithKeyValue(r, Windowed[K]{Key: r.Key, Start: time.UnixMilli(s.start), End: time.UnixMilli(end)}, s.agg.agg)
		out.Timestamp = time.UnixMilli(s.agg.ms)
		cached, err := a.st.store(r.Key, s.start, s.agg, false, out)
		if err != nil {
			return err
		}
		a.st.maxStart.now = max(a.st.maxStart.now, s.start)
		if !cached {
			a.ctx.Forward(out)
		}
	}
	if late >= 0 && !applied {
		a.windows.divert(a.ctx, late, late+d, wm)
	}
	if a.fin != nil && wm-grace > a.fin.emitted {
		return a.fin.setEmitted(wm - grace)
	}
	return nil
}

// trackAndEmit records that key's window starting at start was updated and
// has a result to emit, then emits every window due at closeTime (end <=
// closeTime), as Kafka Streams' suppress buffer does after each update it
// receives.
func (a *slidingAggregator[K, A]) trackAndEmit(r processor.Record[K, fold[A]], start, closeTime int64) error {
	name := a.st.raw.Name()
	kb, err := a.st.key.Serialize(name, r.Key)
	if err != nil {
		return fmt.Errorf("window store %q: serialize key: %w", name, err)
	}
	if err := a.fin.track(start, kb); err != nil {
		return err
	}
	return a.fin.emitDue(closeTime-a.windows.diff.Milliseconds(), func(w dueWindow) error { return a.emitFinal(r, w) })
}

// emitFinal forwards the final result of one window, if it has one, with
// r's headers.
func (a *slidingAggregator[K, A]) emitFinal(r processor.Record[K, fold[A]], w dueWindow) error {
	k, v, ok, err := a.st.finalResult(w)
	if !ok || err != nil {
		return err
	}
	out := processor.WithKeyValue(r, Windowed[K]{Key: k, Start: time.UnixMilli(w.start), End: time.UnixMilli(w.start + a.windows.diff.Milliseconds())}, v.agg)
	out.Timestamp = time.UnixMilli(v.ms)
	a.ctx.Forward(out)
	return nil
}

// fetch returns the windows of key with from <= start <= to (ms), by
// start, as the record cache and the store hold them, leaving out those
// Kafka Streams' store no longer returns: the windows that start more than
// the retention before the highest window start written.
func (a *slidingAggregator[K, A]) fetch(key K, from, to int64) ([]windowAt[A], error) {
	if s := a.st.maxStart.now; s >= 0 {
		from = max(from, s-a.windows.Retention().Milliseconds()+1)
	}
	from = max(from, 0)
	if to < from {
		return nil, nil
	}
	return a.st.fetchRange(key, from, to)
}

// update adds the record to the window starting at start whose aggregate
// is old (nil: none, the record is the window's first), or counts it as
// dropped when the window is closed.
func (a *slidingAggregator[K, A]) update(w *slidingRecord[K, A], start int64, old *timestamped[A]) error {
	if start+a.windows.diff.Milliseconds() < w.close {
		w.steps = append(w.steps, slidingStep[A]{start: start, late: true})
		return nil
	}
	s := slidingStep[A]{start: start, agg: timestamped[A]{ms: w.ts}}
	var err error
	if old == nil {
		s.agg.agg, _, err = w.r.Value.first()
	} else {
		s.agg.agg, err = w.r.Value.add(old.agg)
		s.agg.ms = max(w.ts, old.ms)
	}
	if err != nil {
		return err
	}
	w.steps = append(w.steps, s)
	return nil
}

// processReverse handles a record at ts >= the time difference: it visits
// the windows that may hold it or be next to it by decreasing start, as
// Kafka Streams' processReverse.
func (a *slidingAggregator[K, A]) processReverse(w *slidingRecord[K, A]) error {
	d, ts := a.windows.diff.Milliseconds(), w.ts
	ws, err := a.fetch(w.r.Key, ts-2*d, ts+1)
	if err != nil {
		return err
	}
	c := slidingCreate[A]{starts: make(map[int64]bool, len(ws))}
	for i := len(ws) - 1; i >= 0; i-- {
		win := &ws[i]
		c.starts[win.start] = true
		end := win.start + d
		switch {
		case win.start == ts+1:
			c.rightCreated = true
		case end > ts:
			if c.rightAgg == nil {
				c.rightAgg = &win.val
			}
			if err := a.update(w, win.start, &win.val); err != nil {
				return err
			}
		case end == ts:
			c.leftCreated = true
			if err := a.update(w, win.start, &win.val); err != nil {
				return err
			}
			if win.val.ms >= ts {
				// A record at ts was there before: every window it needs
				// exists.
				return nil
			}
			c.prev, c.hasPrev = win.val.ms, true
		default: // end < ts: the latest window before the record's
			c.leftAgg = &win.val
			c.prev, c.hasPrev = win.val.ms, true
			return a.createWindows(w, c)
		}
	}
	return a.createWindows(w, c)
}

// slidingCreate is what processReverse found for createWindows.
type slidingCreate[A any] struct {
	starts                    map[int64]bool
	leftAgg, rightAgg         *timestamped[A]
	leftCreated, rightCreated bool
	prev                      int64 // the time of the record before, if hasPrev
	hasPrev                   bool
}

// createWindows creates the windows a record needs that do not exist yet:
// the right window of the record before it if it holds the record, the
// record's left window, and its right window if a later record is in it.
func (a *slidingAggregator[K, A]) createWindows(w *slidingRecord[K, A], c slidingCreate[A]) error {
	d, ts := a.windows.diff.Milliseconds(), w.ts
	if c.hasPrev {
		if s := c.prev + 1; !c.starts[s] && s+d >= ts {
			if err := a.update(w, s, nil); err != nil {
				return err
			}
		}
	}
	if !c.leftCreated {
		var old *timestamped[A]
		if c.hasPrev && c.leftAgg != nil && ts-d <= c.prev {
			old = &timestamped[A]{agg: c.leftAgg.agg, ms: ts}
		}
		if err := a.update(w, ts-d, old); err != nil {
			return err
		}
	}
	a.createRight(w, c.rightCreated, c.rightAgg)
	return nil
}

// createRight creates the record's right window, [ts+1, ts+1+d], with the
// aggregate of the records after it, if there are any and it does not
// exist yet.
func (a *slidingAggregator[K, A]) createRight(w *slidingRecord[K, A], exists bool, agg *timestamped[A]) {
	if !exists && agg != nil && agg.ms > w.ts {
		w.steps = append(w.steps, slidingStep[A]{start: w.ts + 1, agg: *agg})
	}
}

// processEarly handles a record at ts < the time difference, whose left
// window would start before the epoch: it goes into the window [0, d]
// instead, as Kafka Streams' processEarly.
func (a *slidingAggregator[K, A]) processEarly(w *slidingRecord[K, A]) error {
	ts := w.ts
	ws, err := a.fetch(w.r.Key, 0, ts+1)
	if err != nil {
		return err
	}
	var (
		combined     *windowAt[A]
		rightAgg     *timestamped[A]
		rightCreated bool
		prev         int64
		hasPrev      bool
		starts       = make(map[int64]bool, len(ws))
	)
	for i := range ws {
		win := &ws[i]
		starts[win.start] = true
		switch {
		case win.start == 0:
			combined = win
			if win.val.ms < ts {
				prev, hasPrev = win.val.ms, true
			}
		case win.start <= ts:
			rightAgg = &win.val
			if err := a.update(w, win.start, &win.val); err != nil {
				return err
			}
		default: // win.start == ts+1
			rightCreated = true
		}
	}
	// Without another window holding records after ts, the window [0, d]
	// holds only such records (if any).
	if rightAgg == nil && combined != nil && combined.val.ms > ts {
		rightAgg = &combined.val
	}
	a.createRight(w, rightCreated, rightAgg)
	if hasPrev && !starts[prev+1] {
		if err := a.update(w, prev+1, nil); err != nil {
			return err
		}
	}
	if combined == nil {
		return a.update(w, 0, nil)
	}
	return a.update(w, 0, &combined.val)
}
