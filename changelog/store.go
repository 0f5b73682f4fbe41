// Package changelog holds samsa's local state: store engines (Pebble,
// persistent, and in-memory) behind one Store type with a transactional
// write buffer, checkpoints of the changelog offsets the state reflects,
// and restore from changelog records.
//
// A Store's writes since the last commit sit in a buffer that its reads see.
// Commit applies the buffer atomically together with the changelog offset it
// reflects (one Pebble batch, synced); Abort drops it. After a crash the
// engine holds exactly the last committed state and its offset: no wipe, no
// full restore.
package changelog

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sync"

	"github.com/samsa-streams/samsa/processor"
)

// ErrClosed is returned by operations on a closed store.
var ErrClosed = errors.New("changelog: store closed")

// backend is an engine's storage for one store of one task.
type backend interface {
	get(k []byte) ([]byte, bool, error)
	// scan calls fn for keys in [lo, hi] (nil bounds are open) in order
	// until fn returns false.
	scan(lo, hi []byte, fn func(k, v []byte) bool) error
	// apply writes the entries (nil value = delete) and the checkpoint
	// (next changelog offset; < 0 keeps the old one) atomically.
	apply(entries []entry, next int64) error
	checkpoint() (int64, bool, error)
	count() (int64, error)
	// dropRange deletes [lo, hi) at once.
	dropRange(lo, hi []byte) error
	close() error
}

type entry struct {
	key, value []byte
	del        bool
}

// Store is a key-value store of one task: a backend plus the write buffer.
// It implements processor.BytesKeyValueStore. It is used by one task
// goroutine at a time; the offset bookkeeping may be called from producer
// callbacks.
type Store struct {
	name string
	be   backend

	buf    map[string]entry
	closed bool

	// OnWrite, if set, is called for every Put and Delete (value nil) so
	// the runtime can append the write to the changelog topic.
	OnWrite func(key, value []byte)

	mu      sync.Mutex
	lastOff int64 // highest changelog offset acknowledged since the last commit, -1 if none
}

func newStore(name string, be backend) *Store {
	return &Store{name: name, be: be, buf: map[string]entry{}, lastOff: -1}
}

// Name implements processor.StateStore.
func (s *Store) Name() string { return s.name }

// Get implements processor.BytesKeyValueStore: the buffer first, then the engine.
func (s *Store) Get(k []byte) ([]byte, bool, error) {
	if s.closed {
		return nil, false, ErrClosed
	}
	if e, ok := s.buf[string(k)]; ok {
		if e.del {
			return nil, false, nil
		}
		return e.value, true, nil
	}
	return s.be.get(k)
}

// Put implements processor.BytesKeyValueStore.
func (s *Store) Put(k, v []byte) error {
	if v == nil {
		return s.Delete(k)
	}
	if s.closed {
		return ErrClosed
	}
	k, v = bytes.Clone(k), bytes.Clone(v)
	s.buf[string(k)] = entry{key: k, value: v}
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
	s.buf[string(k)] = entry{key: k, del: true}
	if s.OnWrite != nil {
		s.OnWrite(k, nil)
	}
	return nil
}

// Range implements processor.BytesKeyValueStore: committed entries merged
// with the buffer, in key order, bounds inclusive.
func (s *Store) Range(from, to []byte) iter.Seq2[processor.KeyValue[[]byte, []byte], error] {
	return func(yield func(processor.KeyValue[[]byte, []byte], error) bool) {
		if s.closed {
			yield(processor.KeyValue[[]byte, []byte]{}, ErrClosed)
			return
		}
		pending := s.bufferRange(from, to)
		i := 0
		stopped := false
		emit := func(k, v []byte) bool {
			if !yield(processor.KeyValue[[]byte, []byte]{Key: k, Value: v}, nil) {
				stopped = true
				return false
			}
			return true
		}
		// flushBefore emits buffered entries with keys below k (all if k is nil).
		flushBefore := func(k []byte) bool {
			for ; i < len(pending); i++ {
				if k != nil && bytes.Compare(pending[i].key, k) >= 0 {
					return true
				}
				if !pending[i].del && !emit(pending[i].key, pending[i].value) {
					return false
				}
			}
			return true
		}
		err := s.be.scan(from, to, func(k, v []byte) bool {
			if !flushBefore(k) {
				return false
			}
			if i < len(pending) && bytes.Equal(pending[i].key, k) {
				e := pending[i]
				i++
				if e.del {
					return true
				}
				return emit(e.key, e.value)
			}
			return emit(k, v)
		})
		if stopped {
			return
		}
		if err != nil {
			yield(processor.KeyValue[[]byte, []byte]{}, fmt.Errorf("store %q: %w", s.name, err))
			return
		}
		flushBefore(nil)
	}
}

func (s *Store) bufferRange(from, to []byte) []entry {
	var out []entry
	for _, e := range s.buf {
		if from != nil && bytes.Compare(e.key, from) < 0 {
			continue
		}
		if to != nil && bytes.Compare(e.key, to) > 0 {
			continue
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b entry) int { return bytes.Compare(a.key, b.key) })
	return out
}

// PrefixScan implements processor.BytesKeyValueStore.
func (s *Store) PrefixScan(prefix []byte) iter.Seq2[processor.KeyValue[[]byte, []byte], error] {
	to := prefixEnd(prefix)
	return func(yield func(processor.KeyValue[[]byte, []byte], error) bool) {
		for kv, err := range s.Range(prefix, to) {
			if err == nil && !bytes.HasPrefix(kv.Key, prefix) {
				continue // to is inclusive: skip the bound itself
			}
			if !yield(kv, err) || err != nil {
				return
			}
		}
	}
}

// prefixEnd returns the smallest key greater than every key with the
// prefix, or nil when there is none (all 0xff).
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

// ApproximateCount implements processor.BytesKeyValueStore: the committed
// count plus buffered inserts (deletes are not subtracted).
func (s *Store) ApproximateCount() (int64, error) {
	n, err := s.be.count()
	return n + int64(len(s.buf)), err
}

// AckOffset records that a changelog record of this store was written at
// offset. Safe for concurrent use by producer callbacks.
func (s *Store) AckOffset(off int64) {
	s.mu.Lock()
	if off > s.lastOff {
		s.lastOff = off
	}
	s.mu.Unlock()
}

// Pending returns the number of buffered writes.
func (s *Store) Pending() int { return len(s.buf) }

// Commit applies the buffer and the checkpoint atomically: the checkpoint
// becomes one past the highest acknowledged changelog offset. Call it only
// after the changelog records were flushed and the commit protocol succeeded.
func (s *Store) Commit() error {
	if s.closed {
		return ErrClosed
	}
	s.mu.Lock()
	next := int64(-1)
	if s.lastOff >= 0 {
		next = s.lastOff + 1
	}
	s.lastOff = -1
	s.mu.Unlock()
	if len(s.buf) == 0 && next < 0 {
		return nil
	}
	entries := make([]entry, 0, len(s.buf))
	for _, e := range s.buf {
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b entry) int { return bytes.Compare(a.key, b.key) })
	if err := s.be.apply(entries, next); err != nil {
		return fmt.Errorf("store %q: commit: %w", s.name, err)
	}
	clear(s.buf)
	return nil
}

// Flush is Commit; it makes Store an engine.RawStore.
func (s *Store) Flush() error { return s.Commit() }

// Abort drops the buffered writes: the store is back at its last commit.
func (s *Store) Abort() {
	clear(s.buf)
	s.mu.Lock()
	s.lastOff = -1
	s.mu.Unlock()
}

// Checkpoint returns the changelog offset to restore from: one past the
// last changelog record the committed state reflects. ok is false when the
// store has never committed (restore from the start).
func (s *Store) Checkpoint() (int64, bool, error) { return s.be.checkpoint() }

// Record is one changelog record to restore: a nil Value deletes the key.
type Record struct {
	Key, Value []byte
}

// Restore applies changelog records directly to the engine, with the
// checkpoint set to next, in one atomic batch. Callers bound the batch size.
func (s *Store) Restore(recs []Record, next int64) error {
	if s.closed {
		return ErrClosed
	}
	entries := make([]entry, len(recs))
	for i, r := range recs {
		entries[i] = entry{key: r.Key, value: r.Value, del: r.Value == nil}
	}
	if err := s.be.apply(entries, next); err != nil {
		return fmt.Errorf("store %q: restore: %w", s.name, err)
	}
	return nil
}

// DropRange deletes the committed keys in [from, to) at once (Pebble's
// range deletion) and the buffered writes in that range. It is applied
// immediately and not logged: window and session stores use it for expired
// segments, which the changelog topic's retention removes on its side.
func (s *Store) DropRange(from, to []byte) error {
	if s.closed {
		return ErrClosed
	}
	for k, e := range s.buf {
		if bytes.Compare(e.key, from) >= 0 && bytes.Compare(e.key, to) < 0 {
			delete(s.buf, k)
		}
	}
	if err := s.be.dropRange(from, to); err != nil {
		return fmt.Errorf("store %q: drop range: %w", s.name, err)
	}
	return nil
}

// Close drops the buffer and releases the store.
func (s *Store) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	clear(s.buf)
	return s.be.close()
}
