package topology

import (
	"encoding/binary"
	"fmt"
	"iter"
	"time"

	"github.com/samsa-streams/samsa/processor"
)

// sessionCache is the record cache of a session aggregation's store
// (emitting every update), as Kafka Streams' CachingSessionStore: a
// recordCache whose cache key is the serialized key, then the session's
// end and start (8 bytes each, big-endian ms), so that one output and one
// changelog record are written per session per commit. A session merged
// away is cached as a delete, whose record is the session's tombstone: at
// the flush it is written and its tombstone forwarded only if the store
// holds the session (it was flushed before); a session made and merged
// away between two flushes is never written and forwards nothing, as
// Kafka Streams' CachingSessionStore skips an entry whose new and old
// values are both null.
//
// Unlike a window cache, a session cache does not move the store's
// retention as it takes updates: the aggregation reads no session that
// ends at or before its close time (stream time - gap - grace -
// MaxOutOfOrder: the retention), whatever the store still holds, and a
// flushed session behind the retention is forwarded and its write
// dropped by the store, as a window cache's.
type sessionCache[K, A any] struct {
	*recordCache[Windowed[K], A]
}

// sessionCacheKey is the cache key of the session [start, end] of the
// serialized key kb.
func sessionCacheKey(kb []byte, start, end int64) []byte {
	return binary.BigEndian.AppendUint64(windowCacheKey(kb, end), uint64(start))
}

// entrySession is the session of a cache entry, from its record's key.
func entrySession[K, A any](e *cacheEntry[Windowed[K], A]) processor.Session[K] {
	return processor.Session[K]{Key: e.rec.Key.Key, Start: e.rec.Key.Start, End: e.rec.Key.End}
}

// enableCache gives the store a record cache, unless caching is off for
// the instance or the store, or the store has one already. forward
// forwards a flushed entry's record.
func (s *clockedSessionStore[K, A]) enableCache(ctx processor.TaskContext, forward func(processor.Record[Windowed[K], A])) {
	if s.cache != nil {
		return
	}
	write := func(e *cacheEntry[Windowed[K], A]) error {
		sess := entrySession(e)
		if e.vb != nil {
			return s.SessionStore.Put(sess, e.val.agg)
		}
		// A delete: hadOld tells emit whether the store held the session.
		held, err := s.holds(sess)
		e.hadOld = held
		if err != nil || !held {
			return err
		}
		return s.SessionStore.Remove(sess)
	}
	emit := func(e *cacheEntry[Windowed[K], A]) {
		if !e.rec.IsTombstone() || e.hadOld {
			forward(e.rec)
		}
	}
	if c := newRecordCache(ctx, s.Name(), s.raw, write, emit); c != nil {
		c.windows = map[string]map[string]*cacheEntry[Windowed[K], A]{}
		s.cache = &sessionCache[K, A]{c}
	}
}

// holds reports whether the store (not the cache) holds the session.
func (s *clockedSessionStore[K, A]) holds(sess processor.Session[K]) (bool, error) {
	for kv, err := range s.SessionStore.FindSessions(sess.Key, sess.End, sess.Start) {
		if err != nil {
			return false, err
		}
		if kv.Key.End.After(sess.End) {
			break // by end: not there
		}
		if kv.Key.End.Equal(sess.End) && kv.Key.Start.Equal(sess.Start) {
			return true, nil
		}
	}
	return false, nil
}

// update stores the session's aggregate agg (remove: deletes the session),
// or caches it, to be forwarded as rec when flushed: cached reports
// whether it did, and else the caller forwards rec.
func (s *clockedSessionStore[K, A]) update(sess processor.Session[K], agg A, remove bool, rec processor.Record[Windowed[K], A]) (cached bool, err error) {
	if s.cache == nil {
		if remove {
			return false, s.SessionStore.Remove(sess)
		}
		return false, s.SessionStore.Put(sess, agg)
	}
	kb, err := s.serializeKey(sess.Key)
	if err != nil {
		return false, err
	}
	var vb []byte
	if !remove {
		if vb, err = s.value.Serialize(s.Name(), agg); err != nil {
			return false, fmt.Errorf("session store %q: serialize value: %w", s.Name(), err)
		}
	}
	start, end := sess.Start.UnixMilli(), sess.End.UnixMilli()
	return true, s.cache.put(string(sessionCacheKey(kb, start, end)), kb, start, vb, timestamped[A]{agg: agg, ms: end}, rec, timestamped[A]{}, false)
}

func (s *clockedSessionStore[K, A]) serializeKey(k K) ([]byte, error) {
	kb, err := s.key.Serialize(s.Name(), k)
	if err != nil {
		return nil, fmt.Errorf("session store %q: serialize key: %w", s.Name(), err)
	}
	return kb, nil
}

// findSessions is FindSessions as the aggregation reads it: the store's
// sessions with the cache's updates over them (a cached delete hides the
// store's session), by end then start, as Kafka Streams'
// CachingSessionStore merges its cache and its store.
func (s *clockedSessionStore[K, A]) findSessions(k K, earliestEnd, latestStart int64) ([]processor.KeyValue[processor.Session[K], A], error) {
	var ss []processor.KeyValue[processor.Session[K], A]
	for kv, err := range s.SessionStore.FindSessions(k, time.UnixMilli(earliestEnd), time.UnixMilli(latestStart)) {
		if err != nil {
			return nil, err
		}
		ss = append(ss, kv)
	}
	if s.cache == nil || len(s.cache.windows) == 0 {
		return ss, nil
	}
	kb, err := s.serializeKey(k)
	if err != nil {
		return nil, err
	}
	type kv = processor.KeyValue[processor.Session[K], A]
	return overlay(s.cache.recordCache, kb, ss,
		func(s kv) []byte { return sessionCacheKey(kb, s.Key.Start.UnixMilli(), s.Key.End.UnixMilli()) },
		func(e *cacheEntry[Windowed[K], A]) bool {
			return e.val.ms >= max(earliestEnd, 0) && e.start <= latestStart
		},
		func(e *cacheEntry[Windowed[K], A]) kv { return kv{Key: entrySession(e), Value: e.val.agg} },
		func(s kv) (int64, int64) { return s.Key.End.UnixMilli(), s.Key.Start.UnixMilli() }), nil
}

// bypass prepares a write of a session that does not go through the
// cache: the session's cached update is written and forwarded first.
func (s *clockedSessionStore[K, A]) bypass(sess *processor.Session[K]) error {
	if s.cache == nil {
		return nil
	}
	kb, err := s.serializeKey(sess.Key)
	if err != nil {
		return err
	}
	return s.cache.flushKey(sessionCacheKey(kb, sess.Start.UnixMilli(), sess.End.UnixMilli()))
}

// FindSessions yields the sessions of k, the cache's over the store's
// (findSessions). Unlike a window store's range read, it writes nothing
// early: the store holds a session only once it was forwarded, which is
// what a delete's tombstone depends on.
func (s *clockedSessionStore[K, A]) FindSessions(k K, earliestEnd, latestStart time.Time) iter.Seq2[processor.KeyValue[processor.Session[K], A], error] {
	return func(yield func(processor.KeyValue[processor.Session[K], A], error) bool) {
		ss, err := s.findSessions(k, earliestEnd.UnixMilli(), latestStart.UnixMilli())
		if err != nil {
			yield(processor.KeyValue[processor.Session[K], A]{}, err)
			return
		}
		for _, kv := range ss {
			if !yield(kv, nil) {
				return
			}
		}
	}
}

// Put stores a session's value, its cached update forwarded first.
func (s *clockedSessionStore[K, A]) Put(sess processor.Session[K], v A) error {
	if err := s.bypass(&sess); err != nil {
		return err
	}
	return s.SessionStore.Put(sess, v)
}

// Remove deletes a session, its cached update forwarded first.
func (s *clockedSessionStore[K, A]) Remove(sess processor.Session[K]) error {
	if err := s.bypass(&sess); err != nil {
		return err
	}
	return s.SessionStore.Remove(sess)
}

// FlushCache writes and forwards the updates the store's record cache
// holds (engine.Flusher).
func (a *sessionAggregator[K, A]) FlushCache() error {
	if a.st == nil || a.st.cache == nil {
		return nil
	}
	return a.st.cache.flush()
}

func (a *sessionAggregator[K, A]) Close() error {
	if a.st != nil && a.st.cache != nil {
		a.st.cache.close()
		a.st.cache = nil
	}
	return nil
}
