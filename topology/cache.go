package topology

import (
	"cmp"
	"container/list"
	"fmt"
	"slices"

	"github.com/samsa-streams/samsa/internal/engine"
	"github.com/samsa-streams/samsa/processor"
)

// WithoutCache turns the record cache off for the named stores of
// aggregations (Aggregate, Count, Reduce, their Err forms, Cogroup's
// Aggregate, TableAggregate, TableCount, TableReduce) and of windowed
// aggregations over time, sliding and session windows (WindowedAggregate,
// WindowedCount, WindowedReduce, SlidingAggregate, SlidingCount,
// SlidingReduce, SessionAggregate, SessionCount, Cogroup's
// WindowedAggregate, SlidingAggregate and SessionAggregate, without
// EmitFinal): their operators then write every
// update to the store (and its changelog) and forward it at once, as Kafka
// Streams' Materialized.withCachingDisabled(). Call it after the operator
// that adds the store; an unknown store is a topology error. See
// samsa.Config.CacheMaxBytes for what the cache does.
func (t *Topology) WithoutCache(stores ...string) {
	for _, name := range stores {
		def, ok := t.g.Stores[name]
		if !ok {
			t.g.Errorf("topology: WithoutCache: unknown store %q (call it after the operator that adds the store)", name)
			continue
		}
		def.Uncached = true
	}
}

// cacheEntryOverhead is what a cache entry counts for besides its key
// and value bytes (the entry, its list elements and map slot), as Kafka
// Streams' cache counts its LRU entry's overhead.
const cacheEntryOverhead = 96

// recordCache is the record cache of one aggregation store instance (per
// task, per store), as Kafka Streams' caching stores (CachingKeyValueStore,
// CachingWindowStore) with their TimestampedCacheFlushListener: an update
// is kept here, as the latest aggregate and time per cache key, dirty,
// instead of being written to the store and forwarded; reads see it first.
// A flush (before every commit) writes each dirty entry to the store and
// forwards it, oldest dirty first: one changelog record and one output per
// cache key per commit. When its bytes exceed its share of the instance's
// budget, the least recently used entries are evicted, written and
// forwarded first when dirty. An aborted transaction or a restore clears
// it.
//
// It is the core that the caches of key-value, window and session stores
// share (kvCache, windowCache, sessionCache): K is the key of the records it forwards, and
// the store is written through the write function the adapter gives.
type recordCache[K, A any] struct {
	name    string // the store's, for errors
	cx      engine.Cacher
	share   func() int64
	leave   func()
	entries map[string]*cacheEntry[K, A]
	lru     list.List // of *cacheEntry; front: least recently used
	dirty   list.List // of *cacheEntry; front: dirty for the longest
	bytes   int64
	// windows indexes the entries by serialized key, then cache key, for
	// the range reads of a window or session cache; nil in a key-value
	// cache.
	windows map[string]map[string]*cacheEntry[K, A]
	// write puts an entry's value in the store (vb nil: a delete).
	write func(e *cacheEntry[K, A]) error
	// emit forwards an entry downstream (the operator's flush listener).
	emit func(e *cacheEntry[K, A])
}

// cacheEntry is one cache key's latest aggregate in a recordCache.
type cacheEntry[K, A any] struct {
	key   string // the cache key: kb, then (window caches) the start
	kb    []byte // the serialized key
	start int64  // the window's start (ms), in a window cache
	vb    []byte // the store's bytes; nil: a delete
	val   timestamped[A]
	// rec is the last update as the operator forwards it: key, time,
	// headers and origin, with the aggregate as its value.
	rec processor.Record[K, A]
	in  engine.Input
	// old is the store's value when the entry became dirty: what the
	// flushed update replaces (a table's old value). In a session cache,
	// hadOld tells, for a delete being flushed, whether the store held the
	// session (its tombstone is forwarded only then).
	old    timestamped[A]
	hadOld bool
	// written: the current value is in the store already (written early
	// for a range read), to be forwarded only.
	written bool
	lruEl   *list.Element
	dirtyEl *list.Element
}

func (e *cacheEntry[K, A]) size() int64 {
	return int64(len(e.key) + len(e.vb) + cacheEntryOverhead)
}

// newRecordCache returns the record cache of the store named name, or nil
// when caching is off for the instance or the store. tx is the bytes store
// beneath the store, whose aborts and restores clear the cache.
func newRecordCache[K, A any](ctx processor.TaskContext, name string, tx any, write func(e *cacheEntry[K, A]) error, emit func(e *cacheEntry[K, A])) *recordCache[K, A] {
	cx, ok := ctx.(engine.Cacher)
	if !ok {
		return nil
	}
	share, leave, ok := cx.RecordCache(name)
	if !ok {
		return nil
	}
	c := &recordCache[K, A]{name: name, cx: cx, share: share, leave: leave, entries: map[string]*cacheEntry[K, A]{}, write: write, emit: emit}
	if tx, ok := tx.(engine.Transactional); ok {
		engine.OnStoreEvent(tx, func(ev engine.StoreEvent) {
			if ev == engine.StoreAborted || ev == engine.StoreRestored {
				// Aborted: the updates since the last commit are
				// processed again. Restored: the store changed beneath.
				c.clear()
			}
		})
	}
	return c
}

// lookup returns the entry of a cache key, marked as used.
func (c *recordCache[K, A]) lookup(key []byte) (*cacheEntry[K, A], bool) {
	e, ok := c.entries[string(key)]
	if ok {
		c.lru.MoveToBack(e.lruEl)
	}
	return e, ok
}

// put caches the update of the cache key key (of the serialized key kb and
// window start start) to v, stored as vb and forwarded as rec when
// flushed; prev and hadPrev are the value before it (what the caller
// read), the old value of the update when the entry was clean. It evicts
// entries while the cache is over its bound.
func (c *recordCache[K, A]) put(key string, kb []byte, start int64, vb []byte, v timestamped[A], rec processor.Record[K, A], prev timestamped[A], hadPrev bool) error {
	e, ok := c.entries[key]
	if ok {
		c.bytes -= e.size()
		c.lru.MoveToBack(e.lruEl)
	} else {
		e = &cacheEntry[K, A]{key: key, kb: kb, start: start}
		e.lruEl = c.lru.PushBack(e)
		c.entries[key] = e
		if c.windows != nil {
			ws := c.windows[string(kb)]
			if ws == nil {
				ws = map[string]*cacheEntry[K, A]{}
				c.windows[string(kb)] = ws
			}
			ws[key] = e
		}
	}
	e.vb, e.val, e.rec, e.in, e.written = vb, v, rec, c.cx.Input(), false
	if e.dirtyEl == nil {
		e.old, e.hadOld = prev, hadPrev
		e.dirtyEl = c.dirty.PushBack(e)
	}
	c.bytes += e.size()
	return c.evict()
}

// evict removes least recently used entries while the cache holds more
// than its share, writing and forwarding the dirty ones first.
func (c *recordCache[K, A]) evict() error {
	for c.bytes > c.share() && c.lru.Len() > 0 {
		e := c.lru.Front().Value.(*cacheEntry[K, A])
		if e.dirtyEl != nil {
			if err := c.clean(e); err != nil {
				return err
			}
			c.emit(e)
		}
		c.remove(e)
	}
	return nil
}

// store writes an entry to the store, unless it is there already.
func (c *recordCache[K, A]) store(e *cacheEntry[K, A]) error {
	if e.written {
		return nil
	}
	if err := c.write(e); err != nil {
		return fmt.Errorf("store %q: write cached update: %w", c.name, err)
	}
	e.written = true
	return nil
}

// clean puts a dirty entry in the store (unless it is there already) and
// marks it clean.
func (c *recordCache[K, A]) clean(e *cacheEntry[K, A]) error {
	if err := c.store(e); err != nil {
		return err
	}
	c.dirty.Remove(e.dirtyEl)
	e.dirtyEl, e.written = nil, false
	return nil
}

func (c *recordCache[K, A]) remove(e *cacheEntry[K, A]) {
	if e.dirtyEl != nil {
		c.dirty.Remove(e.dirtyEl)
		e.dirtyEl = nil
	}
	c.lru.Remove(e.lruEl)
	delete(c.entries, e.key)
	if ws := c.windows[string(e.kb)]; ws != nil {
		delete(ws, e.key)
		if len(ws) == 0 {
			delete(c.windows, string(e.kb))
		}
	}
	c.bytes -= e.size()
}

// flush writes every dirty entry to the store and forwards it, oldest
// dirty first, each as the processing of the input record that last
// updated it. The entries stay cached, clean.
func (c *recordCache[K, A]) flush() error {
	for c.dirty.Len() > 0 {
		e := c.dirty.Front().Value.(*cacheEntry[K, A])
		var err error
		c.cx.AsInput(e.in, func() {
			if err = c.clean(e); err == nil {
				c.emit(e)
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// flushKey writes and forwards the entry of a cache key, if dirty, and
// drops it: before a write that bypasses the cache.
func (c *recordCache[K, A]) flushKey(key []byte) error {
	e, ok := c.entries[string(key)]
	if !ok {
		return nil
	}
	if e.dirtyEl != nil {
		if err := c.clean(e); err != nil {
			return err
		}
		c.emit(e)
	}
	c.remove(e)
	return nil
}

// writeDirty writes every dirty entry to the store, keeping it dirty to
// be forwarded at the flush: before a range read of the store.
func (c *recordCache[K, A]) writeDirty() error {
	for el := c.dirty.Front(); el != nil; el = el.Next() {
		if err := c.store(el.Value.(*cacheEntry[K, A])); err != nil {
			return err
		}
	}
	return nil
}

// clear drops every entry, dirty or not.
func (c *recordCache[K, A]) clear() {
	clear(c.entries)
	clear(c.windows)
	c.lru.Init()
	c.dirty.Init()
	c.bytes = 0
}

// close drops the entries and gives the cache's share back.
func (c *recordCache[K, A]) close() {
	c.clear()
	c.leave()
}

// kvCache is the record cache of an aggregation's key-value store: its
// cache key is the serialized key.
type kvCache[K, A any] struct {
	*recordCache[K, A]
	s *timestampedKV[K, A]
}

// enableCache gives the store a record cache, unless caching is off for
// the instance or the store, or the store has one already (a cogrouped
// aggregation's processors share one store: the first one's emit
// forwards, to the children they share). emit forwards a flushed entry.
func (s *timestampedKV[K, A]) enableCache(ctx processor.TaskContext, emit func(e *cacheEntry[K, A])) {
	if s.cache != nil {
		return
	}
	write := func(e *cacheEntry[K, A]) error {
		if e.vb == nil {
			return s.raw.Delete(e.kb)
		}
		return s.raw.Put(e.kb, e.vb)
	}
	if c := newRecordCache(ctx, s.raw.Name(), s.raw, write, emit); c != nil {
		s.cache = &kvCache[K, A]{c, s}
	}
}

// put caches the update of k to v, forwarded as rec when flushed; prev
// and hadPrev are the key's value before it (what the caller read), the
// old value of the update when the entry was clean.
func (c *kvCache[K, A]) put(k K, v timestamped[A], rec processor.Record[K, A], prev timestamped[A], hadPrev bool) error {
	kb, vb, err := c.s.serialize(k, v)
	if err != nil {
		return err
	}
	return c.recordCache.put(string(kb), kb, 0, vb, v, rec, prev, hadPrev)
}

// overlay returns the items a range read of the store found for the
// serialized key kb, with the cache's entries of that key over them, as
// Kafka Streams' merged cache and store iterators: an item whose cache key
// (cacheKey) is cached is replaced by its entry, made an item by item
// when in the range (in) and not a delete, and the result is sorted by
// order.
func overlay[K, A, T any](c *recordCache[K, A], kb []byte, items []T, cacheKey func(T) []byte, in func(*cacheEntry[K, A]) bool, item func(*cacheEntry[K, A]) T, order func(T) (int64, int64)) []T {
	cached := c.windows[string(kb)]
	if len(cached) == 0 {
		return items
	}
	items = slices.DeleteFunc(items, func(t T) bool { return cached[string(cacheKey(t))] != nil })
	for _, e := range cached {
		if e.vb != nil && in(e) {
			items = append(items, item(e))
		}
	}
	slices.SortFunc(items, func(a, b T) int {
		a1, a2 := order(a)
		b1, b2 := order(b)
		return cmp.Or(cmp.Compare(a1, b1), cmp.Compare(a2, b2))
	})
	return items
}
