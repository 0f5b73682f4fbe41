package processor

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/samsa-streams/samsa/serde"
)

// RangeDropper is implemented by bytes stores that can delete a key range
// cheaply and at once (Pebble's range deletion). Window and session stores
// use it to drop expired segments; dropped data is not logged: the
// changelog topic's own retention removes it there.
type RangeDropper interface {
	DropRange(from, to []byte) error
}

// Windowed is one window of a window store: its start and its value.
type Windowed[V any] struct {
	Start time.Time
	Value V
}

// WindowedKeyValue is a key, a window start and a value.
type WindowedKeyValue[K, V any] struct {
	Key   K
	Start time.Time
	Value V
}

// WindowStore keeps a value per key and window start. Windows older than the
// retention (behind the newest window start seen) are dropped, a segment at
// a time.
type WindowStore[K, V any] interface {
	StateStore
	// Put stores value for key in the window starting at start. A value
	// older than the retention is ignored.
	Put(key K, value V, start time.Time) error
	// Fetch yields the windows of key with from <= start <= to, by start.
	Fetch(key K, from, to time.Time) iter.Seq2[Windowed[V], error]
	// FetchAll yields the windows of every key with from <= start <= to.
	FetchAll(from, to time.Time) iter.Seq2[WindowedKeyValue[K, V], error]
}

// Session is a session window of a key: the first and last event times.
type Session[K any] struct {
	Key        K
	Start, End time.Time
}

// SessionStore keeps a value per session window of a key.
type SessionStore[K, V any] interface {
	StateStore
	// FindSessions yields the sessions of key that end at or after
	// earliestEnd and start at or before latestStart, by end time.
	FindSessions(key K, earliestEnd, latestStart time.Time) iter.Seq2[KeyValue[Session[K], V], error]
	// Put stores the value of a session.
	Put(s Session[K], value V) error
	// Remove deletes a session.
	Remove(s Session[K]) error
}

// Key layout of window and session stores, so that one bytes store serves
// both a per-key time range scan and cheap expiry:
//
//	window:  [8 segment][4 key length][key][8 start millis]
//	session: [8 segment][4 key length][key][8 end millis][8 start millis]
//
// all big-endian; the segment is the (end or start) time divided by the
// segment interval. Times before the epoch are not supported.

func appendU64(b []byte, v int64) []byte { return binary.BigEndian.AppendUint64(b, uint64(max(v, 0))) }

func segKey(seg int64, key []byte) []byte {
	b := appendU64(make([]byte, 0, 20+len(key)+16), seg)
	b = binary.BigEndian.AppendUint32(b, uint32(len(key)))
	return append(b, key...)
}

type segmented struct {
	raw       BytesKeyValueStore
	retention int64 // millis
	interval  int64 // millis per segment
	observed  int64 // newest time seen
	dropped   int64 // segments below this are gone
}

func newSegmented(raw BytesKeyValueStore, retention time.Duration, segments int) segmented {
	if segments < 2 {
		segments = 2
	}
	r := max(retention.Milliseconds(), 1)
	return segmented{raw: raw, retention: r, interval: max(r/int64(segments-1), 1)}
}

func (s *segmented) seg(ms int64) int64 { return ms / s.interval }

// observe advances the newest time and drops the segments that fell out of
// the retention.
func (s *segmented) observe(ms int64) error {
	if ms <= s.observed {
		return nil
	}
	s.observed = ms
	minSeg := s.seg(ms - s.retention)
	if minSeg <= s.dropped {
		return nil
	}
	from, to := appendU64(nil, s.dropped), appendU64(nil, minSeg)
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
	s.dropped = minSeg
	return nil
}

func (s *segmented) expired(ms int64) bool { return ms < s.observed-s.retention }

// NewWindowStore wraps a bytes store as a window store with the given
// retention, split into segments for cheap expiry.
func NewWindowStore[K, V any](raw BytesKeyValueStore, key serde.Serde[K], value serde.Serde[V], retention time.Duration, segments int) WindowStore[K, V] {
	return &windowStore[K, V]{segmented: newSegmented(raw, retention, segments), key: key, value: value}
}

type windowStore[K, V any] struct {
	segmented
	key   serde.Serde[K]
	value serde.Serde[V]
}

func (w *windowStore[K, V]) Name() string { return w.raw.Name() }

func (w *windowStore[K, V]) Put(key K, value V, start time.Time) error {
	ms := start.UnixMilli()
	if err := w.observe(ms); err != nil {
		return err
	}
	if w.expired(ms) {
		return nil
	}
	kb, err := w.key.Serialize(w.raw.Name(), key)
	if err != nil {
		return fmt.Errorf("window store %q: key: %w", w.raw.Name(), err)
	}
	vb, err := w.value.Serialize(w.raw.Name(), value)
	if err != nil {
		return fmt.Errorf("window store %q: value: %w", w.raw.Name(), err)
	}
	return w.raw.Put(appendU64(segKey(w.seg(ms), kb), ms), vb)
}

func (w *windowStore[K, V]) Fetch(key K, from, to time.Time) iter.Seq2[Windowed[V], error] {
	return func(yield func(Windowed[V], error) bool) {
		kb, err := w.key.Serialize(w.raw.Name(), key)
		if err != nil {
			yield(Windowed[V]{}, err)
			return
		}
		lo, hi := max(from.UnixMilli(), 0), to.UnixMilli()
		for seg := max(w.seg(lo), w.dropped); seg <= w.seg(hi); seg++ {
			p := segKey(seg, kb)
			for kv, err := range w.raw.Range(appendU64(bytes.Clone(p), lo), appendU64(bytes.Clone(p), hi)) {
				if err != nil {
					yield(Windowed[V]{}, err)
					return
				}
				v, err := w.value.Deserialize(w.raw.Name(), kv.Value)
				if err != nil {
					yield(Windowed[V]{}, err)
					return
				}
				ms := int64(binary.BigEndian.Uint64(kv.Key[len(kv.Key)-8:]))
				if !yield(Windowed[V]{Start: time.UnixMilli(ms), Value: v}, nil) {
					return
				}
			}
		}
	}
}

func (w *windowStore[K, V]) FetchAll(from, to time.Time) iter.Seq2[WindowedKeyValue[K, V], error] {
	return func(yield func(WindowedKeyValue[K, V], error) bool) {
		lo, hi := max(from.UnixMilli(), 0), to.UnixMilli()
		for seg := max(w.seg(lo), w.dropped); seg <= w.seg(hi); seg++ {
			for kv, err := range w.raw.PrefixScan(appendU64(nil, seg)) {
				if err != nil {
					yield(WindowedKeyValue[K, V]{}, err)
					return
				}
				k, ms, err := splitWindowKey(kv.Key)
				if err != nil {
					yield(WindowedKeyValue[K, V]{}, err)
					return
				}
				if ms < lo || ms > hi {
					continue
				}
				key, err := w.key.Deserialize(w.raw.Name(), k)
				if err != nil {
					yield(WindowedKeyValue[K, V]{}, err)
					return
				}
				v, err := w.value.Deserialize(w.raw.Name(), kv.Value)
				if err != nil {
					yield(WindowedKeyValue[K, V]{}, err)
					return
				}
				if !yield(WindowedKeyValue[K, V]{Key: key, Start: time.UnixMilli(ms), Value: v}, nil) {
					return
				}
			}
		}
	}
}

var errBadKey = errors.New("processor: malformed window or session key")

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

// NewSessionStore wraps a bytes store as a session store with the given
// retention (by session end), split into segments for cheap expiry.
func NewSessionStore[K, V any](raw BytesKeyValueStore, key serde.Serde[K], value serde.Serde[V], retention time.Duration, segments int) SessionStore[K, V] {
	return &sessionStore[K, V]{segmented: newSegmented(raw, retention, segments), key: key, value: value}
}

type sessionStore[K, V any] struct {
	segmented
	key   serde.Serde[K]
	value serde.Serde[V]
}

func (s *sessionStore[K, V]) Name() string { return s.raw.Name() }

func (s *sessionStore[K, V]) sessionKey(sess Session[K]) ([]byte, error) {
	kb, err := s.key.Serialize(s.raw.Name(), sess.Key)
	if err != nil {
		return nil, fmt.Errorf("session store %q: key: %w", s.raw.Name(), err)
	}
	end := sess.End.UnixMilli()
	return appendU64(appendU64(segKey(s.seg(end), kb), end), sess.Start.UnixMilli()), nil
}

func (s *sessionStore[K, V]) Put(sess Session[K], value V) error {
	end := sess.End.UnixMilli()
	if err := s.observe(end); err != nil {
		return err
	}
	if s.expired(end) {
		return nil
	}
	k, err := s.sessionKey(sess)
	if err != nil {
		return err
	}
	vb, err := s.value.Serialize(s.raw.Name(), value)
	if err != nil {
		return fmt.Errorf("session store %q: value: %w", s.raw.Name(), err)
	}
	return s.raw.Put(k, vb)
}

func (s *sessionStore[K, V]) Remove(sess Session[K]) error {
	k, err := s.sessionKey(sess)
	if err != nil {
		return err
	}
	return s.raw.Delete(k)
}

func (s *sessionStore[K, V]) FindSessions(key K, earliestEnd, latestStart time.Time) iter.Seq2[KeyValue[Session[K], V], error] {
	return func(yield func(KeyValue[Session[K], V], error) bool) {
		kb, err := s.key.Serialize(s.raw.Name(), key)
		if err != nil {
			yield(KeyValue[Session[K], V]{}, err)
			return
		}
		lo, maxStart := max(earliestEnd.UnixMilli(), 0), latestStart.UnixMilli()
		for seg := max(s.seg(lo), s.dropped); seg <= s.seg(max(s.observed, lo)); seg++ {
			p := segKey(seg, kb)
			for kv, err := range s.raw.PrefixScan(p) {
				if err != nil {
					yield(KeyValue[Session[K], V]{}, err)
					return
				}
				rest := kv.Key[len(p):]
				if len(rest) != 16 {
					continue // another key sharing the prefix is impossible: lengths differ
				}
				end, start := int64(binary.BigEndian.Uint64(rest[:8])), int64(binary.BigEndian.Uint64(rest[8:]))
				if end < lo || start > maxStart {
					continue
				}
				v, err := s.value.Deserialize(s.raw.Name(), kv.Value)
				if err != nil {
					yield(KeyValue[Session[K], V]{}, err)
					return
				}
				sess := Session[K]{Key: key, Start: time.UnixMilli(start), End: time.UnixMilli(end)}
				if !yield(KeyValue[Session[K], V]{Key: sess, Value: v}, nil) {
					return
				}
			}
		}
	}
}
