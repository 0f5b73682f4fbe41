package engine

import (
	"fmt"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Flusher is implemented by the processors that hold a record cache (the
// DSL's cached aggregations, as Kafka Streams' CachingKeyValueStore):
// FlushCache writes every dirty entry to the store and forwards it
// downstream. Task.FlushCaches calls it on every such processor before a
// commit, upstream first.
type Flusher interface {
	// FlushCache writes and forwards the cache's dirty entries.
	FlushCache() error
}

// CacheBudget is the record cache memory of one instance (an App, or a
// test driver), shared evenly among the cached store instances of its
// tasks: each gets Total / (number of cached store instances open now),
// re-read at every cache write, so that the shares shrink as tasks are
// assigned and grow as they go. It is safe for concurrent use (tasks are
// created by the poll loop and by the state updater).
type CacheBudget struct {
	total int64
	n     atomic.Int64
}

// NewCacheBudget returns the budget of total bytes, or nil (caching off)
// when total is negative.
func NewCacheBudget(total int64) *CacheBudget {
	if total < 0 {
		return nil
	}
	return &CacheBudget{total: total}
}

// Total returns the bytes shared among the caches.
func (b *CacheBudget) Total() int64 { return b.total }

// Join registers one cached store instance: share returns its bound in
// bytes now, leave unregisters it (once; later calls do nothing).
func (b *CacheBudget) Join() (share func() int64, leave func()) {
	b.n.Add(1)
	var left atomic.Bool
	share = func() int64 { return b.total / max(b.n.Load(), 1) }
	leave = func() {
		if left.CompareAndSwap(false, true) {
			b.n.Add(-1)
		}
	}
	return share, leave
}

// Input is the input record a cache entry was last updated by, as the
// engine knows it: a flush forwards the entry as if processing it, so
// that an error downstream goes to the error policy for that record, and
// an output the broker rejects is traced back to it (Kafka Streams keeps
// the record context in its cache entries the same way). The zero Input
// is none (an update made in a punctuator).
type Input struct{ r *kgo.Record }

// Cacher is implemented by the context the engine gives every processor:
// what a cached DSL operator needs from its task.
type Cacher interface {
	// RecordCache joins the task's cache budget for store: share returns
	// the cache's bound in bytes, leave gives its share back. ok is false
	// when caching is off (for the instance, or for the store:
	// StoreDef.Uncached).
	RecordCache(store string) (share func() int64, leave func(), ok bool)
	// Input returns the input record being processed.
	Input() Input
	// AsInput runs fn as the processing of in: an error in fn's
	// downstream processors goes to the processing-error policy for in,
	// decided once for fn.
	AsInput(in Input, fn func())
}

// RecordCache implements Cacher.
func (p *proc[KIn, VIn, KOut, VOut]) RecordCache(store string) (func() int64, func(), bool) {
	if p.t.cache == nil {
		return nil, nil, false
	}
	if def, ok := p.t.g.Stores[store]; !ok || def.Uncached {
		return nil, nil, false
	}
	share, leave := p.t.cache.Join()
	return share, leave, true
}

// Input implements Cacher.
func (p *proc[KIn, VIn, KOut, VOut]) Input() Input { return Input{p.t.current} }

// AsInput implements Cacher.
func (p *proc[KIn, VIn, KOut, VOut]) AsInput(in Input, fn func()) {
	t := p.t
	cur, handled, flushing := t.current, t.handled, t.flushing
	t.current, t.handled, t.flushing = in.r, false, true
	defer func() { t.current, t.handled, t.flushing = cur, handled, flushing }()
	fn()
}

// FlushCache implements Flusher for a processor that holds a record cache.
func (p *proc[KIn, VIn, KOut, VOut]) FlushCache() error {
	if f, ok := p.p.(Flusher); ok && p.t.err == nil {
		return f.FlushCache()
	}
	return nil
}

// FlushCaches flushes the record caches of the task's processors in
// topological order, upstream first: a flush forwards into the caches
// downstream, which flush after it. Call it before the task's output is
// flushed and its offsets committed. An error goes to the processing-error
// policy, as a Process error does; FlushCaches returns the task's fatal
// error, if any.
func (t *Task) FlushCaches() error {
	for _, n := range t.order {
		if t.err != nil {
			break
		}
		f, ok := t.inst[n.Name].(Flusher)
		if !ok {
			continue
		}
		t.handled, t.flushing = false, true
		if err := f.FlushCache(); err != nil {
			t.processingError(n.Name, fmt.Errorf("flush record cache: %w", err))
		}
		t.flushing = false
	}
	return t.err
}
