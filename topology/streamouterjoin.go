package topology

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/samsa-streams/samsa/internal/engine"
	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
)

// LeftJoinStreams joins two streams on their keys within join windows as
// JoinStreams does, and also emits every record of l that never finds a
// partner in r, joined with r's zero value and found2 false: Kafka Streams'
// KStream.leftJoin(KStream, ValueJoiner, JoinWindows,
// StreamJoined.withStoreName(name)).
//
// A record of l without a partner yet is not emitted at once (a partner may
// still arrive): it waits in the key-value store
// <name>-left-shared-join-store (logged to its changelog, so that neither a
// restart nor an aborted transaction loses or repeats it) and is emitted
// only if no record of r joins it before its window closes, as Kafka
// Streams does since 3.1 (KIP-633). The rules, all Kafka Streams' (4.4):
//
//   - the join's stream time is the highest event time of the records of
//     either side that reached it (also those with a null key or value);
//   - a waiting record is emitted once the stream time is past its event
//     time + after + grace, looked for only when a record arrives that is
//     not behind the stream time; the records emitted at once are in the
//     order of event time, then (for equal times) r's before l's, then
//     serialized key, then arrival; each carries its own event time and
//     the headers of the record that closed its window;
//   - a join with a record of r removes the waiting records of its key and
//     event time;
//   - a record of l that arrives without a partner when its window is
//     already past (event time + after < stream time) is emitted at once:
//     a late record is not dropped, however late;
//   - a record does not join the other side's records at or behind that
//     side's newest time - (before + after + grace), which its window
//     store no longer shows (as Kafka Streams' window stores);
//   - a record of l with a null key (and a value) is emitted at once with a
//     null key, not joined; records with a null value, and those of r with
//     a null key, are dropped (counted).
//
// The windows are looked for closed records by a lower bound of the
// waiting records' times kept in memory, as Kafka Streams' shared time
// tracker: after some scans it is above the oldest waiting record, which
// then waits for a later scan. samsa keeps that, so as to emit the same
// records at the same points; it starts again after a restart (as Kafka
// Streams', a new task's stream time starts again and what waits is
// emitted by the first records after the restart that close it) and goes
// back with an aborted transaction to its value at the last commit.
// Unlike Kafka Streams, samsa looks for closed records at every record,
// not at most once per second of wall-clock time
// (__emit.interval.ms.kstreams.outer.join.spurious.results.fix__ 0).
//
// The window stores are <name>-this-join-store and
// <name>-outer-other-join-store, as Kafka Streams names them; the streams
// must be co-partitioned, and a re-keyed stream is repartitioned first, as
// in JoinStreams.
func LeftJoinStreams[K, V1, V2, VR any](l Stream[K, V1], r Stream[K, V2], name string, windows JoinWindows, joiner func(key K, v1 V1, v2 V2, found2 bool) VR, key serde.Serde[K], v1 serde.Serde[V1], v2 serde.Serde[V2]) Stream[K, VR] {
	l.t.nilFuncs("LeftJoinStreams "+strconv.Quote(name), "joiner", joiner)
	return streamOuterJoin(l, r, name, "LeftJoinStreams", windows, false,
		func(k K, a V1, _ bool, b V2, found2 bool) VR { return joiner(k, a, b, found2) }, key, v1, v2)
}

// OuterJoinStreams joins two streams on their keys within join windows as
// LeftJoinStreams does, and emits the records of either side that never
// find a partner: Kafka Streams' KStream.outerJoin(KStream, ValueJoiner,
// JoinWindows, StreamJoined.withStoreName(name)). joiner receives the
// values of both sides and whether each is there: found1 and found2 are
// both true for a joined pair; for a record of l without a partner found2
// is false and v2 is the zero V2, and for one of r found1 is false and v1
// the zero V1.
//
// The records of both sides wait in <name>-outer-shared-join-store and are
// emitted by the rules of LeftJoinStreams, which apply to r's records as to
// l's (a record of r with a null key and a value is emitted at once with
// found1 false). The window stores are <name>-outer-this-join-store and
// <name>-outer-other-join-store.
func OuterJoinStreams[K, V1, V2, VR any](l Stream[K, V1], r Stream[K, V2], name string, windows JoinWindows, joiner func(key K, v1 V1, v2 V2, found1, found2 bool) VR, key serde.Serde[K], v1 serde.Serde[V1], v2 serde.Serde[V2]) Stream[K, VR] {
	l.t.nilFuncs("OuterJoinStreams "+strconv.Quote(name), "joiner", joiner)
	return streamOuterJoin(l, r, name, "OuterJoinStreams", windows, true,
		func(k K, a V1, found1 bool, b V2, found2 bool) VR { return joiner(k, a, b, found1, found2) }, key, v1, v2)
}

// streamOuterJoin builds a left (rightOuter false) or outer stream-stream
// join, as Kafka Streams' KStreamImplJoin with the spurious-results fix.
func streamOuterJoin[K, V1, V2, VR any](l Stream[K, V1], r Stream[K, V2], name, op string, windows JoinWindows, rightOuter bool, join func(K, V1, bool, V2, bool) VR, key serde.Serde[K], v1 serde.Serde[V1], v2 serde.Serde[V2]) Stream[K, VR] {
	t := l.t
	if l.t != r.t {
		t.g.Errorf("topology: %s %q: the streams belong to different topologies", op, name)
		return Stream[K, VR]{t: t, node: name}
	}
	if err := windows.check(); err != nil {
		t.g.Errorf("topology: %s %q: %v", op, name, err)
		windows = JoinTimeDifference(0)
	}
	l = byKey(l, fmt.Sprintf("%s %q (left)", op, name), name+"-left", key, v1)
	r = byKey(r, fmt.Sprintf("%s %q (right)", op, name), name+"-right", key, v2)
	thisStore, otherStore, sharedStore := name+"-this-join-store", name+"-outer-other-join-store", name+"-left-shared-join-store"
	leftName, rightName := t.name("KSTREAM-JOINTHIS"), t.name("KSTREAM-OUTEROTHER")
	if rightOuter {
		thisStore, sharedStore = name+"-outer-this-join-store", name+"-outer-shared-join-store"
		leftName = t.name("KSTREAM-OUTERTHIS")
	}
	before, after := windows.before.Milliseconds(), windows.after.Milliseconds()
	core := &outerJoinCore[K, V1, V2, VR]{shared: sharedStore, key: key, v1: v1, v2: v2,
		before: before, after: after, grace: windows.grace.Milliseconds(), join: join,
		retention: max(before+after+windows.grace.Milliseconds(), 1)}
	AddProcessor(t, leftName, func() processor.Processor[K, V1, K, VR] {
		return &outerJoinSide[K, V1, V2, V1, V2, VR]{core: core, left: true, outer: true, own: thisStore, other: otherStore, from: before, to: after, value: v1,
			joined: func(k K, mine V1, theirs V2) VR { return join(k, mine, true, theirs, true) },
			alone:  func(k K, mine V1) VR { var none V2; return join(k, mine, true, none, false) }}
	}, l.node)
	AddProcessor(t, rightName, func() processor.Processor[K, V2, K, VR] {
		return &outerJoinSide[K, V2, V1, V1, V2, VR]{core: core, left: false, outer: rightOuter, own: otherStore, other: thisStore, from: after, to: before, value: v2,
			joined: func(k K, mine V2, theirs V1) VR { return join(k, theirs, true, mine, true) },
			alone:  func(k K, mine V2) VR { var none V1; return join(k, none, false, mine, true) }}
	}, r.node)
	retention := windows.before + windows.after + windows.grace
	if retention < time.Millisecond {
		retention = time.Millisecond
	}
	AddWindowStore(t, WindowStore[K, []V1]{Name: thisStore, Key: key, Value: listSerde[V1]{v1}, Retention: retention}, leftName, rightName)
	AddWindowStore(t, WindowStore[K, []V2]{Name: otherStore, Key: key, Value: listSerde[V2]{v2}, Retention: retention}, leftName, rightName)
	_, exists := t.g.Stores[sharedStore]
	AddKeyValueStore(t, KeyValueStore[[]byte, []byte]{Name: sharedStore, Key: serde.Bytes, Value: serde.Bytes}, leftName, rightName)
	if def, ok := t.g.Stores[sharedStore]; ok && !exists {
		def.Wrap = func(o engine.Opened) processor.StateStore { return newOuterJoinState(o.Raw) }
	}
	out := Stream[K, VR]{t: t, node: leftName, key: key}
	return out.Merge(Stream[K, VR]{t: t, node: rightName, key: key})
}

// The shared store of a left or outer stream-stream join holds the records
// waiting for a partner, as Kafka Streams' outer join store: the key is the
// record's event time (8 bytes, big-endian ms), its side (0 for the right
// stream, 1 for the left, as Kafka Streams' TimestampedKeyAndJoinSide) and
// its serialized key; the value is the waiting values of that key, side
// and time, in arrival order, each as a 4-byte big-endian length and its
// serialized value (listSerde's format).
const (
	sideRight byte = 0
	sideLeft  byte = 1
)

func sharedKey(ms int64, side byte, key []byte) []byte {
	b := make([]byte, 0, 9+len(key))
	b = binary.BigEndian.AppendUint64(b, uint64(ms))
	b = append(b, side)
	return append(b, key...)
}

// outerJoinState is the shared store of a left or outer stream-stream join
// with the join's time tracker (Kafka Streams' KStreamImplJoin.TimeTracker,
// shared by the two sides of one task): the stream time, and minTime, the
// bound below which no waiting record is thought to be, that saves
// scanning the store when nothing can have closed. Both go back to their
// values at the last commit when a transaction aborts, and start again
// when the store is restored (a new task).
type outerJoinState struct {
	raw                 processor.BytesKeyValueStore
	streamTime, minTime int64
	// observed is the newest time put into each side's window store
	// (indexed by sideRight, sideLeft), -1 before any: a join does not see
	// the records of the other side's store at or behind its observed
	// time - retention, as Kafka Streams' window stores hide them from a
	// fetch.
	observed  [2]int64
	committed struct {
		streamTime, minTime int64
		observed            [2]int64
	}
}

func newOuterJoinState(raw processor.BytesKeyValueStore) processor.StateStore {
	s := &outerJoinState{raw: raw}
	s.reset()
	if t, ok := raw.(engine.Transactional); ok {
		engine.OnStoreEvent(t, func(ev engine.StoreEvent) {
			switch ev {
			case engine.StoreCommitted:
				s.committed.streamTime, s.committed.minTime, s.committed.observed = s.streamTime, s.minTime, s.observed
			case engine.StoreAborted:
				s.streamTime, s.minTime, s.observed = s.committed.streamTime, s.committed.minTime, s.committed.observed
			case engine.StoreRestored:
				s.reset()
			}
		})
	}
	return s
}

func (s *outerJoinState) reset() {
	s.streamTime, s.minTime, s.observed = -1, math.MaxInt64, [2]int64{-1, -1}
	s.committed.streamTime, s.committed.minTime, s.committed.observed = -1, math.MaxInt64, [2]int64{-1, -1}
}

// Name implements processor.StateStore.
func (s *outerJoinState) Name() string { return s.raw.Name() }

// outerJoinCore is what the two sides of a left or outer join share: the
// windows, the serdes that read the waiting records of both sides, and the
// joiner, which receives the values of both sides and whether each is
// there.
type outerJoinCore[K, V1, V2, VR any] struct {
	shared               string
	key                  serde.Serde[K]
	v1                   serde.Serde[V1]
	v2                   serde.Serde[V2]
	before, after, grace int64
	retention            int64 // of the window stores, ms
	join                 func(K, V1, bool, V2, bool) VR
}

// outerJoinSide is one side of a left or outer stream-stream join, as Kafka
// Streams' KStreamKStreamJoinLeftSide and -RightSide with an outer join
// store. V is its values' type, VO the other side's; V1 and V2 are the
// left and right types.
type outerJoinSide[K, V, VO, V1, V2, VR any] struct {
	core *outerJoinCore[K, V1, V2, VR]
	// left: this is the left stream; outer: its records without a partner
	// are emitted.
	left, outer bool
	own, other  string
	from, to    int64
	value       serde.Serde[V]
	joined      func(K, V, VO) VR
	alone       func(K, V) VR
	ctx         processor.Context[K, VR]
	mine        processor.WindowStore[K, []V]
	theirs      processor.WindowStore[K, []VO]
	st          *outerJoinState
}

func (j *outerJoinSide[K, V, VO, V1, V2, VR]) Init(ctx processor.Context[K, VR]) error {
	var err error
	if j.mine, err = processor.GetWindowStore[K, []V](ctx, j.own); err != nil {
		return err
	}
	if j.theirs, err = processor.GetWindowStore[K, []VO](ctx, j.other); err != nil {
		return err
	}
	s, err := ctx.StateStore(j.core.shared)
	if err != nil {
		return err
	}
	var ok bool
	if j.st, ok = s.(*outerJoinState); !ok {
		return fmt.Errorf("topology: store %q is a %T, not a stream-stream join's shared store", j.core.shared, s)
	}
	j.ctx = ctx
	return nil
}

func (j *outerJoinSide[K, V, VO, V1, V2, VR]) Process(r processor.Record[K, V]) error {
	ts := r.Timestamp.UnixMilli()
	j.st.streamTime = max(j.st.streamTime, ts)
	if j.outer && r.KeyIsNull() && !r.IsTombstone() {
		j.ctx.Forward(processor.WithValue(r, j.alone(r.Key, r.Value))) // KIP-962
		return nil
	}
	if r.KeyIsNull() || r.IsTombstone() {
		dropped(j.ctx, "null key or value in a stream-stream join")
		return nil
	}
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
	mySide, otherSide := sideRight, sideLeft
	if j.left {
		mySide, otherSide = sideLeft, sideRight
	}
	j.st.observed[mySide] = max(j.st.observed[mySide], ts)
	if ts == j.st.streamTime {
		if err := j.emitClosed(r); err != nil {
			return err
		}
	}
	kb, err := j.core.key.Serialize(j.core.shared, r.Key)
	if err != nil {
		return fmt.Errorf("store %q: serialize key: %w", j.core.shared, err)
	}
	to := max(0, ts+j.to)
	visible := j.st.observed[otherSide] - j.core.retention
	matched := false
	for w, err := range j.theirs.Fetch(r.Key, time.UnixMilli(max(0, ts-j.from)), time.UnixMilli(to)) {
		if err != nil {
			return err
		}
		if w.Start.UnixMilli() <= visible {
			continue // expired, though its segment is still there
		}
		matched = true
		// The other side's records of this key and time have a partner.
		if err := j.st.raw.Delete(sharedKey(w.Start.UnixMilli(), otherSide, kb)); err != nil {
			return fmt.Errorf("store %q: %w", j.core.shared, err)
		}
		for _, v := range w.Value {
			out := processor.WithValue(r, j.joined(r.Key, r.Value, v))
			if w.Start.After(r.Timestamp) {
				out.Timestamp = w.Start
			}
			j.ctx.Forward(out)
		}
	}
	if !j.outer || matched {
		return nil
	}
	if to < j.st.streamTime {
		// Its window is past already: no partner can come.
		j.ctx.Forward(processor.WithValue(r, j.alone(r.Key, r.Value)))
		return nil
	}
	j.st.minTime = min(j.st.minTime, ts)
	return j.wait(ts, kb, r.Value)
}

// wait appends v to the waiting records of its key, side and time.
func (j *outerJoinSide[K, V, VO, V1, V2, VR]) wait(ts int64, kb []byte, v V) error {
	side := sideRight
	if j.left {
		side = sideLeft
	}
	k := sharedKey(ts, side, kb)
	old, _, err := j.st.raw.Get(k)
	if err != nil {
		return fmt.Errorf("store %q: %w", j.core.shared, err)
	}
	vb, err := j.value.Serialize(j.core.shared, v)
	if err != nil {
		return fmt.Errorf("store %q: serialize value: %w", j.core.shared, err)
	}
	b := make([]byte, 0, len(old)+4+len(vb))
	b = append(b, old...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(vb)))
	b = append(b, vb...)
	if err := j.st.raw.Put(k, b); err != nil {
		return fmt.Errorf("store %q: %w", j.core.shared, err)
	}
	return nil
}

// emitClosed emits the waiting records whose windows have closed, as Kafka
// Streams' emitNonJoinedOuterRecords: in the store's order (time, side,
// key), each with its own time and r's headers, and deletes them.
func (j *outerJoinSide[K, V, VO, V1, V2, VR]) emitClosed(r processor.Record[K, V]) error {
	c, st := j.core, j.st
	// Nothing can have closed (the sum wraps around as in Java when
	// minTime is unset, which makes it scan).
	if st.minTime+j.to+c.grace >= st.streamTime {
		return nil
	}
	st.minTime = math.MaxInt64
	type closed struct {
		key    []byte
		values []byte
	}
	var due []closed
	leftOpen, rightOpen := false, false
scan:
	for kv, err := range st.raw.Range(nil, nil) {
		if err != nil {
			return fmt.Errorf("store %q: %w", c.shared, err)
		}
		if len(kv.Key) < 9 {
			return fmt.Errorf("store %q: malformed key %x", c.shared, kv.Key)
		}
		ms, side := int64(binary.BigEndian.Uint64(kv.Key)), kv.Key[8]
		// As Kafka Streams, once per waiting value.
		n, err := countValues(kv.Value)
		if err != nil {
			return fmt.Errorf("store %q: %w", c.shared, err)
		}
		lookBack := c.before
		if side == sideLeft {
			lookBack = c.after
		}
		open := ms+lookBack+c.grace >= st.streamTime
		for range n {
			st.minTime = ms
			if leftOpen && rightOpen {
				break scan
			}
			if open {
				if side == sideLeft {
					leftOpen = true
				} else {
					rightOpen = true
				}
			}
		}
		if !open && n > 0 {
			due = append(due, closed{key: bytes.Clone(kv.Key), values: bytes.Clone(kv.Value)})
		}
	}
	for _, d := range due {
		if err := j.emitWaiting(r, d.key, d.values); err != nil {
			return err
		}
		if err := st.raw.Delete(d.key); err != nil {
			return fmt.Errorf("store %q: %w", c.shared, err)
		}
	}
	return nil
}

// emitWaiting forwards the waiting records of one key, side and time,
// joined with the other side missing.
func (j *outerJoinSide[K, V, VO, V1, V2, VR]) emitWaiting(r processor.Record[K, V], key, values []byte) error {
	c := j.core
	ms, side := int64(binary.BigEndian.Uint64(key)), key[8]
	k, err := c.key.Deserialize(c.shared, key[9:len(key):len(key)])
	if err != nil {
		return fmt.Errorf("store %q: deserialize key: %w", c.shared, err)
	}
	var outs []VR
	if side == sideLeft {
		vs, err := listSerde[V1]{c.v1}.Deserialize(c.shared, values)
		if err != nil {
			return err
		}
		var none V2
		for _, v := range vs {
			outs = append(outs, c.join(k, v, true, none, false))
		}
	} else {
		vs, err := listSerde[V2]{c.v2}.Deserialize(c.shared, values)
		if err != nil {
			return err
		}
		var none V1
		for _, v := range vs {
			outs = append(outs, c.join(k, none, false, v, true))
		}
	}
	for _, v := range outs {
		out := processor.WithKeyValue(r, k, v)
		out.Timestamp = time.UnixMilli(ms)
		j.ctx.Forward(out)
	}
	return nil
}

// countValues returns how many values a waiting list holds.
func countValues(data []byte) (int, error) {
	n := 0
	for len(data) > 0 {
		if len(data) < 4 {
			return 0, fmt.Errorf("%w: waiting list: truncated length", serde.ErrDeserialize)
		}
		l := int(binary.BigEndian.Uint32(data))
		if 4+l > len(data) {
			return 0, fmt.Errorf("%w: waiting list: %d bytes announced, %d left", serde.ErrDeserialize, l, len(data)-4)
		}
		data = data[4+l:]
		n++
	}
	return n, nil
}

func (j *outerJoinSide[K, V, VO, V1, V2, VR]) Close() error { return nil }
