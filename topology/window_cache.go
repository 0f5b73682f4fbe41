package topology

import (
	"encoding/binary"
	"time"

	"github.com/samsa-streams/samsa/processor"
)

// windowCache is the record cache of a windowed aggregation's window store
// (time windows, emitting every update), as Kafka Streams'
// CachingWindowStore: a recordCache whose cache key is the serialized key,
// then the window start (8 bytes, big-endian ms), so that one output and
// one changelog record are written per key and window per commit.
//
// The store's retention moves as without the cache: every cached update
// tells the store its window start (engine.BytesWindowStore.Observe), as the write
// would, and an update of a window behind the retention is not cached
// (the store drops its write; the caller forwards it at once). A flushed
// entry whose window fell behind the retention since it was cached is
// forwarded, and its write dropped by the store, as Kafka Streams'
// CachingWindowStore forwards it and its segmented store skips the write
// for an expired segment. Late records are judged by the aggregation's
// stream time before the cache is read: a cached window does not make
// them on time.
type windowCache[K, A any] struct {
	*recordCache[Windowed[K], A]
	s *timestampedWindowStore[K, A]
}

// windowCacheKey is the cache key of the window of the serialized key kb
// starting at start (ms).
func windowCacheKey(kb []byte, start int64) []byte {
	return binary.BigEndian.AppendUint64(append(make([]byte, 0, len(kb)+8), kb...), uint64(start))
}

// enableCache gives the store a record cache, unless caching is off for
// the instance or the store, or the store has one already. emit forwards a
// flushed entry.
func (s *timestampedWindowStore[K, A]) enableCache(ctx processor.TaskContext, emit func(e *cacheEntry[Windowed[K], A])) {
	if s.cache != nil {
		return
	}
	write := func(e *cacheEntry[Windowed[K], A]) error {
		return s.raw.Put(e.kb, e.vb, time.UnixMilli(e.start)) // nil deletes
	}
	if c := newRecordCache(ctx, s.raw.Name(), s.base, write, emit); c != nil {
		c.windows = map[string]map[string]*cacheEntry[Windowed[K], A]{}
		s.cache = &windowCache[K, A]{c, s}
	}
}

// put caches the update of k's window starting at start (ms) to v (null:
// the window is deleted), forwarded as rec when flushed. It reports false,
// caching nothing, when the window is behind the store's retention: the
// caller writes it (the store drops the write) and forwards it at once, as
// without the cache.
func (c *windowCache[K, A]) put(k K, start int64, v timestamped[A], null bool, rec processor.Record[Windowed[K], A]) (bool, error) {
	kb, vb, err := c.s.serialize(k, v)
	if err != nil {
		return false, err
	}
	if null {
		vb = nil
	}
	if expired, err := c.s.observe(start); err != nil || expired {
		return false, err
	}
	return true, c.recordCache.put(string(windowCacheKey(kb, start)), kb, start, vb, v, rec, timestamped[A]{}, false)
}

// observe tells the store of a write of the window starting at start (ms)
// that the cache defers, and reports whether the window is behind the
// retention.
func (s *timestampedWindowStore[K, A]) observe(start int64) (bool, error) {
	return s.raw.Observe(time.UnixMilli(start))
}

// cached returns the cached aggregate of k's window starting at start
// (ms), if the cache holds it: found reports whether it does, ok whether
// the window has an aggregate (false: a cached delete).
func (s *timestampedWindowStore[K, A]) cached(k K, start int64) (v timestamped[A], ok, found bool, err error) {
	if s.cache == nil {
		return v, false, false, nil
	}
	kb, err := s.serializeKey(k)
	if err != nil {
		return v, false, false, err
	}
	e, found := s.cache.lookup(windowCacheKey(kb, start))
	if !found || e.vb == nil {
		return v, false, found, nil
	}
	return e.val, true, true, nil
}

// bypass prepares a write of a window that does not go through the cache
// (kb nil: a read of a range of windows): the window's cached update is
// written and forwarded first (for a range read, every dirty entry is
// written, to be forwarded at the flush).
func (s *timestampedWindowStore[K, A]) bypass(kb []byte, start int64) error {
	switch {
	case s.cache == nil:
		return nil
	case kb == nil:
		return s.cache.writeDirty()
	}
	return s.cache.flushKey(windowCacheKey(kb, start))
}

// store stores the update of k's window starting at start (ms) to v
// (null: the window is deleted), or caches it, to be forwarded as rec when
// flushed: cached reports whether it did, and else the caller forwards rec.
func (s *timestampedWindowStore[K, A]) store(k K, start int64, v timestamped[A], null bool, rec processor.Record[Windowed[K], A]) (cached bool, err error) {
	if c := s.cache; c != nil {
		if cached, err := c.put(k, start, v, null, rec); err != nil || cached {
			return cached, err
		}
	}
	if null {
		return false, s.deleteWindow(k, start)
	}
	return false, s.putTimed(k, v, start)
}

// fetchRange returns k's windows with from <= start <= to (ms), by start:
// the store's, with the cache's updates over them (a cached delete hides
// the store's window), as Kafka Streams' CachingWindowStore merges its
// cache and its store in a fetch.
func (s *timestampedWindowStore[K, A]) fetchRange(k K, from, to int64) ([]windowAt[A], error) {
	var ws []windowAt[A]
	for w, err := range s.inner.Fetch(k, time.UnixMilli(from), time.UnixMilli(to)) {
		if err != nil {
			return nil, err
		}
		ws = append(ws, windowAt[A]{start: w.Start.UnixMilli(), val: w.Value})
	}
	if s.cache == nil || len(s.cache.windows) == 0 {
		return ws, nil
	}
	kb, err := s.serializeKey(k)
	if err != nil {
		return nil, err
	}
	return overlay(s.cache.recordCache, kb, ws,
		func(w windowAt[A]) []byte { return windowCacheKey(kb, w.start) },
		func(e *cacheEntry[Windowed[K], A]) bool { return e.start >= from && e.start <= to },
		func(e *cacheEntry[Windowed[K], A]) windowAt[A] { return windowAt[A]{start: e.start, val: e.val} },
		func(w windowAt[A]) (int64, int64) { return w.start, 0 }), nil
}

// windowAt is a window of a key: its start (ms) and aggregate.
type windowAt[A any] struct {
	start int64
	val   timestamped[A]
}

// flushCache writes and forwards the updates the store's record cache
// holds, if it has one.
func (s *timestampedWindowStore[K, A]) flushCache() error {
	if s == nil || s.cache == nil {
		return nil
	}
	return s.cache.flush()
}

// closeCache drops the store's record cache, if it has one.
func (s *timestampedWindowStore[K, A]) closeCache() {
	if s != nil && s.cache != nil {
		s.cache.close()
		s.cache = nil
	}
}

// FlushCache writes and forwards the updates the store's record cache
// holds (engine.Flusher).
func (a *windowAggregator[K, A]) FlushCache() error { return a.st.flushCache() }

func (a *windowAggregator[K, A]) Close() error {
	a.st.closeCache()
	return nil
}
