package stores

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"math"
	"slices"
	"time"

	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
)

// RangeDropper is implemented by bytes stores that can delete a key range
// cheaply and at once (Pebble's range deletion). Window and session stores
// use it to drop expired segments. A transactional store (package
// changelog) applies the drop with its next commit and hides the range from
// reads at once. Dropped data is not logged: the changelog topic's own
// retention removes it there.
type RangeDropper interface {
	// DropRange deletes the keys in [from, to).
	DropRange(from, to []byte) error
}

// StoreEvent is what a Transactional store tells the wrappers registered
// with it.
type StoreEvent int

// Store events.
const (
	// StoreCommitted: the write buffer was committed.
	StoreCommitted StoreEvent = iota
	// StoreAborted: the write buffer was dropped; the store is back at its
	// last commit.
	StoreAborted
	// StoreRestored: changelog records were written beneath the buffer.
	StoreRestored
)

// Transactional is implemented by bytes stores with a write buffer that is
// committed or aborted as a whole (package changelog's stores). Wrappers
// that keep state derived from the store's content (the newest time a
// window store has seen) register to keep it in step: after an abort they
// go back to what they had at the last commit, after a restore they read
// it from the store again.
//
// The hooks take plain funcs, not a StoreEvent, so that the exported
// methods of the implementing store name no type of this internal package.
type Transactional interface {
	// OnCommit registers fn, called after every commit.
	OnCommit(fn func())
	// OnAbort registers fn, called after every abort.
	OnAbort(fn func())
	// OnRestore registers fn, called after changelog records were written
	// beneath the buffer.
	OnRestore(fn func())
}

// OnStoreEvent registers fn with t for every commit, abort and restore,
// called with the event.
func OnStoreEvent(t Transactional, fn func(StoreEvent)) {
	t.OnCommit(func() { fn(StoreCommitted) })
	t.OnAbort(func() { fn(StoreAborted) })
	t.OnRestore(func() { fn(StoreRestored) })
}

// BytesWindowStore is a window store of raw keys and values: what typed
// window stores wrap (see WrapWindowStore). A nil value deletes.
type BytesWindowStore interface {
	processor.StateStore
	// Put stores value for key in the window starting at start (ignored
	// if behind the retention); a nil value deletes the window.
	Put(key, value []byte, start time.Time) error
	// Fetch yields the windows of key with from <= start <= to, by start.
	Fetch(key []byte, from, to time.Time) iter.Seq2[processor.Windowed[[]byte], error]
	// FetchAll yields the windows of every key with from <= start <= to,
	// by segment, then key, then start.
	FetchAll(from, to time.Time) iter.Seq2[processor.WindowedKeyValue[[]byte, []byte], error]
}

// BytesSessionStore is a session store of raw keys and values: what typed
// session stores wrap (see WrapSessionStore). A nil value deletes.
type BytesSessionStore interface {
	processor.StateStore
	// FindSessions yields the sessions of key that end at or after
	// earliestEnd and start at or before latestStart, by end, then start.
	FindSessions(key []byte, earliestEnd, latestStart time.Time) iter.Seq2[processor.KeyValue[processor.Session[[]byte], []byte], error]
	// Put stores the value of a session (ignored if it ended behind the
	// retention); a nil value removes it.
	Put(s processor.Session[[]byte], value []byte) error
	// Remove deletes a session.
	Remove(s processor.Session[[]byte]) error
}

// Key layout of window and session stores in a bytes key-value store, so
// that one store serves both a per-key time range scan and cheap expiry:
//
//	window:  [8 segment][4 key length][key][8 start]
//	session: [8 segment][4 key length][key][8 end][8 start]
//
// all big-endian unsigned; times are Unix milliseconds (ErrBeforeEpoch
// below 0); the segment is the window start (session end) divided by the
// segment interval, retention/(segments-1). The key length keeps key "a"
// from seeing the windows of key "ab". Within a segment, entries are by key,
// then by time; expiry deletes whole segments, [0, first live segment), with
// one range deletion. Changing the retention or the number of segments of
// an existing store changes the layout: reset the application.

func appendU64(b []byte, v int64) []byte { return binary.BigEndian.AppendUint64(b, uint64(v)) }

func segKey(seg int64, key []byte) []byte {
	b := appendU64(make([]byte, 0, 12+len(key)+16), seg)
	b = binary.BigEndian.AppendUint32(b, uint32(len(key)))
	return append(b, key...)
}

var errBadKey = errors.New("stores: malformed window or session key")

// segmented is what window and session stores share: the raw store, the
// segment arithmetic and expiry.
type segmented struct {
	raw       processor.BytesKeyValueStore
	retention int64 // millis
	interval  int64 // millis per segment

	// started: observed has been read from the store.
	started bool
	// observed is the newest time seen, -1 if none.
	observed int64
	// dropped: segments below it are gone (or going, in the buffer).
	dropped int64
	// at the last commit, for a Transactional store
	committed struct {
		started           bool
		observed, dropped int64
	}
}

func newSegmented(raw processor.BytesKeyValueStore, retention time.Duration, segments int) *segmented {
	if segments < 2 {
		segments = 2
	}
	r := max(retention.Milliseconds(), 1)
	s := &segmented{raw: raw, retention: r, interval: max(r/int64(segments-1), 1), observed: -1}
	if t, ok := raw.(Transactional); ok {
		OnStoreEvent(t, s.storeEvent)
	}
	return s
}

func (s *segmented) storeEvent(ev StoreEvent) {
	switch ev {
	case StoreCommitted:
		s.committed.started, s.committed.observed, s.committed.dropped = s.started, s.observed, s.dropped
	case StoreAborted:
		s.started, s.observed, s.dropped = s.committed.started, s.committed.observed, s.committed.dropped
	case StoreRestored:
		s.started, s.committed.started = false, false
	}
}

func (s *segmented) seg(ms int64) int64 { return ms / s.interval }

// liveSeg is the first segment that may hold unexpired entries.
func (s *segmented) liveSeg() int64 {
	if s.observed < 0 {
		return 0
	}
	return s.seg(max(s.observed-s.retention, 0))
}

// visibleFrom is the first time a fetch from ms shows: at least 0, and
// after observed - retention, as Kafka Streams' segmented stores
// (getActualFrom): an entry at or behind the newest time minus the
// retention is hidden, even while its segment is still there.
func (s *segmented) visibleFrom(ms int64) int64 {
	if s.observed < 0 {
		return max(ms, 0)
	}
	return max(ms, 0, s.observed-s.retention+1)
}

// expired reports whether time ms is behind the retention.
func (s *segmented) expired(ms int64) bool { return s.observed >= 0 && ms < s.observed-s.retention }

// nextSegment returns the first segment >= from that holds an entry.
func (s *segmented) nextSegment(from int64) (int64, bool, error) {
	for kv, err := range s.raw.Range(appendU64(nil, from), nil) {
		if err != nil {
			return 0, false, err
		}
		if len(kv.Key) < 12 {
			return 0, false, fmt.Errorf("store %q: %w", s.raw.Name(), errBadKey)
		}
		return int64(binary.BigEndian.Uint64(kv.Key)), true, nil
	}
	return 0, false, nil
}

// start reads, once, a lower bound of the newest time from the store (the
// start of its last segment: after a restart or a restore) and expires
// what is behind it.
func (s *segmented) start() error {
	if s.started {
		return nil
	}
	first, ok, err := s.nextSegment(0)
	if err != nil {
		return err
	}
	s.started, s.observed, s.dropped = true, -1, 0
	if !ok {
		return nil
	}
	// Gallop, then bisect, to the last segment: O(log segments) seeks.
	// Invariant: a segment >= lo holds entries, none >= hi does.
	lo, hi := first, math.MaxInt64/s.interval+1
	for step := int64(1); step < hi-lo && step <= math.MaxInt64/4; step *= 2 {
		_, found, err := s.nextSegment(lo + step)
		if err != nil {
			return err
		}
		if !found {
			hi = lo + step
			break
		}
		lo += step
	}
	for lo+1 < hi {
		m := lo + (hi-lo)/2
		_, found, err := s.nextSegment(m)
		if err != nil {
			return err
		}
		if found {
			lo = m
		} else {
			hi = m
		}
	}
	last, _, err := s.nextSegment(lo)
	if err != nil {
		return err
	}
	s.observed = last * s.interval
	return s.expire()
}

// observe advances the newest time and expires what falls behind it.
func (s *segmented) observe(ms int64) error {
	if err := s.start(); err != nil {
		return err
	}
	if ms > s.observed {
		s.observed = ms
	}
	return s.expire()
}

// expire drops the segments below the first live one.
func (s *segmented) expire() error {
	live := s.liveSeg()
	if live <= s.dropped {
		return nil
	}
	from, to := appendU64(nil, s.dropped), appendU64(nil, live)
	if d, ok := s.raw.(RangeDropper); ok {
		if err := d.DropRange(from, to); err != nil {
			return err
		}
	} else {
		var keys [][]byte
		for kv, err := range s.raw.Range(from, to) {
			if err != nil {
				return err
			}
			if bytes.Compare(kv.Key, to) < 0 {
				keys = append(keys, kv.Key)
			}
		}
		for _, k := range keys {
			if err := s.raw.Delete(k); err != nil {
				return err
			}
		}
	}
	s.dropped = live
	return nil
}

// segments yields the segments in [first, last] that may hold entries,
// skipping empty ones by seeking when the span is wide. Nothing lies past
// the newest time seen: every write observes its time first.
func (s *segmented) segments(first, last int64) iter.Seq2[int64, error] {
	return func(yield func(int64, error) bool) {
		if s.observed < 0 {
			return // an empty store
		}
		first, last = max(first, s.liveSeg()), min(last, s.seg(s.observed))
		for seg := first; seg <= last; seg++ {
			if last-seg > 4 {
				next, ok, err := s.nextSegment(seg)
				if err != nil {
					yield(0, err)
					return
				}
				if !ok || next > last {
					return
				}
				seg = next
			}
			if !yield(seg, nil) || seg == last {
				return
			}
		}
	}
}

// millis checks that t is not before the epoch.
func millis(store string, t time.Time) (int64, error) {
	ms := t.UnixMilli()
	if ms < 0 {
		return 0, fmt.Errorf("store %q: %v: %w", store, t, processor.ErrBeforeEpoch)
	}
	return ms, nil
}

// NewBytesWindowStore makes a bytes window store of a bytes key-value
// store, with the given retention split into segments (at least 2) for
// cheap expiry.
func NewBytesWindowStore(raw processor.BytesKeyValueStore, retention time.Duration, segments int) BytesWindowStore {
	return &bytesWindowStore{newSegmented(raw, retention, segments)}
}

type bytesWindowStore struct{ *segmented }

func (w *bytesWindowStore) Name() string { return w.raw.Name() }

func (w *bytesWindowStore) Put(key, value []byte, start time.Time) error {
	ms, err := millis(w.raw.Name(), start)
	if err != nil {
		return err
	}
	if err := w.observe(ms); err != nil {
		return err
	}
	if w.expired(ms) {
		return nil
	}
	k := appendU64(segKey(w.seg(ms), key), ms)
	if value == nil {
		return w.raw.Delete(k)
	}
	return w.raw.Put(k, value)
}

// WindowObserver is implemented by the window stores of
// NewBytesWindowStore, for a record cache in front of one (package
// topology): the cache defers the store's writes, and tells the store the
// window start of every update it takes instead, so that the store's
// retention moves as it would without the cache.
type WindowObserver interface {
	// Observe advances the store's newest time to start, as a Put of
	// start does (expiring what falls behind the retention), and reports
	// whether start is behind the retention: a Put of it is dropped.
	Observe(start time.Time) (expired bool, err error)
}

// Observe implements WindowObserver.
func (w *bytesWindowStore) Observe(start time.Time) (bool, error) {
	ms, err := millis(w.raw.Name(), start)
	if err != nil {
		return false, err
	}
	if err := w.observe(ms); err != nil {
		return false, err
	}
	return w.expired(ms), nil
}

func (w *bytesWindowStore) Fetch(key []byte, from, to time.Time) iter.Seq2[processor.Windowed[[]byte], error] {
	return func(yield func(processor.Windowed[[]byte], error) bool) {
		if err := w.start(); err != nil {
			yield(processor.Windowed[[]byte]{}, err)
			return
		}
		lo, hi := w.visibleFrom(from.UnixMilli()), to.UnixMilli()
		if hi < lo {
			return
		}
		for seg, err := range w.segments(w.seg(lo), w.seg(hi)) {
			if err != nil {
				yield(processor.Windowed[[]byte]{}, err)
				return
			}
			p := segKey(seg, key)
			for kv, err := range w.raw.Range(appendU64(bytes.Clone(p), lo), appendU64(bytes.Clone(p), hi)) {
				if err != nil {
					yield(processor.Windowed[[]byte]{}, err)
					return
				}
				if len(kv.Key) != len(p)+8 {
					yield(processor.Windowed[[]byte]{}, fmt.Errorf("store %q: %w", w.raw.Name(), errBadKey))
					return
				}
				ms := int64(binary.BigEndian.Uint64(kv.Key[len(p):]))
				if !yield(processor.Windowed[[]byte]{Start: time.UnixMilli(ms), Value: kv.Value}, nil) {
					return
				}
			}
		}
	}
}

func (w *bytesWindowStore) FetchAll(from, to time.Time) iter.Seq2[processor.WindowedKeyValue[[]byte, []byte], error] {
	return func(yield func(processor.WindowedKeyValue[[]byte, []byte], error) bool) {
		if err := w.start(); err != nil {
			yield(processor.WindowedKeyValue[[]byte, []byte]{}, err)
			return
		}
		lo, hi := w.visibleFrom(from.UnixMilli()), to.UnixMilli()
		if hi < lo {
			return
		}
		for seg, err := range w.segments(w.seg(lo), w.seg(hi)) {
			if err != nil {
				yield(processor.WindowedKeyValue[[]byte, []byte]{}, err)
				return
			}
			// A segment is stored by key, then start; it is yielded by start,
			// then key, so that the whole scan is in time order (segments
			// are time ranges, scanned oldest first).
			var inSeg []processor.WindowedKeyValue[[]byte, []byte]
			for kv, err := range w.raw.PrefixScan(appendU64(nil, seg)) {
				if err != nil {
					yield(processor.WindowedKeyValue[[]byte, []byte]{}, err)
					return
				}
				k, ms, err := splitWindowKey(kv.Key)
				if err != nil {
					yield(processor.WindowedKeyValue[[]byte, []byte]{}, fmt.Errorf("store %q: %w", w.raw.Name(), err))
					return
				}
				if ms < lo || ms > hi {
					continue
				}
				inSeg = append(inSeg, processor.WindowedKeyValue[[]byte, []byte]{Key: bytes.Clone(k), Start: time.UnixMilli(ms), Value: bytes.Clone(kv.Value)})
			}
			slices.SortStableFunc(inSeg, func(a, b processor.WindowedKeyValue[[]byte, []byte]) int {
				if c := a.Start.Compare(b.Start); c != 0 {
					return c
				}
				return bytes.Compare(a.Key, b.Key)
			})
			for _, e := range inSeg {
				if !yield(e, nil) {
					return
				}
			}
		}
	}
}

func splitWindowKey(b []byte) (key []byte, ms int64, err error) {
	if len(b) < 20 {
		return nil, 0, errBadKey
	}
	n := int(binary.BigEndian.Uint32(b[8:12]))
	if len(b) != 12+n+8 {
		return nil, 0, errBadKey
	}
	return b[12 : 12+n], int64(binary.BigEndian.Uint64(b[12+n:])), nil
}

// NewBytesSessionStore makes a bytes session store of a bytes key-value
// store, with the given retention (counted from session ends) split into
// segments (at least 2) for cheap expiry.
func NewBytesSessionStore(raw processor.BytesKeyValueStore, retention time.Duration, segments int) BytesSessionStore {
	return &bytesSessionStore{newSegmented(raw, retention, segments)}
}

type bytesSessionStore struct{ *segmented }

func (s *bytesSessionStore) Name() string { return s.raw.Name() }

func (s *bytesSessionStore) sessionKey(sess processor.Session[[]byte]) (k []byte, end int64, err error) {
	end, err = millis(s.raw.Name(), sess.End)
	if err != nil {
		return nil, 0, err
	}
	start, err := millis(s.raw.Name(), sess.Start)
	if err != nil {
		return nil, 0, err
	}
	if start > end {
		return nil, 0, fmt.Errorf("store %q: session starts at %v after it ends at %v", s.raw.Name(), sess.Start, sess.End)
	}
	return appendU64(appendU64(segKey(s.seg(end), sess.Key), end), start), end, nil
}

func (s *bytesSessionStore) Put(sess processor.Session[[]byte], value []byte) error {
	if value == nil {
		return s.Remove(sess)
	}
	k, end, err := s.sessionKey(sess)
	if err != nil {
		return err
	}
	if err := s.observe(end); err != nil {
		return err
	}
	if s.expired(end) {
		return nil
	}
	return s.raw.Put(k, value)
}

func (s *bytesSessionStore) Remove(sess processor.Session[[]byte]) error {
	k, _, err := s.sessionKey(sess)
	if err != nil {
		return err
	}
	return s.raw.Delete(k)
}

func (s *bytesSessionStore) FindSessions(key []byte, earliestEnd, latestStart time.Time) iter.Seq2[processor.KeyValue[processor.Session[[]byte], []byte], error] {
	return func(yield func(processor.KeyValue[processor.Session[[]byte], []byte], error) bool) {
		if err := s.start(); err != nil {
			yield(processor.KeyValue[processor.Session[[]byte], []byte]{}, err)
			return
		}
		lo, maxStart := max(earliestEnd.UnixMilli(), 0), latestStart.UnixMilli()
		if maxStart < 0 {
			return
		}
		// A session's end has no upper bound: every segment from lo's on.
		for seg, err := range s.segments(s.seg(lo), math.MaxInt64) {
			if err != nil {
				yield(processor.KeyValue[processor.Session[[]byte], []byte]{}, err)
				return
			}
			p := segKey(seg, key)
			from := appendU64(bytes.Clone(p), lo)
			to := append(bytes.Clone(p), bytes.Repeat([]byte{0xff}, 16)...)
			for kv, err := range s.raw.Range(from, to) {
				if err != nil {
					yield(processor.KeyValue[processor.Session[[]byte], []byte]{}, err)
					return
				}
				rest := kv.Key[len(p):]
				if len(rest) != 16 {
					yield(processor.KeyValue[processor.Session[[]byte], []byte]{}, fmt.Errorf("store %q: %w", s.raw.Name(), errBadKey))
					return
				}
				end, start := int64(binary.BigEndian.Uint64(rest[:8])), int64(binary.BigEndian.Uint64(rest[8:]))
				if start > maxStart {
					continue
				}
				sess := processor.Session[[]byte]{Key: key, Start: time.UnixMilli(start), End: time.UnixMilli(end)}
				if !yield(processor.KeyValue[processor.Session[[]byte], []byte]{Key: sess, Value: kv.Value}, nil) {
					return
				}
			}
		}
	}
}

// NewWindowStore wraps a bytes key-value store as a typed window store with
// the given retention, split into segments for cheap expiry:
// WrapWindowStore(NewBytesWindowStore(raw, retention, segments), key, value).
func NewWindowStore[K, V any](raw processor.BytesKeyValueStore, key serde.Serde[K], value serde.Serde[V], retention time.Duration, segments int) processor.WindowStore[K, V] {
	return WrapWindowStore(NewBytesWindowStore(raw, retention, segments), key, value)
}

// WrapWindowStore wraps a bytes window store in a typed one with the given
// serdes, called with the store's name as the topic.
func WrapWindowStore[K, V any](b BytesWindowStore, key serde.Serde[K], value serde.Serde[V]) processor.WindowStore[K, V] {
	return &windowStore[K, V]{b: b, key: key, value: value}
}

type windowStore[K, V any] struct {
	b     BytesWindowStore
	key   serde.Serde[K]
	value serde.Serde[V]
}

// StoreType names the store as its users declared it, for errors.
func (s *windowStore[K, V]) StoreType() string { return TypeName[K, V]("WindowStore") }

func (w *windowStore[K, V]) Name() string { return w.b.Name() }

func (w *windowStore[K, V]) Put(key K, value V, start time.Time) error {
	kb, err := w.key.Serialize(w.b.Name(), key)
	if err != nil {
		return fmt.Errorf("window store %q: serialize key: %w", w.b.Name(), err)
	}
	vb, err := w.value.Serialize(w.b.Name(), value)
	if err != nil {
		return fmt.Errorf("window store %q: serialize value: %w", w.b.Name(), err)
	}
	if vb == nil {
		vb = []byte{} // a value, not a delete
	}
	return w.b.Put(kb, vb, start)
}

// Delete removes key's window starting at start, if there is one.
func (w *windowStore[K, V]) Delete(key K, start time.Time) error {
	kb, err := w.key.Serialize(w.b.Name(), key)
	if err != nil {
		return fmt.Errorf("window store %q: serialize key: %w", w.b.Name(), err)
	}
	return w.b.Put(kb, nil, start)
}

func (w *windowStore[K, V]) Fetch(key K, from, to time.Time) iter.Seq2[processor.Windowed[V], error] {
	return func(yield func(processor.Windowed[V], error) bool) {
		kb, err := w.key.Serialize(w.b.Name(), key)
		if err != nil {
			yield(processor.Windowed[V]{}, fmt.Errorf("window store %q: serialize key: %w", w.b.Name(), err))
			return
		}
		for win, err := range w.b.Fetch(kb, from, to) {
			if err != nil {
				yield(processor.Windowed[V]{}, err)
				return
			}
			v, err := w.value.Deserialize(w.b.Name(), win.Value)
			if err != nil {
				yield(processor.Windowed[V]{}, fmt.Errorf("window store %q: deserialize value: %w", w.b.Name(), err))
				return
			}
			if !yield(processor.Windowed[V]{Start: win.Start, Value: v}, nil) {
				return
			}
		}
	}
}

func (w *windowStore[K, V]) FetchAll(from, to time.Time) iter.Seq2[processor.WindowedKeyValue[K, V], error] {
	return func(yield func(processor.WindowedKeyValue[K, V], error) bool) {
		for win, err := range w.b.FetchAll(from, to) {
			if err != nil {
				yield(processor.WindowedKeyValue[K, V]{}, err)
				return
			}
			k, err := w.key.Deserialize(w.b.Name(), win.Key)
			if err != nil {
				yield(processor.WindowedKeyValue[K, V]{}, fmt.Errorf("window store %q: deserialize key: %w", w.b.Name(), err))
				return
			}
			v, err := w.value.Deserialize(w.b.Name(), win.Value)
			if err != nil {
				yield(processor.WindowedKeyValue[K, V]{}, fmt.Errorf("window store %q: deserialize value: %w", w.b.Name(), err))
				return
			}
			if !yield(processor.WindowedKeyValue[K, V]{Key: k, Start: win.Start, Value: v}, nil) {
				return
			}
		}
	}
}

// NewSessionStore wraps a bytes key-value store as a typed session store
// with the given retention (by session end), split into segments for cheap
// expiry: WrapSessionStore(NewBytesSessionStore(raw, retention, segments),
// key, value).
func NewSessionStore[K, V any](raw processor.BytesKeyValueStore, key serde.Serde[K], value serde.Serde[V], retention time.Duration, segments int) processor.SessionStore[K, V] {
	return WrapSessionStore(NewBytesSessionStore(raw, retention, segments), key, value)
}

// WrapSessionStore wraps a bytes session store in a typed one with the
// given serdes, called with the store's name as the topic.
func WrapSessionStore[K, V any](b BytesSessionStore, key serde.Serde[K], value serde.Serde[V]) processor.SessionStore[K, V] {
	return &sessionStore[K, V]{b: b, key: key, value: value}
}

type sessionStore[K, V any] struct {
	b     BytesSessionStore
	key   serde.Serde[K]
	value serde.Serde[V]
}

// StoreType names the store as its users declared it, for errors.
func (s *sessionStore[K, V]) StoreType() string { return TypeName[K, V]("SessionStore") }

func (s *sessionStore[K, V]) Name() string { return s.b.Name() }

func (s *sessionStore[K, V]) raw(sess processor.Session[K]) (processor.Session[[]byte], error) {
	kb, err := s.key.Serialize(s.b.Name(), sess.Key)
	if err != nil {
		return processor.Session[[]byte]{}, fmt.Errorf("session store %q: serialize key: %w", s.b.Name(), err)
	}
	return processor.Session[[]byte]{Key: kb, Start: sess.Start, End: sess.End}, nil
}

func (s *sessionStore[K, V]) Put(sess processor.Session[K], value V) error {
	rs, err := s.raw(sess)
	if err != nil {
		return err
	}
	vb, err := s.value.Serialize(s.b.Name(), value)
	if err != nil {
		return fmt.Errorf("session store %q: serialize value: %w", s.b.Name(), err)
	}
	if vb == nil {
		vb = []byte{} // a value, not a delete
	}
	return s.b.Put(rs, vb)
}

func (s *sessionStore[K, V]) Remove(sess processor.Session[K]) error {
	rs, err := s.raw(sess)
	if err != nil {
		return err
	}
	return s.b.Remove(rs)
}

func (s *sessionStore[K, V]) FindSessions(key K, earliestEnd, latestStart time.Time) iter.Seq2[processor.KeyValue[processor.Session[K], V], error] {
	return func(yield func(processor.KeyValue[processor.Session[K], V], error) bool) {
		kb, err := s.key.Serialize(s.b.Name(), key)
		if err != nil {
			yield(processor.KeyValue[processor.Session[K], V]{}, fmt.Errorf("session store %q: serialize key: %w", s.b.Name(), err))
			return
		}
		for kv, err := range s.b.FindSessions(kb, earliestEnd, latestStart) {
			if err != nil {
				yield(processor.KeyValue[processor.Session[K], V]{}, err)
				return
			}
			v, err := s.value.Deserialize(s.b.Name(), kv.Value)
			if err != nil {
				yield(processor.KeyValue[processor.Session[K], V]{}, fmt.Errorf("session store %q: deserialize value: %w", s.b.Name(), err))
				return
			}
			sess := processor.Session[K]{Key: key, Start: kv.Key.Start, End: kv.Key.End}
			if !yield(processor.KeyValue[processor.Session[K], V]{Key: sess, Value: v}, nil) {
				return
			}
		}
	}
}
