package topology

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"time"

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
type Sessions struct {
	gap, grace time.Duration
}

// SessionWindows returns session windows with the given inactivity gap and
// no grace.
func SessionWindows(gap time.Duration) Sessions { return Sessions{gap: gap} }

// WithGrace returns w with the given grace period.
func (w Sessions) WithGrace(grace time.Duration) Sessions {
	w.grace = grace
	return w
}

// Gap returns the inactivity gap.
func (w Sessions) Gap() time.Duration { return w.gap }

// Grace returns the grace period.
func (w Sessions) Grace() time.Duration { return w.grace }

// Retention returns how long a session aggregation keeps a session after
// its end: gap + grace, as Kafka Streams' default.
func (w Sessions) Retention() time.Duration { return w.gap + w.grace }

func (w Sessions) check() error {
	switch {
	case w.gap <= 0:
		return fmt.Errorf("session inactivity gap %v is not positive", w.gap)
	case w.grace < 0:
		return fmt.Errorf("session grace %v is negative", w.grace)
	case w.gap%time.Millisecond != 0 || w.grace%time.Millisecond != 0:
		return fmt.Errorf("session gap %v and grace %v must be whole milliseconds", w.gap, w.grace)
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
// Kafka Streams' groupByKey().windowedBy(sessions).aggregate(...).toStream()
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
// receives the zero value).
func SessionAggregate[K, V, A any](s Stream[K, V], sessions Sessions, store string, initial func() A, add func(key K, value V, agg A) A, merge func(key K, a, b A) A, key serde.Serde[K], agg serde.Serde[A]) Stream[Windowed[K], A] {
	s.t.nilFuncs("SessionAggregate "+strconv.Quote(store), "initial", initial, "add", add, "merge", merge)
	s = byKey(s, fmt.Sprintf("SessionAggregate %q", store), store, key, nil)
	name := s.t.name("KSTREAM-AGGREGATE")
	if err := sessions.check(); err != nil {
		s.t.g.Errorf("topology: session aggregation %q (store %q): %v", name, store, err)
		sessions = SessionWindows(time.Millisecond)
	}
	AddProcessor(s.t, name, func() processor.Processor[K, V, Windowed[K], A] {
		return &sessionAggregator[K, V, A]{sessions: sessions, store: store, initial: initial, add: add, merge: merge}
	}, s.node)
	_, exists := s.t.g.Stores[store]
	AddSessionStore(s.t, SessionStore[K, A]{Name: store, Key: key, Value: agg, Retention: sessions.Retention()}, name)
	if def, ok := s.t.g.Stores[store]; ok && !exists && key != nil && agg != nil {
		ret := sessions.Retention()
		def.Wrap = func(raw processor.BytesKeyValueStore) processor.StateStore {
			return &clockedSessionStore[K, A]{SessionStore: stores.NewSessionStore(raw, key, agg, ret, 3), clock: newStreamClock(raw)}
		}
	}
	return Stream[Windowed[K], A]{t: s.t, node: name}
}

// SessionCount counts the records of each key in session windows kept in the
// session store named store, and emits every updated session's count (and a
// tombstone for each session merged away), as Kafka Streams'
// groupByKey().windowedBy(sessions).count().toStream(). It is
// SessionAggregate with a counter; a tombstone counts as a record.
func SessionCount[K, V any](s Stream[K, V], sessions Sessions, store string, key serde.Serde[K]) Stream[Windowed[K], int64] {
	s = byKey(s, fmt.Sprintf("SessionCount %q", store), store, key, serde.Serde[V](ignoredValue[V]{}))
	return SessionAggregate(s, sessions, store, func() int64 { return 0 },
		func(_ K, _ V, n int64) int64 { return n + 1 },
		func(_ K, a, b int64) int64 { return a + b }, key, serde.Int64)
}

// sessionAggregator is the processor of SessionAggregate, as Kafka Streams'
// KStreamSessionWindowAggregate.
type sessionAggregator[K, V, A any] struct {
	sessions Sessions
	store    string
	initial  func() A
	add      func(K, V, A) A
	merge    func(K, A, A) A
	ctx      processor.Context[Windowed[K], A]
	st       processor.SessionStore[K, A]
	clock    *streamClock // the stream time, in step with the store
}

// clockedSessionStore is the session store of a session aggregation, with
// the aggregation's stream time kept in step with its transactions.
type clockedSessionStore[K, A any] struct {
	processor.SessionStore[K, A]
	clock *streamClock
}

// StoreType names the store as processors see it, for errors.
func (s *clockedSessionStore[K, A]) StoreType() string {
	return stores.TypeName[K, A]("SessionStore")
}

func (a *sessionAggregator[K, V, A]) Init(ctx processor.Context[Windowed[K], A]) error {
	st, err := processor.GetSessionStore[K, A](ctx, a.store)
	if err != nil {
		return fmt.Errorf("topology: session aggregation: %w", err)
	}
	c, ok := st.(*clockedSessionStore[K, A])
	if !ok {
		return fmt.Errorf("topology: store %q is a %T, not a session aggregation's store", a.store, st)
	}
	a.ctx, a.st, a.clock = ctx, st, c.clock
	return nil
}

func (a *sessionAggregator[K, V, A]) Process(r processor.Record[K, V]) error {
	if r.KeyIsNull() {
		dropped(a.ctx, "null key in a session aggregation")
		return nil
	}
	ts := r.Timestamp.UnixMilli()
	if ts < 0 {
		dropped(a.ctx, "event time before the Unix epoch in a session aggregation")
		return nil
	}
	a.clock.now = max(a.clock.now, ts)
	observed := a.clock.now
	gap, grace := a.sessions.gap.Milliseconds(), a.sessions.grace.Milliseconds()
	closeTime := observed - gap - grace
	// Sessions that ended at or before stream time - retention are expired,
	// as in Kafka Streams' session store, even if not yet deleted.
	earliestEnd := max(ts-gap, observed-(gap+grace)+1)
	var merged []processor.KeyValue[processor.Session[K], A]
	start, end := ts, ts
	agg := a.initial()
	for kv, err := range a.st.FindSessions(r.Key, time.UnixMilli(earliestEnd), time.UnixMilli(ts+gap)) {
		if err != nil {
			return err
		}
		merged = append(merged, kv)
		agg = a.merge(r.Key, agg, kv.Value)
		start, end = min(start, kv.Key.Start.UnixMilli()), max(end, kv.Key.End.UnixMilli())
	}
	if end < closeTime {
		droppedf(a.ctx, "late record in a session aggregation", "event time %d, session [%d,%d] closed (stream time %d, gap %v, grace %v)",
			ts, start, end, observed, a.sessions.gap, a.sessions.grace)
		return nil
	}
	agg = a.add(r.Key, r.Value, agg)
	if start != ts || end != ts {
		for _, kv := range merged {
			if err := a.st.Remove(kv.Key); err != nil {
				return err
			}
			gone := processor.WithKeyValue(r, Windowed[K]{Key: r.Key, Start: kv.Key.Start, End: kv.Key.End}, kv.Value).AsTombstone()
			gone.Timestamp = kv.Key.End
			a.ctx.Forward(gone)
		}
	}
	sess := processor.Session[K]{Key: r.Key, Start: time.UnixMilli(start), End: time.UnixMilli(end)}
	if err := a.st.Put(sess, agg); err != nil {
		return err
	}
	out := processor.WithKeyValue(r, Windowed[K]{Key: r.Key, Start: sess.Start, End: sess.End}, agg)
	out.Timestamp = sess.End
	a.ctx.Forward(out)
	return nil
}

func (a *sessionAggregator[K, V, A]) Close() error { return nil }
