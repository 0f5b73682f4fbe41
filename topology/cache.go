package topology

import (
	"container/list"
	"fmt"

	"github.com/samsa-streams/samsa/internal/engine"
	"github.com/samsa-streams/samsa/internal/stores"
	"github.com/samsa-streams/samsa/processor"
)

// WithoutCache turns the record cache off for the named stores of
// aggregations (Aggregate, Count, Reduce, their Err forms, Cogroup's
// Aggregate, TableAggregate, TableCount, TableReduce): their operators
// then write every update to the store (and its changelog) and forward
// it at once, as Kafka Streams' Materialized.withCachingDisabled(). Call
// it after the operator that adds the store; an unknown store is a
// topology error. See samsa.Config.CacheMaxBytes for what the cache does.
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

// kvCache is the record cache of one aggregation store instance (per
// task, per store), as Kafka Streams' CachingKeyValueStore with its
// TimestampedCacheFlushListener: an update is kept here, as the latest
// aggregate and time per key, dirty, instead of being written to the
// store and forwarded; reads see it first. A flush (before every commit)
// writes each dirty entry to the store and forwards it, oldest dirty
// first: one changelog record and one output per key per commit. When
// its bytes exceed its share of the instance's budget, the least recently
// used entries are evicted, written and forwarded first when dirty. An
// aborted transaction or a restore clears it.
type kvCache[K, A any] struct {
	s       *timestampedKV[K, A]
	cx      engine.Cacher
	share   func() int64
	leave   func()
	entries map[string]*cacheEntry[K, A]
	lru     list.List // of *cacheEntry; front: least recently used
	dirty   list.List // of *cacheEntry; front: dirty for the longest
	bytes   int64
	// emit forwards an entry downstream (the operator's flush listener).
	emit func(e *cacheEntry[K, A])
}

// cacheEntry is one key's latest aggregate in a kvCache.
type cacheEntry[K, A any] struct {
	key string // the serialized key, as the map's key
	kb  []byte
	vb  []byte // the store's bytes; nil: a delete
	val timestamped[A]
	// rec is the last update as the operator forwards it: key, time,
	// headers and origin, with the aggregate as its value.
	rec processor.Record[K, A]
	in  engine.Input
	// old is the store's value when the entry became dirty: what the
	// flushed update replaces (a table's old value).
	old    timestamped[A]
	hadOld bool
	// written: the current value is in the store already (written early
	// for a range read), to be forwarded only.
	written bool
	lruEl   *list.Element
	dirtyEl *list.Element
}

func (e *cacheEntry[K, A]) size() int64 {
	return int64(len(e.kb) + len(e.vb) + cacheEntryOverhead)
}

// enableCache gives the store a record cache, unless caching is off for
// the instance or the store, or the store has one already (a cogrouped
// aggregation's processors share one store: the first one's emit
// forwards, to the children they share). emit forwards a flushed entry.
func (s *timestampedKV[K, A]) enableCache(ctx processor.TaskContext, emit func(e *cacheEntry[K, A])) {
	cx, ok := ctx.(engine.Cacher)
	if !ok || s.cache != nil {
		return
	}
	share, leave, ok := cx.RecordCache(s.raw.Name())
	if !ok {
		return
	}
	c := &kvCache[K, A]{s: s, cx: cx, share: share, leave: leave, entries: map[string]*cacheEntry[K, A]{}, emit: emit}
	s.cache = c
	if tx, ok := s.raw.(stores.Transactional); ok {
		stores.OnStoreEvent(tx, func(ev stores.StoreEvent) {
			if ev == stores.StoreAborted || ev == stores.StoreRestored {
				// Aborted: the updates since the last commit are
				// processed again. Restored: the store changed beneath.
				c.clear()
			}
		})
	}
}

// lookup returns the cached entry of a serialized key, marked as used.
func (c *kvCache[K, A]) lookup(kb []byte) (*cacheEntry[K, A], bool) {
	e, ok := c.entries[string(kb)]
	if ok {
		c.lru.MoveToBack(e.lruEl)
	}
	return e, ok
}

// put caches the update of k to v, forwarded as rec when flushed; prev
// and hadPrev are the key's value before it (what the caller read), the
// old value of the update when the entry was clean. It evicts entries
// while the cache is over its bound.
func (c *kvCache[K, A]) put(k K, v timestamped[A], rec processor.Record[K, A], prev timestamped[A], hadPrev bool) error {
	name := c.s.raw.Name()
	kb, err := c.s.key.Serialize(name, k)
	if err != nil {
		return fmt.Errorf("store %q: serialize key: %w", name, err)
	}
	vb, err := c.s.value.Serialize(name, v)
	if err != nil {
		return fmt.Errorf("store %q: serialize value: %w", name, err)
	}
	e, ok := c.entries[string(kb)]
	if ok {
		c.bytes -= e.size()
		c.lru.MoveToBack(e.lruEl)
	} else {
		e = &cacheEntry[K, A]{key: string(kb)}
		e.lruEl = c.lru.PushBack(e)
		c.entries[e.key] = e
	}
	e.kb, e.vb, e.val, e.rec, e.in, e.written = kb, vb, v, rec, c.cx.Input(), false
	if e.dirtyEl == nil {
		e.old, e.hadOld = prev, hadPrev
		e.dirtyEl = c.dirty.PushBack(e)
	}
	c.bytes += e.size()
	return c.evict()
}

// evict removes least recently used entries while the cache holds more
// than its share, writing and forwarding the dirty ones first.
func (c *kvCache[K, A]) evict() error {
	for c.bytes > c.share() && c.lru.Len() > 0 {
		e := c.lru.Front().Value.(*cacheEntry[K, A])
		if e.dirtyEl != nil {
			if err := c.write(e); err != nil {
				return err
			}
			c.emit(e)
		}
		c.remove(e)
	}
	return nil
}

// write puts a dirty entry in the store (unless it is there already) and
// marks it clean.
func (c *kvCache[K, A]) write(e *cacheEntry[K, A]) error {
	if !e.written {
		var err error
		if e.vb == nil {
			err = c.s.raw.Delete(e.kb)
		} else {
			err = c.s.raw.Put(e.kb, e.vb)
		}
		if err != nil {
			return fmt.Errorf("store %q: write cached update: %w", c.s.raw.Name(), err)
		}
	}
	c.dirty.Remove(e.dirtyEl)
	e.dirtyEl, e.written = nil, false
	return nil
}

func (c *kvCache[K, A]) remove(e *cacheEntry[K, A]) {
	if e.dirtyEl != nil {
		c.dirty.Remove(e.dirtyEl)
		e.dirtyEl = nil
	}
	c.lru.Remove(e.lruEl)
	delete(c.entries, e.key)
	c.bytes -= e.size()
}

// flush writes every dirty entry to the store and forwards it, oldest
// dirty first, each as the processing of the input record that last
// updated it. The entries stay cached, clean.
func (c *kvCache[K, A]) flush() error {
	for c.dirty.Len() > 0 {
		e := c.dirty.Front().Value.(*cacheEntry[K, A])
		var err error
		c.cx.AsInput(e.in, func() {
			if err = c.write(e); err == nil {
				c.emit(e)
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// flushKey writes and forwards the entry of kb, if dirty, and drops it:
// before a write that bypasses the cache.
func (c *kvCache[K, A]) flushKey(kb []byte) error {
	e, ok := c.entries[string(kb)]
	if !ok {
		return nil
	}
	if e.dirtyEl != nil {
		if err := c.write(e); err != nil {
			return err
		}
		c.emit(e)
	}
	c.remove(e)
	return nil
}

// writeDirty writes every dirty entry to the store, keeping it dirty to
// be forwarded at the flush: before a range read of the store.
func (c *kvCache[K, A]) writeDirty() error {
	for el := c.dirty.Front(); el != nil; el = el.Next() {
		e := el.Value.(*cacheEntry[K, A])
		if e.written {
			continue
		}
		var err error
		if e.vb == nil {
			err = c.s.raw.Delete(e.kb)
		} else {
			err = c.s.raw.Put(e.kb, e.vb)
		}
		if err != nil {
			return fmt.Errorf("store %q: write cached update: %w", c.s.raw.Name(), err)
		}
		e.written = true
	}
	return nil
}

// clear drops every entry, dirty or not.
func (c *kvCache[K, A]) clear() {
	clear(c.entries)
	c.lru.Init()
	c.dirty.Init()
	c.bytes = 0
}

// close drops the entries and gives the cache's share back.
func (c *kvCache[K, A]) close() {
	c.clear()
	c.leave()
}
