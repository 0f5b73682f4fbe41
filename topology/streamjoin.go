package topology

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"time"

	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
)

// JoinWindows says which records of two streams join: those whose event
// times are at most before apart one way and after the other, as Kafka
// Streams' JoinWindows. Grace is how long out-of-order records are kept
// joinable after that; the join stores keep records for before + after +
// grace behind the newest time they saw.
type JoinWindows struct {
	before, after, grace time.Duration
}

// JoinTimeDifference returns join windows in which two records join when
// their event times are at most d apart, with no grace, as Kafka Streams'
// JoinWindows.ofTimeDifferenceWithNoGrace(d).
func JoinTimeDifference(d time.Duration) JoinWindows { return JoinWindows{before: d, after: d} }

// WithGrace returns w with the given grace period, as Kafka Streams'
// JoinWindows.ofTimeDifferenceAndGrace.
func (w JoinWindows) WithGrace(grace time.Duration) JoinWindows {
	w.grace = grace
	return w
}

func (w JoinWindows) check() error {
	whole := func(d time.Duration) bool { return d%time.Millisecond == 0 }
	switch {
	case w.before < 0 || w.after < 0 || w.grace < 0:
		return fmt.Errorf("join windows before %v, after %v and grace %v must not be negative", w.before, w.after, w.grace)
	case !whole(w.before) || !whole(w.after) || !whole(w.grace):
		return fmt.Errorf("join windows before %v, after %v and grace %v must be whole milliseconds", w.before, w.after, w.grace)
	}
	return nil
}

// JoinStreams joins two streams on their keys within join windows, as Kafka
// Streams' KStream.join(KStream, ValueJoiner, JoinWindows,
// StreamJoined.withStoreName(name)): every record of either stream is kept
// in a window store of its side, <name>-this-join-store for l and
// <name>-other-join-store for r (logged to their changelogs), and is joined
// with each record of the other side with the same key whose event time is
// within the windows (l's record at t with r's records in [t-before,
// t+after]); each pair is emitted once, when its second record arrives,
// with joiner(key, l's value, r's value) and the later of the two event
// times. A record with a null key or value is dropped (counted). A record
// that arrives after its side's store has moved past it (older than before +
// after + grace behind the newest record the store saw) is not kept, but
// still joins what the other side has.
//
// The two streams must be co-partitioned (the join's stores are read by
// both sides: startup checks the partition counts); a re-keyed stream is
// repartitioned first through <application id>-<name>-left-repartition or
// -right-repartition, with the serdes given.
func JoinStreams[K, V1, V2, VR any](l Stream[K, V1], r Stream[K, V2], name string, windows JoinWindows, joiner func(key K, v1 V1, v2 V2) VR, key serde.Serde[K], v1 serde.Serde[V1], v2 serde.Serde[V2]) Stream[K, VR] {
	t := l.t
	t.nilFuncs("JoinStreams "+strconv.Quote(name), "joiner", joiner)
	if l.t != r.t {
		t.g.Errorf("topology: JoinStreams %q: the streams belong to different topologies", name)
		return Stream[K, VR]{t: t, node: name}
	}
	if err := windows.check(); err != nil {
		t.g.Errorf("topology: JoinStreams %q: %v", name, err)
		windows = JoinTimeDifference(0)
	}
	l = byKey(l, fmt.Sprintf("JoinStreams %q (left)", name), name+"-left", key, v1)
	r = byKey(r, fmt.Sprintf("JoinStreams %q (right)", name), name+"-right", key, v2)
	thisStore, otherStore := name+"-this-join-store", name+"-other-join-store"
	before, after := windows.before.Milliseconds(), windows.after.Milliseconds()
	left, right := t.name("KSTREAM-JOINTHIS"), t.name("KSTREAM-JOINOTHER")
	AddProcessor(t, left, func() processor.Processor[K, V1, K, VR] {
		return &streamJoiner[K, V1, V2, VR]{own: thisStore, other: otherStore, from: before, to: after,
			join: func(k K, mine V1, theirs V2) VR { return joiner(k, mine, theirs) }}
	}, l.node)
	AddProcessor(t, right, func() processor.Processor[K, V2, K, VR] {
		return &streamJoiner[K, V2, V1, VR]{own: otherStore, other: thisStore, from: after, to: before,
			join: func(k K, mine V2, theirs V1) VR { return joiner(k, theirs, mine) }}
	}, r.node)
	retention := windows.before + windows.after + windows.grace
	if retention < time.Millisecond {
		retention = time.Millisecond
	}
	AddWindowStore(t, WindowStore[K, []V1]{Name: thisStore, Key: key, Value: listSerde[V1]{v1}, Retention: retention}, left, right)
	AddWindowStore(t, WindowStore[K, []V2]{Name: otherStore, Key: key, Value: listSerde[V2]{v2}, Retention: retention}, left, right)
	out := Stream[K, VR]{t: t, node: left, key: key}
	return out.Merge(Stream[K, VR]{t: t, node: right, key: key})
}

// streamJoiner is one side of a stream-stream join, as Kafka Streams'
// KStreamKStreamJoin: it keeps its record in its own store, then joins it
// with the other side's records from t-from to t+to.
type streamJoiner[K, V, VO, VR any] struct {
	own, other string
	from, to   int64
	join       func(K, V, VO) VR
	ctx        processor.Context[K, VR]
	mine       processor.WindowStore[K, []V]
	theirs     processor.WindowStore[K, []VO]
}

func (j *streamJoiner[K, V, VO, VR]) Init(ctx processor.Context[K, VR]) error {
	var err error
	if j.mine, err = processor.GetWindowStore[K, []V](ctx, j.own); err != nil {
		return err
	}
	if j.theirs, err = processor.GetWindowStore[K, []VO](ctx, j.other); err != nil {
		return err
	}
	j.ctx = ctx
	return nil
}

func (j *streamJoiner[K, V, VO, VR]) Process(r processor.Record[K, V]) error {
	if r.KeyIsNull() || r.IsTombstone() {
		dropped(j.ctx, "null key or value in a stream-stream join")
		return nil
	}
	ts := r.Timestamp.UnixMilli()
	at := time.UnixMilli(ts)
	var kept []V
	for w, err := range j.mine.Fetch(r.Key, at, at) {
		if err != nil {
			return err
		}
		kept = w.Value
	}
	if err := j.mine.Put(r.Key, append(kept, r.Value), at); err != nil {
		return err
	}
	for w, err := range j.theirs.Fetch(r.Key, time.UnixMilli(max(0, ts-j.from)), time.UnixMilli(ts+j.to)) {
		if err != nil {
			return err
		}
		for _, v := range w.Value {
			out := processor.WithValue(r, j.join(r.Key, r.Value, v))
			if w.Start.After(r.Timestamp) {
				out.Timestamp = w.Start
			}
			j.ctx.Forward(out)
		}
	}
	return nil
}

func (j *streamJoiner[K, V, VO, VR]) Close() error { return nil }

// listSerde writes the records a join store keeps under one key and time:
// each as a 4-byte big-endian length and its bytes, in arrival order.
type listSerde[V any] struct{ inner serde.Serde[V] }

func (s listSerde[V]) Serialize(topic string, vs []V) ([]byte, error) {
	var out []byte
	for _, v := range vs {
		b, err := s.inner.Serialize(topic, v)
		if err != nil {
			return nil, err
		}
		out = binary.BigEndian.AppendUint32(out, uint32(len(b)))
		out = append(out, b...)
	}
	if out == nil {
		out = []byte{}
	}
	return out, nil
}

func (s listSerde[V]) Deserialize(topic string, data []byte) ([]V, error) {
	var vs []V
	for len(data) > 0 {
		if len(data) < 4 {
			return nil, fmt.Errorf("%w: join store value in %q: truncated length", serde.ErrDeserialize, topic)
		}
		n := int(binary.BigEndian.Uint32(data))
		if 4+n > len(data) {
			return nil, fmt.Errorf("%w: join store value in %q: %d bytes announced, %d left", serde.ErrDeserialize, topic, n, len(data)-4)
		}
		v, err := s.inner.Deserialize(topic, data[4:4+n:4+n])
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
		data = data[4+n:]
	}
	return vs, nil
}
