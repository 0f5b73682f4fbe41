package topology

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/samsa-streams/samsa/internal/engine"
	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
)

// Final results of windowed aggregations (Windows.EmitFinal).
//
// Next to the window store <store>, a windowed aggregation with EmitFinal
// keeps the key-value store <store>-emitted, logged like every store (so
// that it rolls back with an aborted transaction and is restored after a
// crash), which holds:
//
//	[0x00]                      -> the close time (ms, 8 bytes big-endian) up
//	                               to which windows were emitted: every
//	                               window with end <= it is closed
//	[0x01][8 start][key bytes]  -> empty: a window not emitted yet
//
// The second kind is an index of the open windows by start, then key: what
// Kafka Streams' time-ordered window store gives emitStrategy(onWindowClose)
// and what suppress(untilWindowCloses) orders its buffer by. It lets the
// windows that close be found with one range scan of those windows only,
// however many open windows there are, and is written once per window (at
// its first aggregate) and deleted when the window is emitted.

// emittedSuffix names the store of final results next to a window store.
const emittedSuffix = "-emitted"

const (
	emittedMark  byte = 0x00
	emittedIndex byte = 0x01
)

// addEmittedStore adds the store that makes the final results of the
// windowed aggregation processor over window store store exactly once.
func addEmittedStore(t *Topology, store, processor string) {
	name := store + emittedSuffix
	_, exists := t.g.Stores[name]
	AddKeyValueStore(t, KeyValueStore[[]byte, []byte]{Name: name, Key: serde.Bytes, Value: serde.Bytes}, processor)
	if def, ok := t.g.Stores[name]; ok && !exists {
		def.Wrap = openEmitState
	}
}

// emitState is the store <store>-emitted of a windowed aggregation with
// EmitFinal, with the aggregation's stream time and the emitted close time
// kept in memory in step with the store's transactions: after an abort both
// go back to what they were at the last commit, so that the records
// processed again see the stream time they saw the first time; after a
// restore (a new task) the stream time starts again, and the close time is
// read from the store.
type emitState struct {
	raw processor.BytesKeyValueStore
	// loaded: emitted has been read from the store.
	loaded bool
	// observed is the aggregation's stream time (ms), -1 before any record.
	observed int64
	// emitted is the close time up to which windows were emitted, -1 if
	// none was.
	emitted int64
	// at the last commit
	committed struct {
		loaded            bool
		observed, emitted int64
	}
}

// openEmitState makes the emitted store of an opened store.
func openEmitState(o engine.Opened) processor.StateStore { return newEmitState(o.Raw) }

func newEmitState(raw processor.BytesKeyValueStore) processor.StateStore {
	s := &emitState{raw: raw, observed: -1, emitted: -1}
	s.committed.observed, s.committed.emitted = -1, -1
	if t, ok := raw.(engine.Transactional); ok {
		engine.OnStoreEvent(t, s.storeEvent)
	}
	return s
}

func (s *emitState) storeEvent(ev engine.StoreEvent) {
	switch ev {
	case engine.StoreCommitted:
		s.committed.loaded, s.committed.observed, s.committed.emitted = s.loaded, s.observed, s.emitted
	case engine.StoreAborted:
		s.loaded, s.observed, s.emitted = s.committed.loaded, s.committed.observed, s.committed.emitted
	case engine.StoreRestored:
		s.loaded, s.committed.loaded = false, false
		s.observed, s.committed.observed = -1, -1
	}
}

// Name implements processor.StateStore.
func (s *emitState) Name() string { return s.raw.Name() }

// load reads the emitted close time from the store, once.
func (s *emitState) load() error {
	if s.loaded {
		return nil
	}
	v, ok, err := s.raw.Get([]byte{emittedMark})
	if err != nil {
		return fmt.Errorf("store %q: %w", s.raw.Name(), err)
	}
	s.emitted = -1
	if ok {
		if len(v) != 8 {
			return fmt.Errorf("store %q: emitted close time has %d bytes, want 8", s.raw.Name(), len(v))
		}
		s.emitted = int64(binary.BigEndian.Uint64(v))
	}
	s.loaded = true
	return nil
}

// setEmitted records that every window with end <= closeTime was emitted.
func (s *emitState) setEmitted(closeTime int64) error {
	if err := s.raw.Put([]byte{emittedMark}, binary.BigEndian.AppendUint64(nil, uint64(closeTime))); err != nil {
		return fmt.Errorf("store %q: %w", s.raw.Name(), err)
	}
	s.emitted = closeTime
	return nil
}

func indexKey(start int64, key []byte) []byte {
	b := make([]byte, 0, 9+len(key))
	b = append(b, emittedIndex)
	b = binary.BigEndian.AppendUint64(b, uint64(start))
	return append(b, key...)
}

// track records a window that has an aggregate and is not emitted yet.
func (s *emitState) track(start int64, key []byte) error {
	if err := s.raw.Put(indexKey(start, key), []byte{}); err != nil {
		return fmt.Errorf("store %q: %w", s.raw.Name(), err)
	}
	return nil
}

// dueWindow is a window not emitted yet: its start (ms) and serialized key.
type dueWindow struct {
	start int64
	key   []byte
}

// due returns the windows not emitted yet that start at or before maxStart,
// by start, then serialized key.
func (s *emitState) due(maxStart int64) ([]dueWindow, error) {
	var out []dueWindow
	for kv, err := range s.raw.Range([]byte{emittedIndex}, nil) {
		if err != nil {
			return nil, fmt.Errorf("store %q: %w", s.raw.Name(), err)
		}
		if len(kv.Key) < 9 || kv.Key[0] != emittedIndex {
			return nil, fmt.Errorf("store %q: malformed window index key %x", s.raw.Name(), kv.Key)
		}
		start := int64(binary.BigEndian.Uint64(kv.Key[1:9]))
		if start > maxStart {
			break
		}
		out = append(out, dueWindow{start: start, key: bytes.Clone(kv.Key[9:])})
	}
	return out, nil
}

// untrack forgets an emitted window.
func (s *emitState) untrack(w dueWindow) error {
	if err := s.raw.Delete(indexKey(w.start, w.key)); err != nil {
		return fmt.Errorf("store %q: %w", s.raw.Name(), err)
	}
	return nil
}

// emitDue hands every window not emitted yet that is indexed at or before
// maxStart to emit, by index time then serialized key, and forgets each
// once emitted.
func (s *emitState) emitDue(maxStart int64, emit func(dueWindow) error) error {
	due, err := s.due(maxStart)
	if err != nil {
		return err
	}
	for _, w := range due {
		if err := emit(w); err != nil {
			return err
		}
		if err := s.untrack(w); err != nil {
			return err
		}
	}
	return nil
}

// advanceClock moves an aggregation's stream time to ts if it is later (the
// stream time of fin with final results, else clock's) and returns the
// close time, the stream time less lag: what ends at or before it (by the
// aggregation's measure) can no longer change. With final results the
// close time is never before the one emitted up to: after a restart the
// stream time starts again, but what was emitted stays closed.
func advanceClock(clock *streamClock, fin *emitState, ts, lag int64) (int64, error) {
	observed := &clock.now
	if fin != nil {
		if err := fin.load(); err != nil {
			return 0, err
		}
		observed = &fin.observed
	}
	*observed = max(*observed, ts)
	closeTime := *observed - lag
	if fin != nil {
		closeTime = max(closeTime, fin.emitted)
	}
	return closeTime, nil
}

// emitClosed forwards the result of every window that closed since the last
// call, those with end <= closeTime, once each, by start then serialized
// key, each with the time of its aggregate (the highest event time of its
// records) and r's headers; a window whose aggregate was deleted (a null
// result) emits nothing. It then records closeTime as emitted.
func (a *windowAggregator[K, A]) emitClosed(r processor.Record[K, fold[A]], closeTime int64) error {
	f := a.fin
	if closeTime <= f.emitted {
		return nil
	}
	size := a.windows.size.Milliseconds()
	if err := f.emitDue(closeTime-size, func(w dueWindow) error { return a.emitFinal(r, w, size) }); err != nil {
		return err
	}
	return f.setEmitted(closeTime)
}

// emitFinal forwards the final result of one window, if it has one.
func (a *windowAggregator[K, A]) emitFinal(r processor.Record[K, fold[A]], w dueWindow, size int64) error {
	k, v, ok, err := a.st.finalResult(w)
	if !ok || err != nil {
		return err
	}
	out := processor.WithKeyValue(r, Windowed[K]{Key: k, Start: time.UnixMilli(w.start), End: time.UnixMilli(w.start + size)}, v.agg)
	out.Timestamp = time.UnixMilli(v.ms)
	a.ctx.Forward(out)
	return nil
}

// finalResult reads the aggregate of a window due for its final result:
// its key and timestamped aggregate, and false when it has none (deleted
// by a null aggregate: no result, as Kafka Streams).
func (s *timestampedWindowStore[K, A]) finalResult(w dueWindow) (K, timestamped[A], bool, error) {
	var k K
	name := s.raw.Name()
	t := time.UnixMilli(w.start)
	for win, err := range s.raw.Fetch(w.key, t, t) {
		if err != nil {
			return k, timestamped[A]{}, false, err
		}
		if k, err = s.key.Deserialize(name, w.key); err != nil {
			return k, timestamped[A]{}, false, fmt.Errorf("window store %q: deserialize key: %w", name, err)
		}
		v, err := s.value.Deserialize(name, win.Value)
		if err != nil {
			return k, timestamped[A]{}, false, fmt.Errorf("window store %q: deserialize value: %w", name, err)
		}
		return k, v, true, nil
	}
	return k, timestamped[A]{}, false, nil
}

// emitStateOf returns the <store>-emitted state of a final-results
// aggregation; what names the aggregation for the error.
func emitStateOf(ctx processor.TaskContext, store, what string) (*emitState, error) {
	name := store + emittedSuffix
	s, err := ctx.StateStore(name)
	if err != nil {
		return nil, err
	}
	fin, ok := s.(*emitState)
	if !ok {
		return nil, fmt.Errorf("topology: store %q is a %T, not a %s's emitted store", name, s, what)
	}
	return fin, nil
}
