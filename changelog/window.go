package changelog

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
)

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

var errBadKey = errors.New("changelog: malformed window or session key")

// segmented is what window and session stores share: the store beneath,
// the segment arithmetic and expiry. It belongs to the goroutine that owns
// its store.
type segmented struct {
	raw       *Store
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

func newSegmented(raw *Store, retention time.Duration, segments int) *segmented {
	if segments < 2 {
		segments = 2
	}
	r := max(retention.Milliseconds(), 1)
	s := &segmented{raw: raw, retention: r, interval: max(r/int64(segments-1), 1), observed: -1}
	raw.OnCommit(func() {
		s.committed.started, s.committed.observed, s.committed.dropped = s.started, s.observed, s.dropped
	})
	raw.OnAbort(func() {
		s.started, s.observed, s.dropped = s.committed.started, s.committed.observed, s.committed.dropped
	})
	raw.OnRestore(func() { s.started, s.committed.started = false, false })
	return s
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
	if err := s.raw.DropRange(appendU64(nil, s.dropped), appendU64(nil, live)); err != nil {
		return err
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

// Windows returns the store as a window store of raw keys and values (a
// value per key and window start, a nil value deletes), keeping the
// windows of the given retention (behind the newest window start put)
// split into segments (at least 2) for cheap expiry. Call it once per
// opened store; the typed window stores of package topology wrap it.
func (s *Store) Windows(retention time.Duration, segments int) *Windows {
	return &Windows{newSegmented(s, retention, segments)}
}

// Windows is a Store in the window layout; see Store.Windows.
type Windows struct{ *segmented }

// Name returns the store's name.
func (w *Windows) Name() string { return w.raw.Name() }

// Put stores value for key in the window starting at start (ignored if
// behind the retention); a nil value deletes the window.
func (w *Windows) Put(key, value []byte, start time.Time) error {
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

// Observe advances the newest window start to start, as a Put of start
// does (expiring what falls behind the retention), and reports whether
// start is behind the retention: a Put of it would be dropped. A record
// cache that defers the store's writes tells it every window start so.
func (w *Windows) Observe(start time.Time) (bool, error) {
	ms, err := millis(w.raw.Name(), start)
	if err != nil {
		return false, err
	}
	if err := w.observe(ms); err != nil {
		return false, err
	}
	return w.expired(ms), nil
}

// Fetch yields the windows of key with from <= start <= to, by start.
func (w *Windows) Fetch(key []byte, from, to time.Time) iter.Seq2[processor.Windowed[[]byte], error] {
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

// FetchAll yields the windows of every key with from <= start <= to, by
// start, then key.
func (w *Windows) FetchAll(from, to time.Time) iter.Seq2[processor.WindowedKeyValue[[]byte, []byte], error] {
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

// Sessions returns the store as a session store of raw keys and values (a
// value per session of a key, a nil value removes), keeping the sessions
// of the given retention (counted from session ends, behind the newest
// end put) split into segments (at least 2) for cheap expiry. Call it once
// per opened store; the typed session stores of package topology wrap it.
func (s *Store) Sessions(retention time.Duration, segments int) *Sessions {
	return &Sessions{newSegmented(s, retention, segments)}
}

// Sessions is a Store in the session layout; see Store.Sessions.
type Sessions struct{ *segmented }

// Name returns the store's name.
func (s *Sessions) Name() string { return s.raw.Name() }

func (s *Sessions) sessionKey(sess processor.Session[[]byte]) (k []byte, end int64, err error) {
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

// Put stores the value of a session (ignored if it ended behind the
// retention); a nil value removes it.
func (s *Sessions) Put(sess processor.Session[[]byte], value []byte) error {
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

// Remove deletes a session.
func (s *Sessions) Remove(sess processor.Session[[]byte]) error {
	k, _, err := s.sessionKey(sess)
	if err != nil {
		return err
	}
	return s.raw.Delete(k)
}

// FindSessions yields the sessions of key that end at or after
// earliestEnd and start at or before latestStart, by end, then start.
func (s *Sessions) FindSessions(key []byte, earliestEnd, latestStart time.Time) iter.Seq2[processor.KeyValue[processor.Session[[]byte], []byte], error] {
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
