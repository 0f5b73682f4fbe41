// Package changelog holds samsa's local state: two storage engines (Pebble,
// persistent, and in-memory) behind one Store type with a transactional
// write buffer, checkpoints of the changelog offsets the state reflects,
// restore from changelog records, and detection of state that belongs to
// another application or cannot be read; and the Reader, which reads the
// changelog topics from Kafka into the stores (restores, and standby stores
// following their partitions).
//
// # Transactions
//
// A Store's writes since the last commit sit in a sorted write buffer that
// the store's own reads see (Get, Range and PrefixScan merge it with the
// committed data; deletes are tombstones in it). Every write is also handed
// to Store.OnWrite, so that the runtime appends it to the changelog topic.
// Commit applies the buffer atomically together with the changelog offset
// it reflects (one Pebble batch, synced); Abort drops it. After a crash the
// engine holds exactly the last committed state and its checkpoint: no wipe,
// no full restore.
//
// # Layout
//
// A Pebble engine is one database per application instance in
// Options.Dir/pebble, with one block cache and one set of memtables, so that
// memory is bounded by Options.CacheSize and Options.MemTableSize whatever
// the number of tasks and stores. Each store of each task is a key prefix:
//
//	0x00 'a'                        → application id
//	0x00 'v'                        → layout version ("1")
//	0x01 task 0x00 'c' store        → checkpoint: next changelog offset, 8 bytes big-endian
//	0x01 task 0x00 'd' store 0x00 k → value of key k
//
// Task ids ("0_3") and store names contain no 0x00 byte, so a task's keys,
// and a store's keys within it, are contiguous: Wipe deletes a task with one
// range deletion.
package changelog

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"sync"

	"github.com/samsa-streams/samsa/internal/engine"
	"github.com/samsa-streams/samsa/processor"
)

// ErrClosed is returned by operations on a closed store or Engine.
var ErrClosed = errors.New("changelog: store closed")

// Interfaces a Store and its layouts implement for the engine.
var (
	_ engine.RawStore          = (*Store)(nil)
	_ engine.Transactional     = (*Store)(nil)
	_ engine.BytesWindowStore  = (*Windows)(nil)
	_ engine.BytesSessionStore = (*Sessions)(nil)
)

// keyRange is [lo, hi).
type keyRange struct{ lo, hi []byte }

func (r keyRange) has(k []byte) bool {
	return bytes.Compare(k, r.lo) >= 0 && bytes.Compare(k, r.hi) < 0
}

// bufEntry is a buffered write: a value or a tombstone.
type bufEntry struct {
	value []byte
	del   bool
}

// entryOverhead is counted per buffered write in PendingBytes, as well as
// its key and value.
const entryOverhead = 48

// changes is what one atomic apply writes to a backend: range deletions
// first, then writes in order, then the checkpoint.
type changes struct {
	drops []keyRange
	each  func(fn func(k, v []byte, del bool) error) error
	// owned: the backend may keep the slices (they are never modified).
	owned bool
	// next is the checkpoint to write; < 0 keeps the old one.
	next int64
	sync bool
}

// backend is an engine's storage for one store of one task.
type backend interface {
	get(k []byte) ([]byte, bool, error)
	// scan calls fn for the keys in [lo, hi) in order (nil bounds are
	// open) until fn returns false. v is nil when keysOnly, and k is then
	// only valid during the call.
	scan(lo, hi []byte, keysOnly bool, fn func(k, v []byte) bool) error
	apply(ch *changes) error
	checkpoint() (int64, bool, error)
	count() (int64, error)
	// diskBytes estimates the bytes the store's committed data takes on
	// disk (0 in memory).
	diskBytes() (uint64, error)
}

// DiskBytes estimates the bytes the store's committed data takes on disk,
// from the database's file metadata (cheap: no scan); 0 for a store in
// memory.
func (s *Store) DiskBytes() (uint64, error) {
	if s.closed {
		return 0, ErrClosed
	}
	n, err := s.be.diskBytes()
	if err != nil {
		return 0, fmt.Errorf("store %q: disk usage: %w", s.name, err)
	}
	return n, nil
}

// Store is one store of one task: an engine's backend plus the write
// buffer. It implements processor.BytesKeyValueStore for typed stores, the
// commit, abort and close the runtime drives, the OnCommit, OnAbort and
// OnRestore hooks for the stores built over it, and the window and session
// layouts (Windows, Sessions).
//
// A Store is used by one goroutine at a time (its task's); AckOffset alone
// may be called from any goroutine. Slices it returns must not be modified.
type Store struct {
	name string
	task processor.TaskID
	e    *Engine
	be   backend

	buf      *btree[bufEntry]
	drops    []keyRange
	bufBytes int
	closed   bool
	hooks    [3][]func() // by engine.StoreEvent

	// OnWrite, if set, is called for every Put and Delete (value nil), in
	// order, so that the runtime can append the write to the store's
	// changelog partition. The slices are the store's own copies: they may
	// be kept but not modified.
	OnWrite func(key, value []byte)

	mu      sync.Mutex
	lastOff int64 // highest changelog offset acknowledged since the last commit, -1 if none
}

func newStore(e *Engine, task processor.TaskID, name string, be backend) *Store {
	return &Store{name: name, task: task, e: e, be: be, buf: &btree[bufEntry]{}, lastOff: -1}
}

// Name implements processor.StateStore.
func (s *Store) Name() string { return s.name }

func (s *Store) dropped(k []byte) bool {
	for _, r := range s.drops {
		if r.has(k) {
			return true
		}
	}
	return false
}

// Get implements processor.BytesKeyValueStore: the buffer first, then the
// committed data.
func (s *Store) Get(k []byte) ([]byte, bool, error) {
	if s.closed {
		return nil, false, ErrClosed
	}
	if e, ok := s.buf.Get(k); ok {
		if e.del {
			return nil, false, nil
		}
		return e.value, true, nil
	}
	if s.dropped(k) {
		return nil, false, nil
	}
	v, ok, err := s.be.get(k)
	if err != nil {
		return nil, false, fmt.Errorf("store %q: get: %w", s.name, err)
	}
	return v, ok, nil
}

// Put implements processor.BytesKeyValueStore. A nil value deletes.
func (s *Store) Put(k, v []byte) error {
	if v == nil {
		return s.Delete(k)
	}
	if s.closed {
		return ErrClosed
	}
	k, v = bytes.Clone(k), bytes.Clone(v)
	s.buffer(k, bufEntry{value: v})
	if s.OnWrite != nil {
		s.OnWrite(k, v)
	}
	return nil
}

// Delete implements processor.BytesKeyValueStore.
func (s *Store) Delete(k []byte) error {
	if s.closed {
		return ErrClosed
	}
	k = bytes.Clone(k)
	s.buffer(k, bufEntry{del: true})
	if s.OnWrite != nil {
		s.OnWrite(k, nil)
	}
	return nil
}

func (s *Store) buffer(k []byte, e bufEntry) {
	if old, ok := s.buf.Set(k, e); ok {
		s.bufBytes -= len(old.value)
	} else {
		s.bufBytes += len(k) + entryOverhead
	}
	s.bufBytes += len(e.value)
}

// Range implements processor.BytesKeyValueStore: committed entries merged
// with the buffer, in key order, bounds inclusive, nil bounds open. The
// store may be written while the iteration runs: writes ahead of the
// iteration's position are seen, none is visited twice.
func (s *Store) Range(from, to []byte) iter.Seq2[processor.KeyValue[[]byte, []byte], error] {
	var hi []byte
	if to != nil {
		hi = append(bytes.Clone(to), 0) // the smallest key after to
	}
	return s.seq(from, hi)
}

// PrefixScan implements processor.BytesKeyValueStore.
func (s *Store) PrefixScan(prefix []byte) iter.Seq2[processor.KeyValue[[]byte, []byte], error] {
	hi := prefixEnd(prefix)
	if hi == nil && len(prefix) > 0 {
		// All 0xff: every key from the prefix on has it... or is greater.
		return func(yield func(processor.KeyValue[[]byte, []byte], error) bool) {
			for kv, err := range s.seq(prefix, nil) {
				if err == nil && !bytes.HasPrefix(kv.Key, prefix) {
					return
				}
				if !yield(kv, err) || err != nil {
					return
				}
			}
		}
	}
	return s.seq(prefix, hi)
}

func (s *Store) seq(lo, hi []byte) iter.Seq2[processor.KeyValue[[]byte, []byte], error] {
	return func(yield func(processor.KeyValue[[]byte, []byte], error) bool) {
		if s.closed {
			yield(processor.KeyValue[[]byte, []byte]{}, ErrClosed)
			return
		}
		err := s.scan(lo, hi, false, func(k, v []byte) bool {
			return yield(processor.KeyValue[[]byte, []byte]{Key: k, Value: v}, nil)
		})
		if err != nil {
			yield(processor.KeyValue[[]byte, []byte]{}, fmt.Errorf("store %q: scan: %w", s.name, err))
		}
	}
}

// scan merges the buffer into the backend's keys in [lo, hi) and calls fn
// for each live entry in order until it returns false.
func (s *Store) scan(lo, hi []byte, keysOnly bool, fn func(k, v []byte) bool) error {
	c := s.buf.Cursor()
	c.SeekGE(lo)
	stopped := false
	below := func(k, bound []byte) bool { return bound == nil || bytes.Compare(k, bound) < 0 }
	// emitBuffered emits buffered entries with keys below upTo (and hi).
	emitBuffered := func(upTo []byte) bool {
		for c.Valid() && below(c.Key(), upTo) && below(c.Key(), hi) {
			k, e := c.Key(), c.Value()
			if !e.del && !fn(k, e.value) {
				stopped = true
				return false
			}
			c.Next()
		}
		return true
	}
	err := s.be.scan(lo, hi, keysOnly, func(k, v []byte) bool {
		if !emitBuffered(k) {
			return false
		}
		if c.Valid() && bytes.Equal(c.Key(), k) {
			e := c.Value()
			if !e.del && !fn(k, e.value) {
				stopped = true
				return false
			}
			c.Next()
			return true
		}
		if s.dropped(k) {
			return true
		}
		if !fn(k, v) {
			stopped = true
			return false
		}
		return true
	})
	if stopped || err != nil {
		return err
	}
	emitBuffered(nil)
	return nil
}

// prefixEnd returns the smallest key greater than every key with the
// prefix, or nil when there is none (empty or all 0xff).
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// ApproximateCount implements processor.BytesKeyValueStore. It is exact:
// O(1) on the memory engine when nothing is buffered, a key scan otherwise.
func (s *Store) ApproximateCount() (int64, error) {
	if s.closed {
		return 0, ErrClosed
	}
	if s.buf.Len() == 0 && len(s.drops) == 0 {
		n, err := s.be.count()
		if err != nil {
			return 0, fmt.Errorf("store %q: count: %w", s.name, err)
		}
		return n, nil
	}
	var n int64
	if err := s.scan(nil, nil, true, func(_, _ []byte) bool { n++; return true }); err != nil {
		return 0, fmt.Errorf("store %q: count: %w", s.name, err)
	}
	return n, nil
}

// AckOffset records that a changelog record of this store was written at
// offset: the next Commit checkpoints one past the highest offset acked
// since the previous commit. Safe for concurrent use (producer callbacks).
func (s *Store) AckOffset(off int64) {
	s.mu.Lock()
	s.lastOff = max(s.lastOff, off)
	s.mu.Unlock()
}

// PendingBytes estimates the memory held by the write buffer, so that the
// runtime can commit early when it grows too large.
func (s *Store) PendingBytes() int { return s.bufBytes }

// OnCommit registers fn, called after every successful Commit, for
// wrappers that keep state derived from the store's content.
func (s *Store) OnCommit(fn func()) { s.on(engine.StoreCommitted, fn) }

// OnAbort registers fn, called after every Abort: wrappers that keep state
// derived from the store's content go back to what they had at the last
// commit.
func (s *Store) OnAbort(fn func()) { s.on(engine.StoreAborted, fn) }

// OnRestore registers fn, called after every Restore has written changelog
// records beneath the buffer: wrappers that keep state derived from the
// store's content read it again.
func (s *Store) OnRestore(fn func()) { s.on(engine.StoreRestored, fn) }

func (s *Store) on(ev engine.StoreEvent, fn func()) { s.hooks[ev] = append(s.hooks[ev], fn) }

func (s *Store) tell(ev engine.StoreEvent) {
	for _, h := range s.hooks[ev] {
		h()
	}
}

// takeOffset returns the checkpoint the next commit writes (< 0: none) and
// resets the acknowledged offset.
func (s *Store) takeOffset() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := int64(-1)
	if s.lastOff >= 0 {
		next = s.lastOff + 1
	}
	s.lastOff = -1
	return next
}

// giveBackOffset undoes takeOffset after a failed commit.
func (s *Store) giveBackOffset(next int64) {
	if next > 0 {
		s.AckOffset(next - 1)
	}
}

// pending returns the buffer as changes for a commit, or nil when there is
// nothing to write.
// Dirty reports whether a commit has anything to write for the store:
// buffered writes, dropped ranges or a newly acknowledged changelog offset.
func (s *Store) Dirty() bool {
	s.mu.Lock()
	off := s.lastOff
	s.mu.Unlock()
	return s.buf.Len() > 0 || len(s.drops) > 0 || off >= 0
}

func (s *Store) pending(next int64) *changes {
	if s.buf.Len() == 0 && len(s.drops) == 0 && next < 0 {
		return nil
	}
	buf := s.buf
	return &changes{
		drops: s.drops,
		each: func(fn func(k, v []byte, del bool) error) error {
			c := buf.Cursor()
			for c.SeekGE(nil); c.Valid(); c.Next() {
				e := c.Value()
				if err := fn(c.Key(), e.value, e.del); err != nil {
					return err
				}
			}
			return nil
		},
		owned: true,
		next:  next,
		sync:  true,
	}
}

// endTxn empties the buffer and tells the hooks.
func (s *Store) endTxn(committed bool) {
	s.buf = &btree[bufEntry]{}
	s.drops = nil
	s.bufBytes = 0
	if committed {
		s.tell(engine.StoreCommitted)
	} else {
		s.tell(engine.StoreAborted)
	}
}

// Commit applies the buffer and the checkpoint atomically, synced: the
// checkpoint becomes one past the highest changelog offset acknowledged
// since the last commit (unchanged if none was). Call it once the
// changelog records are durable in Kafka and the commit protocol has
// succeeded (after the transaction commits under exactly-once). On error
// the buffer is kept.
func (s *Store) Commit() error {
	if s.closed {
		return ErrClosed
	}
	next := s.takeOffset()
	if ch := s.pending(next); ch != nil {
		if err := s.be.apply(ch); err != nil {
			s.giveBackOffset(next)
			return fmt.Errorf("store %q: commit: %w", s.name, err)
		}
	}
	s.endTxn(true)
	return nil
}

// Flush is Commit, under the name the runtime's task calls.
func (s *Store) Flush() error { return s.Commit() }

// Abort drops the buffered writes and the acknowledged offsets: the store
// is back at its last commit.
func (s *Store) Abort() {
	s.mu.Lock()
	s.lastOff = -1
	s.mu.Unlock()
	s.endTxn(false)
}

// Checkpoint returns the changelog offset to restore from: one past the
// last changelog record the committed state reflects. ok is false when the
// store has no checkpoint (restore from the start of the changelog).
func (s *Store) Checkpoint() (next int64, ok bool, err error) {
	if s.closed {
		return 0, false, ErrClosed
	}
	next, ok, err = s.be.checkpoint()
	if err != nil {
		return 0, false, fmt.Errorf("store %q: checkpoint: %w", s.name, err)
	}
	return next, ok, nil
}

// Record is one changelog record to restore: a nil Value deletes the key.
type Record struct {
	Key, Value []byte
}

// restoreChunk bounds the bytes of one restore batch.
const restoreChunk = 4 << 20

// Restore applies changelog records, in order, to the committed state and
// sets the checkpoint to next (one past the offset of the last record read,
// transaction markers included). It writes batches of at most a few MiB
// whatever the number of records, the checkpoint with the last one: after
// a crash mid-way the state may be ahead of its checkpoint, which is
// harmless as replaying a changelog from an earlier offset converges to the
// same state. Records with an empty slice of records just move the
// checkpoint. Restore bypasses the buffer and OnWrite.
func (s *Store) Restore(recs []Record, next int64) error {
	if s.closed {
		return ErrClosed
	}
	for first := true; first || len(recs) > 0; first = false {
		n, size := 0, 0
		for n < len(recs) && (n == 0 || size < restoreChunk) {
			size += len(recs[n].Key) + len(recs[n].Value) + entryOverhead
			n++
		}
		chunk := recs[:n]
		recs = recs[n:]
		last := len(recs) == 0
		ch := &changes{
			each: func(fn func(k, v []byte, del bool) error) error {
				for _, r := range chunk {
					if err := fn(r.Key, r.Value, r.Value == nil); err != nil {
						return err
					}
				}
				return nil
			},
			next: -1,
			sync: last,
		}
		if last {
			ch.next = next
		}
		if err := s.be.apply(ch); err != nil {
			return fmt.Errorf("store %q: restore: %w", s.name, err)
		}
	}
	s.tell(engine.StoreRestored)
	return nil
}

// DropRange deletes the keys in [from, to) at once with the next commit
// (Pebble's range deletion: cheap whatever their number); reads see them
// gone at once. The drop is not
// logged: window and session stores use it for expired segments, which the
// changelog topic's retention removes on its side.
func (s *Store) DropRange(from, to []byte) error {
	if s.closed {
		return ErrClosed
	}
	if bytes.Compare(from, to) >= 0 {
		return nil
	}
	r := keyRange{lo: bytes.Clone(from), hi: bytes.Clone(to)}
	var doomed [][]byte
	c := s.buf.Cursor()
	for c.SeekGE(r.lo); c.Valid() && bytes.Compare(c.Key(), r.hi) < 0; c.Next() {
		doomed = append(doomed, c.Key())
	}
	for _, k := range doomed {
		if e, ok := s.buf.Delete(k); ok {
			s.bufBytes -= len(k) + len(e.value) + entryOverhead
		}
	}
	s.drops = append(s.drops, r)
	return nil
}

// Close drops the buffer and releases the store; its engine can open it
// again. Closing twice is a no-op.
func (s *Store) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	s.buf = &btree[bufEntry]{}
	s.drops = nil
	s.hooks = [3][]func(){}
	s.e.release(s)
	return nil
}
