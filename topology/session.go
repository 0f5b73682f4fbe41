package topology

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"time"

	"github.com/samsa-streams/samsa/internal/engine"
	"github.com/samsa-streams/samsa/internal/stores"
	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
)

// Sessions defines session windows, as Kafka Streams' SessionWindows: the
// records of a key whose event times are no more than the inactivity gap
// apart form one session, [first, last] (both ends inclusive). A record
// that fills the gap between two sessions merges them.
//
// Grace is how long after a session's end + gap it still accepts
// out-of-order records: a record is late when the session it would make or
// extend ends before stream time - gap - grace. The default is no grace, as
// SessionWindows.ofInactivityGapWithNoGrace; WithGrace sets one, as
// ofInactivityGapAndGrace. Times are whole milliseconds.
//
// By default a session aggregation emits every update of a session (and a
// tombstone for each session merged away; with the record cache, one per
// session and commit); with EmitFinal it emits each
// session's result once, when the session can no longer change.
// WithMaxOutOfOrder delays the watermark behind the stream time, and
// LateRecordsTo sends late records to a topic, as for Windows.
type Sessions struct {
	gap, grace    time.Duration
	final         bool // EmitFinal
	maxOutOfOrder time.Duration
	lateTopic     string // LateRecordsTo
}

// SessionWindows returns session windows with the given inactivity gap and
// no grace.
func SessionWindows(gap time.Duration) Sessions { return Sessions{gap: gap} }

// WithGrace returns w with the given grace period.
func (w Sessions) WithGrace(grace time.Duration) Sessions {
	w.grace = grace
	return w
}

// EmitFinal returns w with final results only: a session aggregation over
// w forwards nothing when a session is updated or merged away, and
// forwards each session's result exactly once, when the session can no
// longer change (end + gap + grace <= watermark, the watermark being the
// stream time less MaxOutOfOrder), as Kafka Streams'
// suppress(Suppressed.untilWindowCloses(...)) on a session-windowed
// aggregation. A session merged away before it closes emits nothing. See
// SessionAggregate.
func (w Sessions) EmitFinal() Sessions {
	w.final = true
	return w
}

// Final reports whether w emits final results only (EmitFinal).
func (w Sessions) Final() bool { return w.final }

// WithMaxOutOfOrder returns w with a watermark delay, as
// Windows.WithMaxOutOfOrder: the aggregation's watermark trails its stream
// time by d; a record is on time when the session it would make or extend
// ends at or after watermark - gap - grace, and a session is closed once
// end + gap + grace <= watermark. The default is 0, Kafka Streams' model.
func (w Sessions) WithMaxOutOfOrder(d time.Duration) Sessions {
	w.maxOutOfOrder = d
	return w
}

// MaxOutOfOrder returns the watermark delay (WithMaxOutOfOrder).
func (w Sessions) MaxOutOfOrder() time.Duration { return w.maxOutOfOrder }

// LateRecordsTo returns w with a late-records topic, as
// Windows.LateRecordsTo: a record that a session aggregation over w does
// not apply because the session it would make or extend is closed is
// written to topic as the aggregation read it, with the headers
// samsa.late.reason ("session closed"), samsa.late.window.start and
// samsa.late.window.end (that session, both ends inclusive, Unix
// milliseconds), samsa.late.watermark, then the source headers of a dead
// letter. The topic must exist when the App starts, as a sink topic.
func (w Sessions) LateRecordsTo(topic string) Sessions {
	w.lateTopic = topic
	return w
}

// LateTopic returns the late-records topic (LateRecordsTo), or "".
func (w Sessions) LateTopic() string { return w.lateTopic }

// Gap returns the inactivity gap.
func (w Sessions) Gap() time.Duration { return w.gap }

// Grace returns the grace period.
func (w Sessions) Grace() time.Duration { return w.grace }

// Retention returns how long a session aggregation keeps a session after
// its end: gap + grace (+ MaxOutOfOrder), as Kafka Streams' default.
func (w Sessions) Retention() time.Duration { return w.gap + w.grace + w.maxOutOfOrder }

// lag is how far (ms) the close time trails the stream time: a session
// that ends at or before stream time - lag can no longer change.
func (w Sessions) lag() int64 { return w.Retention().Milliseconds() }

func (w Sessions) check() error {
	whole := func(d time.Duration) bool { return d%time.Millisecond == 0 }
	switch {
	case w.gap <= 0:
		return fmt.Errorf("session inactivity gap %v is not positive", w.gap)
	case w.grace < 0:
		return fmt.Errorf("session grace %v is negative", w.grace)
	case w.maxOutOfOrder < 0:
		return fmt.Errorf("session max out-of-order %v is negative", w.maxOutOfOrder)
	case !whole(w.gap) || !whole(w.grace) || !whole(w.maxOutOfOrder):
		return fmt.Errorf("session gap %v, grace %v and max out-of-order %v must be whole milliseconds", w.gap, w.grace, w.maxOutOfOrder)
	}
	return nil
}

// SessionWindowedSerde returns a serde of session-windowed keys in Kafka
// Streams' format (WindowedSerdes.sessionWindowedSerdeFrom): the key's
// bytes, then the session's end and start, each as 8 bytes of big-endian
// milliseconds.
func SessionWindowedSerde[K any](key serde.Serde[K]) serde.Serde[Windowed[K]] {
	return sessionWindowedSerde[K]{key}
}

type sessionWindowedSerde[K any] struct{ key serde.Serde[K] }

func (s sessionWindowedSerde[K]) Serialize(topic string, w Windowed[K]) ([]byte, error) {
	kb, err := s.key.Serialize(topic, w.Key)
	if err != nil {
		return nil, fmt.Errorf("session-windowed key: %w", err)
	}
	kb = binary.BigEndian.AppendUint64(kb, uint64(w.End.UnixMilli()))
	return binary.BigEndian.AppendUint64(kb, uint64(w.Start.UnixMilli())), nil
}

func (s sessionWindowedSerde[K]) Deserialize(topic string, data []byte) (Windowed[K], error) {
	if data == nil {
		return Windowed[K]{}, nil
	}
	if len(data) < 16 {
		return Windowed[K]{}, fmt.Errorf("%w: session-windowed key in %q needs at least 16 bytes, got %d", serde.ErrDeserialize, topic, len(data))
	}
	n := len(data) - 16
	k, err := s.key.Deserialize(topic, data[:n:n])
	if err != nil {
		return Windowed[K]{}, fmt.Errorf("session-windowed key: %w", err)
	}
	end, start := int64(binary.BigEndian.Uint64(data[n:])), int64(binary.BigEndian.Uint64(data[n+8:]))
	return Windowed[K]{Key: k, Start: time.UnixMilli(start), End: time.UnixMilli(end)}, nil
}

// SessionAggregate folds the records of each key into session windows kept
// in the session store named store (logged to <application
// id>-<store>-changelog, retention sessions.Retention()) and emits every
// updated session, keyed by key and session [Start, End] (End inclusive):
// Kafka Streams' groupByKey().windowedBy(sessions).aggregate(...).toStream().
// The store's record cache (samsa.Config.CacheMaxBytes, on by default; not
// with EmitFinal) collapses the updates of a session between two commits
// into one, written and emitted at the commit, as Kafka Streams' caching
// session store: a session merged away is emitted as a tombstone at the
// commit only if it had been emitted (written) before, so that a session
// made and merged away between two commits emits nothing; the sessions the
// aggregation reads to merge a record are the cache's over the store's.
// Topology.WithoutCache emits every update and tombstone, as Kafka Streams
// with caching off. After a key change the records are first repartitioned
// by key, as in Aggregate.
//
// A record starts a session, extends one, or joins the sessions it falls
// between: their aggregates are combined with merge (starting from
// initial), the record added with add. Each session merged away is
// removed and emitted as a tombstone (its key and window, its end as the
// time) before the merged session; as in Kafka Streams, a session's result
// carries the session's end as its time.
//
// As in Kafka Streams: the stream time is the highest event time of the
// records the aggregation has seen; a record whose session would end before
// stream time - gap - grace is late (dropped, counted by the task and
// logged at debug level); sessions that ended gap + grace or more before
// the stream time are gone and no longer merge; a null key is dropped
// without advancing the stream time; a tombstone is aggregated (add
// receives the zero value). With sessions.WithMaxOutOfOrder(d) both bounds
// move d further back; with sessions.LateRecordsTo(topic) late records are
// also written to topic.
//
// With sessions.EmitFinal(), nothing is emitted when a session is updated
// or merged away: a session's result is emitted once, when it can no
// longer change (end <= stream time - MaxOutOfOrder - gap - grace: a
// record within the gap would be late, and the session no longer merges),
// as Kafka Streams' suppress(Suppressed.untilWindowCloses(unbounded())) on
// a session-windowed aggregation:
//   - the sessions that close at once (of any keys) are emitted by end,
//     then serialized key; a new session that is closed as soon as it is
//     made (it ends exactly at the close time) is emitted by the record
//     that made it;
//   - a session merged into another before it closes emits nothing (no
//     tombstones);
//   - a result carries the session's end as its time and the headers of
//     the record that closed it (Kafka Streams' suppress: of the session's
//     last update).
//
// Final results are exactly once, as WindowedAggregate's: the sessions not
// emitted yet and the close time up to which sessions were emitted are
// kept in the key-value store <store>-emitted (logged to <application
// id>-<store>-emitted-changelog), which rolls back with an aborted
// transaction and is restored after a crash; after an abort the stream
// time goes back to the last commit. After a restart a session emitted
// before stays closed (it no longer merges, and a record for it is late)
// even though the stream time starts again.
func SessionAggregate[K, V, A any](s Stream[K, V], sessions Sessions, store string, initial func() A, add func(key K, value V, agg A) A, merge func(key K, a, b A) A, key serde.Serde[K], agg serde.Serde[A]) Stream[Windowed[K], A] {
	s.t.nilFuncs("SessionAggregate "+strconv.Quote(store), "initial", initial, "add", add, "merge", merge)
	s = byKey(s, fmt.Sprintf("SessionAggregate %q", store), store, key, nil)
	return sessionAggregation(s.t, sessions, store, func(core func() processor.Processor[K, fold[A], Windowed[K], A]) processor.Supplier[K, V, Windowed[K], A] {
		return singleStream(core,
			func(k K, v V, _ bool) (A, bool, error) { return add(k, v, initial()), false, nil },
			func(k K, v V, a A) (A, error) { return add(k, v, a), nil })
	}, initial, merge, key, agg, s.node)
}

// sessionAggregation adds the processor of a session aggregation fed by
// parents, made by supplier around the aggregation's processor (core),
// with its emitted store (final results), its late-records topic and its
// session store.
func sessionAggregation[K, VIn, A any](t *Topology, sessions Sessions, store string, supplier func(core func() processor.Processor[K, fold[A], Windowed[K], A]) processor.Supplier[K, VIn, Windowed[K], A], initial func() A, merge func(K, A, A) A, key serde.Serde[K], agg serde.Serde[A], parents ...string) Stream[Windowed[K], A] {
	name := t.name("KSTREAM-AGGREGATE")
	if err := sessions.check(); err != nil {
		t.g.Errorf("topology: session aggregation %q (store %q): %v", name, store, err)
		sessions = SessionWindows(time.Millisecond) // keeps building; Validate fails
	}
	core := func() processor.Processor[K, fold[A], Windowed[K], A] {
		return &sessionAggregator[K, A]{sessions: sessions, store: store, initial: initial, merge: merge}
	}
	addWindowedProcessor(t, name, store, sessions.final, lateness{maxOutOfOrder: sessions.maxOutOfOrder, lateTopic: sessions.lateTopic}, supplier(core), parents)
	_, exists := t.g.Stores[store]
	AddSessionStore(t, SessionStore[K, A]{Name: store, Key: key, Value: agg, Retention: sessions.Retention()}, name)
	if def, ok := t.g.Stores[store]; ok && !exists && key != nil && agg != nil {
		def.Wrap = func(o engine.Opened) processor.StateStore {
			return &clockedSessionStore[K, A]{SessionStore: stores.WrapSessionStore(o.Session, key, agg), raw: o.Raw, key: key, value: agg, clock: newStreamClock(o.Raw)}
		}
	}
	return Stream[Windowed[K], A]{t: t, node: name}
}

// SessionCount counts the records of each key in session windows kept in the
// session store named store, and emits every updated session's count (and a
// tombstone for each session merged away), as Kafka Streams'
// groupByKey().windowedBy(sessions).count().toStream(), or, with
// sessions.EmitFinal(), each session's count once, when it closes. It is
// SessionAggregate with a counter; a tombstone counts as a record.
func SessionCount[K, V any](s Stream[K, V], sessions Sessions, store string, key serde.Serde[K]) Stream[Windowed[K], int64] {
	s = byKey(s, fmt.Sprintf("SessionCount %q", store), store, key, serde.Serde[V](ignoredValue[V]{}))
	return SessionAggregate(s, sessions, store, func() int64 { return 0 },
		func(_ K, _ V, n int64) int64 { return n + 1 },
		func(_ K, a, b int64) int64 { return a + b }, key, serde.Int64)
}

// sessionAggregator is the processor of the session aggregations, as Kafka
// Streams' KStreamSessionWindowAggregate, over records whose values are
// folds (of one stream or of several, cogrouped): a record's fold adds it
// to the aggregate of the sessions it joins, merged from initial().
type sessionAggregator[K, A any] struct {
	sessions Sessions
	store    string
	initial  func() A
	merge    func(K, A, A) A
	ctx      processor.Context[Windowed[K], A]
	st       *clockedSessionStore[K, A]
	clock    *streamClock // the stream time, in step with the store
	// fin is the state of final results (Sessions.EmitFinal), nil without:
	// it keeps the stream time in place of clock.
	fin *emitState
}

// clockedSessionStore is the session store of a session aggregation, with
// the aggregation's stream time kept in step with its transactions.
type clockedSessionStore[K, A any] struct {
	processor.SessionStore[K, A]
	raw   processor.BytesKeyValueStore // beneath (its transactions)
	key   serde.Serde[K]
	value serde.Serde[A]
	clock *streamClock
	// cache is the store's record cache (session_cache.go), nil when off.
	cache *sessionCache[K, A]
}

// StoreType names the store as processors see it, for errors.
func (s *clockedSessionStore[K, A]) StoreType() string {
	return stores.TypeName[K, A]("SessionStore")
}

func (a *sessionAggregator[K, A]) Init(ctx processor.Context[Windowed[K], A]) error {
	st, err := processor.GetSessionStore[K, A](ctx, a.store)
	if err != nil {
		return fmt.Errorf("topology: session aggregation: %w", err)
	}
	c, ok := st.(*clockedSessionStore[K, A])
	if !ok {
		return fmt.Errorf("topology: store %q is a %T, not a session aggregation's store", a.store, st)
	}
	a.ctx, a.st, a.clock = ctx, c, c.clock
	if a.sessions.final {
		if a.fin, err = emitStateOf(ctx, a.store, "session aggregation"); err != nil {
			return err
		}
		return nil
	}
	// No record cache with final results: an update forwards nothing.
	c.enableCache(ctx, func(r processor.Record[Windowed[K], A]) { a.ctx.Forward(r) })
	return nil
}

func (a *sessionAggregator[K, A]) Process(r processor.Record[K, fold[A]]) error {
	if r.KeyIsNull() {
		dropped(a.ctx, "null key in a session aggregation")
		return nil
	}
	ts := r.Timestamp.UnixMilli()
	if ts < 0 {
		dropped(a.ctx, "event time before the Unix epoch in a session aggregation")
		return nil
	}
	gap := a.sessions.gap.Milliseconds()
	// Sessions that end at or before the close time can no longer change:
	// they are expired, as in Kafka Streams' session store, even if not
	// yet deleted, and with final results they are emitted (before the
	// store is written to, which may delete them).
	closeTime, err := advanceClock(a.clock, a.fin, ts, a.sessions.lag())
	if err != nil {
		return err
	}
	if err := a.emitClosed(r, closeTime-1); err != nil {
		return err
	}
	start, end := ts, ts
	agg := a.initial()
	merged, err := a.st.findSessions(r.Key, max(ts-gap, closeTime+1), ts+gap)
	if err != nil {
		return err
	}
	for _, kv := range merged {
		agg = a.merge(r.Key, agg, kv.Value)
		start, end = min(start, kv.Key.Start.UnixMilli()), max(end, kv.Key.End.UnixMilli())
	}
	if end < closeTime {
		watermark := closeTime + a.sessions.lag() - a.sessions.maxOutOfOrder.Milliseconds()
		droppedf(a.ctx, "late record in a session aggregation", "event time %d, session [%d,%d] closed (watermark %d, gap %v, grace %v)",
			ts, start, end, watermark, a.sessions.gap, a.sessions.grace)
		if a.sessions.lateTopic != "" {
			divertLate(a.ctx, a.sessions.lateTopic, "session closed", start, end, watermark)
		}
		return a.emitClosed(r, closeTime)
	}
	if agg, err = r.Value.add(agg); err != nil {
		return err // to the processing-error policy; no session changed
	}
	var kb []byte // the serialized key, with final results
	if a.fin != nil {
		if kb, err = a.st.key.Serialize(a.store, r.Key); err != nil {
			return fmt.Errorf("session store %q: serialize key: %w", a.store, err)
		}
	}
	if start != ts || end != ts {
		for _, kv := range merged {
			gone := processor.WithKeyValue(r, Windowed[K]{Key: r.Key, Start: kv.Key.Start, End: kv.Key.End}, kv.Value).AsTombstone()
			gone.Timestamp = kv.Key.End
			cached, err := a.st.update(kv.Key, kv.Value, true, gone)
			if err != nil {
				return err
			}
			if a.fin != nil {
				if err := a.fin.untrack(sessionDue(kb, kv.Key.Start.UnixMilli(), kv.Key.End.UnixMilli())); err != nil {
					return err
				}
			} else if !cached {
				a.ctx.Forward(gone)
			}
		}
	}
	sess := processor.Session[K]{Key: r.Key, Start: time.UnixMilli(start), End: time.UnixMilli(end)}
	out := processor.WithKeyValue(r, Windowed[K]{Key: r.Key, Start: sess.Start, End: sess.End}, agg)
	out.Timestamp = sess.End
	cached, err := a.st.update(sess, agg, false, out)
	if err != nil || cached {
		return err
	}
	if a.fin != nil {
		w := sessionDue(kb, start, end)
		if err := a.fin.track(w.start, w.key); err != nil {
			return err
		}
		return a.emitClosed(r, closeTime)
	}
	a.ctx.Forward(out)
	return nil
}

// sessionDue is a session of serialized key kb as the emitted store
// indexes it: by end, then key, then start.
func sessionDue(kb []byte, start, end int64) dueWindow {
	return dueWindow{start: end, key: binary.BigEndian.AppendUint64(bytes.Clone(kb), uint64(start))}
}

// emitClosed, with final results, emits every session not emitted yet that
// ends at or before upTo, by end then serialized key, and records upTo as
// emitted when it is later than what was.
func (a *sessionAggregator[K, A]) emitClosed(r processor.Record[K, fold[A]], upTo int64) error {
	if a.fin == nil {
		return nil
	}
	if err := a.fin.emitDue(upTo, func(w dueWindow) error { return a.emitFinal(r, w) }); err != nil {
		return err
	}
	if upTo > a.fin.emitted {
		return a.fin.setEmitted(upTo)
	}
	return nil
}

// emitFinal forwards the final result of one session, with r's headers
// and the session's end as its time, if the session is still in the store.
func (a *sessionAggregator[K, A]) emitFinal(r processor.Record[K, fold[A]], w dueWindow) error {
	if len(w.key) < 8 {
		return fmt.Errorf("store %q: malformed session index key %x", a.store+emittedSuffix, w.key)
	}
	n := len(w.key) - 8
	start, end := int64(binary.BigEndian.Uint64(w.key[n:])), w.start
	k, err := a.st.key.Deserialize(a.store, w.key[:n:n])
	if err != nil {
		return fmt.Errorf("session store %q: deserialize key: %w", a.store, err)
	}
	for kv, err := range a.st.SessionStore.FindSessions(k, time.UnixMilli(end), time.UnixMilli(start)) { // no cache with final results
		if err != nil {
			return err
		}
		if e := kv.Key.End.UnixMilli(); e > end {
			break // by end: not there
		} else if e < end || kv.Key.Start.UnixMilli() != start {
			continue
		}
		out := processor.WithKeyValue(r, Windowed[K]{Key: k, Start: kv.Key.Start, End: kv.Key.End}, kv.Value)
		out.Timestamp = kv.Key.End
		a.ctx.Forward(out)
		return nil
	}
	return nil
}
