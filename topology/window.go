package topology

import (
	"encoding/binary"
	"fmt"
	"iter"
	"math"
	"strconv"
	"time"

	"github.com/samsa-streams/samsa/internal/engine"
	"github.com/samsa-streams/samsa/internal/stores"
	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
)

// Windows defines the time windows of a windowed aggregation, as Kafka
// Streams' TimeWindows: windows of a fixed size that start every advance
// (tumbling windows when the advance is the size, hopping windows when it is
// less), aligned to the Unix epoch, each [start, start+size). A record
// belongs to every window whose range holds its event time.
//
// Grace (Kafka Streams' grace period, also called allowed lateness) is how
// long after its end a window still accepts out-of-order records: a window
// is closed once end + grace <= stream time, and a record that arrives for a
// closed window is late. The default is no grace, as Kafka Streams'
// TimeWindows.ofSizeWithNoGrace; WithGrace sets one, as ofSizeAndGrace.
//
// By default a windowed aggregation emits every update of a window; with
// EmitFinal it emits each window's result once, when the window closes.
// WithMaxOutOfOrder delays the watermark behind the stream time;
// LateRecordsTo sends late records to a topic; ProcessingTime makes the
// windows follow the wall clock.
//
// Times are whole milliseconds, as Kafka's timestamps: durations with a
// fraction of a millisecond are an error, reported when the topology is
// validated.
type Windows struct {
	size, advance, grace time.Duration
	final                bool // EmitFinal
	lateness
	processingTime bool // ProcessingTime
}

// lateness is what time and sliding windows share about late records: the
// watermark delay (WithMaxOutOfOrder) and the late-records topic
// (LateRecordsTo).
type lateness struct {
	maxOutOfOrder time.Duration
	lateTopic     string
}

// check reports what is wrong with the watermark delay.
func (l lateness) check() error {
	switch {
	case l.maxOutOfOrder < 0:
		return fmt.Errorf("window max out-of-order %v is negative", l.maxOutOfOrder)
	case l.maxOutOfOrder%time.Millisecond != 0:
		return fmt.Errorf("window max out-of-order %v must be whole milliseconds", l.maxOutOfOrder)
	}
	return nil
}

// divert writes the record being processed to the late-records topic, if
// there is one, naming its window [start, end] and the watermark (ms).
func (l lateness) divert(ctx processor.TaskContext, start, end, watermark int64) {
	if l.lateTopic != "" {
		divertLate(ctx, l.lateTopic, "window closed", start, end, watermark)
	}
}

// TumblingWindows returns windows of the given size that do not overlap:
// [0, size), [size, 2·size), … Every record belongs to exactly one.
func TumblingWindows(size time.Duration) Windows {
	return Windows{size: size, advance: size}
}

// HoppingWindows returns windows of the given size starting every advance
// (0 < advance <= size): [0, size), [advance, advance+size), … A record
// belongs to up to size/advance windows. HoppingWindows(size, size) is
// TumblingWindows(size).
func HoppingWindows(size, advance time.Duration) Windows {
	return Windows{size: size, advance: advance}
}

// WithGrace returns w with the given grace period (allowed lateness): a
// window accepts records until its end + grace <= watermark, the watermark
// being the stream time (less MaxOutOfOrder, when set).
func (w Windows) WithGrace(grace time.Duration) Windows {
	w.grace = grace
	return w
}

// EmitFinal returns w with final results only: a windowed aggregation over
// w forwards nothing when a window is updated, and forwards each window's
// result exactly once, when the window closes (end + grace <= stream
// time), as Kafka Streams' suppress(Suppressed.untilWindowCloses(...)) or
// emitStrategy(EmitStrategy.onWindowClose()). See WindowedAggregate for
// the order and times of the results and how they stay exactly once
// across restarts.
func (w Windows) EmitFinal() Windows {
	w.final = true
	return w
}

// WithMaxOutOfOrder returns w with a watermark delay: the aggregation's
// watermark trails its stream time (the highest event time it has seen)
// by d, and a window closes once end + grace <= watermark. The two knobs
// say different things: MaxOutOfOrder is how far behind the newest record
// a record may be and still be on time; grace (the allowed lateness) is
// how long after the watermark passes its end a window still accepts a
// late record, which updates it and (unless EmitFinal) emits a corrected
// result. A record for a closed window is not applied: it is counted as
// dropped and, with LateRecordsTo, written to the late-records topic.
// With EmitFinal, a window's one result is emitted when it closes. The
// default is 0, Kafka Streams' model, where the watermark is the stream
// time and grace is the only knob.
func (w Windows) WithMaxOutOfOrder(d time.Duration) Windows {
	w.maxOutOfOrder = d
	return w
}

// MaxOutOfOrder returns the watermark delay (WithMaxOutOfOrder).
func (w Windows) MaxOutOfOrder() time.Duration { return w.maxOutOfOrder }

// LateRecordsTo returns w with a late-records topic: a record that a
// windowed aggregation over w does not apply because every window it
// belongs to has closed is written to topic as it was read by the
// aggregation's sub-topology (key, value, timestamp and headers), with
// these headers added: samsa.late.reason, samsa.late.window.start and
// samsa.late.window.end (the most recent of its closed windows, Unix
// milliseconds), samsa.late.watermark (the aggregation's watermark when
// the record arrived), then the source headers of a dead letter
// (samsa.source.topic, .partition, .offset, samsa.application.id,
// samsa.task). The topic must exist when the App starts, as a sink
// topic. Late records are counted as dropped with or without it.
func (w Windows) LateRecordsTo(topic string) Windows {
	w.lateTopic = topic
	return w
}

// LateTopic returns the late-records topic (LateRecordsTo), or "".
func (w Windows) LateTopic() string { return w.lateTopic }

// ProcessingTime returns w as processing-time windows, for dashboards: a
// record's time is the wall clock when the aggregation processes it
// (processor.TaskContext.WallClock; the output carries it), not its event
// time, and, with EmitFinal, windows are closed by a wall-clock punctuator
// (every min(advance, 1s)) even when no record arrives, so that each
// window's result is emitted within about a second of end + grace on the
// wall clock. Processing-time results depend on when records are
// processed: a restart or a rebalance moves records between windows.
func (w Windows) ProcessingTime() Windows {
	w.processingTime = true
	return w
}

// IsProcessingTime reports whether w are processing-time windows.
func (w Windows) IsProcessingTime() bool { return w.processingTime }

// Final reports whether w emits final results only (EmitFinal).
func (w Windows) Final() bool { return w.final }

// Size returns the length of a window.
func (w Windows) Size() time.Duration { return w.size }

// Advance returns the distance between the starts of two consecutive
// windows: the size for tumbling windows.
func (w Windows) Advance() time.Duration { return w.advance }

// Grace returns how long after its end a window accepts out-of-order
// records.
func (w Windows) Grace() time.Duration { return w.grace }

// Retention returns how long a windowed aggregation keeps a window in its
// store: size + grace (+ MaxOutOfOrder), as Kafka Streams' default; older
// windows are closed and no record can change them.
func (w Windows) Retention() time.Duration { return w.size + w.grace + w.maxOutOfOrder }

// check reports what is wrong with w.
func (w Windows) check() error {
	whole := func(d time.Duration) bool { return d%time.Millisecond == 0 }
	switch {
	case w.size <= 0:
		return fmt.Errorf("window size %v is not positive", w.size)
	case w.advance <= 0 || w.advance > w.size:
		return fmt.Errorf("window advance %v is not in (0, size %v]", w.advance, w.size)
	case w.grace < 0:
		return fmt.Errorf("window grace %v is negative", w.grace)
	case !whole(w.size) || !whole(w.advance) || !whole(w.grace):
		return fmt.Errorf("window size %v, advance %v and grace %v must be whole milliseconds", w.size, w.advance, w.grace)
	}
	return w.lateness.check()
}

// startsFor returns the starts (ms) of the windows holding event time ms, in
// increasing order, as Kafka Streams' TimeWindows.windowsFor.
func (w Windows) startsFor(ms int64) []int64 {
	size, adv := w.size.Milliseconds(), w.advance.Milliseconds()
	first := max(0, ms-size+adv) / adv * adv
	starts := make([]int64, 0, (ms-first)/adv+1)
	for s := first; s <= ms; s += adv {
		starts = append(starts, s)
	}
	return starts
}

// Windowed is the key of a windowed aggregation's result: the record key and
// the window, [Start, End), as Kafka Streams' Windowed<K>. Start and End are
// whole milliseconds. A sliding window (SlidingAggregate) includes its End:
// [Start, End].
type Windowed[K any] struct {
	Key        K
	Start, End time.Time
}

// String formats the key and window as key@[start,end) in milliseconds.
func (w Windowed[K]) String() string {
	return fmt.Sprintf("%v@[%d,%d)", w.Key, w.Start.UnixMilli(), w.End.UnixMilli())
}

// TimeWindowedSerde returns a serde of windowed keys in Kafka Streams'
// time-windowed key format (WindowedSerdes.timeWindowedSerdeFrom): the
// key's bytes, then the window start as 8 bytes of big-endian
// milliseconds. The end is not written; Deserialize sets it to start + size,
// so size must be the size of the windows written.
func TimeWindowedSerde[K any](key serde.Serde[K], size time.Duration) serde.Serde[Windowed[K]] {
	return timeWindowedSerde[K]{key: key, size: size.Milliseconds()}
}

type timeWindowedSerde[K any] struct {
	key  serde.Serde[K]
	size int64
}

func (s timeWindowedSerde[K]) Serialize(topic string, w Windowed[K]) ([]byte, error) {
	kb, err := s.key.Serialize(topic, w.Key)
	if err != nil {
		return nil, fmt.Errorf("windowed key: %w", err)
	}
	return binary.BigEndian.AppendUint64(kb, uint64(w.Start.UnixMilli())), nil
}

func (s timeWindowedSerde[K]) Deserialize(topic string, data []byte) (Windowed[K], error) {
	if data == nil {
		return Windowed[K]{}, nil
	}
	if len(data) < 8 {
		return Windowed[K]{}, fmt.Errorf("%w: time-windowed key in %q needs at least 8 bytes, got %d", serde.ErrDeserialize, topic, len(data))
	}
	n := len(data) - 8
	k, err := s.key.Deserialize(topic, data[:n:n])
	if err != nil {
		return Windowed[K]{}, fmt.Errorf("windowed key: %w", err)
	}
	start := int64(binary.BigEndian.Uint64(data[n:]))
	end := start + s.size
	if start > 0 && end < start {
		end = math.MaxInt64 // as Kafka Streams, on overflow
	}
	return Windowed[K]{Key: k, Start: time.UnixMilli(start), End: time.UnixMilli(end)}, nil
}

// WindowedAggregate folds the records of each key and window into an
// aggregate kept in the window store named store (logged to <application
// id>-<store>-changelog, retention windows.Retention()) and emits the
// updated windows' aggregates, keyed by key and window: Kafka Streams'
// groupByKey().windowedBy(windows).aggregate(...).toStream(). The store's
// record cache (samsa.Config.CacheMaxBytes, on by default) collapses the
// updates of a key and window between two commits into one, written and
// emitted at the commit with the latest aggregate and time, as Kafka
// Streams' caching window store; Topology.WithoutCache emits every update.
// Late records and the window store's retention are the same with the
// cache and without. After a key change the records are first
// repartitioned by key, as in Aggregate.
//
// As in Kafka Streams:
//   - the aggregation's stream time is the highest event time of the
//     records it has seen (records dropped before it, by a Filter or for a
//     null key, do not advance it; it starts again after a restart);
//   - a record is added to each of its windows that is still open; a window
//     is closed once its end + grace <= stream time, and a record for a
//     closed window is late: not added, counted by the task as dropped
//     (once per closed window) and logged at debug level;
//   - an update carries the highest event time of the records in the
//     window, so a late-arriving record never moves a window back in time;
//   - a record with a null key is dropped (counted and logged) and does not
//     advance the stream time;
//   - a tombstone (null value) is aggregated: add receives the zero value,
//     where Kafka Streams' aggregator receives null;
//   - an aggregate that agg writes as null (a nil pointer with serde.JSON)
//     deletes the window, and the next record starts it again from initial.
//
// The store keeps each aggregate with its time as Kafka Streams' timestamped
// window stores do (8 bytes of big-endian milliseconds, then the
// aggregate's bytes); looked up with processor.GetWindowStore[K, A] it shows
// the aggregates only, by window start.
//
// With windows.EmitFinal(), nothing is emitted when a window is updated:
// each window's result is emitted once, when the window closes, by the
// record that moves the stream time to its end + grace or past it, as
// Kafka Streams' suppress(Suppressed.untilWindowCloses(unbounded())), with
// no record cache (every update is written to the store; nothing is
// forwarded per update to collapse):
//   - the windows that close at once (of any keys and starts) are emitted
//     by start, then serialized key, before the record's own windows are
//     updated;
//   - a result carries the time of its aggregate (the highest event time
//     of the window's records) and the headers of the record that closed
//     the window;
//   - a window whose aggregate is null (a tombstone as a reduction's only
//     record, an aggregate written as null) emits nothing.
//
// Final results are exactly once: the windows not emitted yet and the
// close time up to which windows were emitted are kept in a second store,
// the key-value store <store>-emitted (logged to <application
// id>-<store>-emitted-changelog, like every store), which rolls back with
// an aborted transaction and is restored after a crash; after an abort the
// aggregation's stream time goes back to the last commit with it, so that
// the records processed again are on time or late as the first time. After
// a restart a window emitted before stays closed (a record for it is late)
// even though the stream time starts again, and a window not emitted yet
// is emitted when it closes. Kafka Streams' emitStrategy(onWindowClose()) gives the
// same results, except that it loses the windows that its window store
// expires before they are emitted when the stream time jumps (see
// conformance/README.md); samsa emits those too.
func WindowedAggregate[K, V, A any](s Stream[K, V], windows Windows, store string, initial func() A, add func(key K, value V, agg A) A, key serde.Serde[K], agg serde.Serde[A]) Stream[Windowed[K], A] {
	s.t.nilFuncs("WindowedAggregate "+strconv.Quote(store), "add", add)
	return WindowedAggregateErr(s, windows, store, initial, func(k K, v V, a A) (A, error) { return add(k, v, a), nil }, key, agg)
}

// WindowedAggregateErr is WindowedAggregate with an adder that can fail: an
// error skips the record (none of its windows changes, none is emitted) and
// goes to the processing-error policy (samsa.Config.Errors.Processing),
// which fails the app, skips the record or dead-letters it.
func WindowedAggregateErr[K, V, A any](s Stream[K, V], windows Windows, store string, initial func() A, add func(key K, value V, agg A) (A, error), key serde.Serde[K], agg serde.Serde[A]) Stream[Windowed[K], A] {
	s.t.nilFuncs("WindowedAggregateErr "+strconv.Quote(store), "initial", initial, "add", add)
	first := func(k K, v V, _ bool) (A, bool, error) {
		a, err := add(k, v, initial())
		return a, false, err
	}
	s = byKey(s, fmt.Sprintf("WindowedAggregate %q", store), store, key, nil)
	return windowedAggregate(s, windows, "KSTREAM-AGGREGATE", store, first, add, key, agg)
}

// WindowedCount counts the records of each key and window in the window
// store named store and emits the updated counts (one per key, window and
// commit with the record cache, as in WindowedAggregate), as Kafka Streams'
// groupByKey().windowedBy(windows).count().toStream(). It is
// WindowedAggregate with a counter: late records and null keys are dropped,
// a tombstone counts as a record (as in Kafka Streams), and a count carries
// the highest event time of the records counted in its window.
func WindowedCount[K, V any](s Stream[K, V], windows Windows, store string, key serde.Serde[K]) Stream[Windowed[K], int64] {
	s = byKey(s, fmt.Sprintf("WindowedCount %q", store), store, key, serde.Serde[V](ignoredValue[V]{}))
	return windowedAggregate(s, windows, "KSTREAM-AGGREGATE", store,
		func(K, V, bool) (int64, bool, error) { return 1, false, nil },
		func(_ K, _ V, n int64) (int64, error) { return n + 1, nil },
		key, serde.Int64)
}

// WindowedReduce combines the records of each key and window with reducer,
// kept in the window store named store, and emits the updated results (one
// per key, window and commit with the record cache, as in
// WindowedAggregate), as Kafka Streams'
// groupByKey().windowedBy(windows).reduce(reducer).toStream():
// a window's first value is its result as it is, each later one is
// reducer(result, value). Late records and null keys are dropped, and a
// result carries the highest event time of the records in its window, as in
// WindowedAggregate.
//
// Tombstones follow Kafka Streams: a tombstone as a window's first record
// leaves the window empty and emits a tombstone for it (Kafka Streams' null
// result), and a tombstone after a value is reduced with the zero value in
// its place (where Kafka Streams' reducer receives null).
func WindowedReduce[K, V any](s Stream[K, V], windows Windows, store string, reducer func(agg, value V) V, key serde.Serde[K], value serde.Serde[V]) Stream[Windowed[K], V] {
	s.t.nilFuncs("WindowedReduce "+strconv.Quote(store), "reducer", reducer)
	s = byKey(s, fmt.Sprintf("WindowedReduce %q", store), store, key, value)
	return windowedAggregate(s, windows, "KSTREAM-REDUCE", store,
		func(_ K, v V, tombstone bool) (V, bool, error) { return v, tombstone, nil },
		func(_ K, v V, agg V) (V, error) { return reducer(agg, v), nil },
		key, value)
}

// fold is a record's value as the processors of the windowed, sliding and
// session aggregations see it: its stream's adder and first aggregate as closures
// over the record, so that one processor serves streams of any value type
// (the streams of a cogrouped aggregation).
type fold[A any] struct {
	// first makes the aggregate of a window's first record, and says
	// whether it is null (nothing stored, a tombstone emitted).
	first func() (A, bool, error)
	// add folds the record into a window's aggregate.
	add func(A) (A, error)
	// tombstone: the record's value is null.
	tombstone bool
}

// folded returns r with its value as a fold, with first and add.
func folded[K, V, A any](r processor.Record[K, V], first func(K, V, bool) (A, bool, error), add func(K, V, A) (A, error)) processor.Record[K, fold[A]] {
	k, v, tomb := r.Key, r.Value, r.IsTombstone()
	return processor.WithValue(r, fold[A]{
		first:     func() (A, bool, error) { return first(k, v, tomb) },
		add:       func(a A) (A, error) { return add(k, v, a) },
		tombstone: tomb,
	})
}

// folding is the processor of a single-stream windowed, sliding or
// session aggregation: the aggregation's processor, fed the stream's records as
// folds.
type folding[K, V, A any] struct {
	core  processor.Processor[K, fold[A], Windowed[K], A]
	first func(K, V, bool) (A, bool, error)
	add   func(K, V, A) (A, error)
}

func (p *folding[K, V, A]) Init(ctx processor.Context[Windowed[K], A]) error { return p.core.Init(ctx) }

func (p *folding[K, V, A]) Process(r processor.Record[K, V]) error {
	return p.core.Process(folded(r, p.first, p.add))
}

func (p *folding[K, V, A]) Close() error { return p.core.Close() }

// FlushCache flushes the core's record cache (engine.Flusher), if it has one.
func (p *folding[K, V, A]) FlushCache() error {
	if f, ok := p.core.(engine.Flusher); ok {
		return f.FlushCache()
	}
	return nil
}

// foldNode adds the node that turns the records of s into folds with its
// adder, for a cogrouped windowed, sliding or session aggregation, and
// returns its name.
func foldNode[K, V, A any](s Stream[K, V], first func(K, V, bool) (A, bool, error), add func(K, V, A) (A, error)) string {
	name := s.t.name("COGROUPKSTREAM-AGGREGATE")
	fn := processor.Func[K, V, K, fold[A]](func(ctx processor.Context[K, fold[A]], r processor.Record[K, V]) error {
		ctx.Forward(folded(r, first, add))
		return nil
	})
	AddProcessor(s.t, name, fn.Supplier(), s.node)
	return name
}

// singleStream returns the processor supplier of a windowed, sliding or
// session aggregation of one stream: core fed through folding.
func singleStream[K, V, A any](core func() processor.Processor[K, fold[A], Windowed[K], A], first func(K, V, bool) (A, bool, error), add func(K, V, A) (A, error)) processor.Supplier[K, V, Windowed[K], A] {
	return func() processor.Processor[K, V, Windowed[K], A] {
		return &folding[K, V, A]{core: core(), first: first, add: add}
	}
}

// addWindowedProcessor adds the processor node of a windowed, sliding or
// session aggregation over the window store named store, with its emitted store
// (final results) and late-records topic.
func addWindowedProcessor[K, VIn, A any](t *Topology, name, store string, final bool, late lateness, supplier processor.Supplier[K, VIn, Windowed[K], A], parents []string) {
	AddProcessor(t, name, supplier, parents...)
	if final {
		addEmittedStore(t, store, name)
	}
	if n, ok := t.g.Node(name); ok && late.lateTopic != "" {
		n.SideTopics = append(n.SideTopics, late.lateTopic)
	}
}

// windowedAggregate adds the processor and the timestamped window store
// behind the windowed aggregations of one stream: first makes the
// aggregate of a window's first record (and says whether it is null:
// nothing stored, a tombstone emitted), add folds a record into a window's
// aggregate.
func windowedAggregate[K, V, A any](s Stream[K, V], windows Windows, prefix, store string, first func(K, V, bool) (A, bool, error), add func(K, V, A) (A, error), key serde.Serde[K], agg serde.Serde[A]) Stream[Windowed[K], A] {
	return windowAggregation(s.t, windows, prefix, store, func(core func() processor.Processor[K, fold[A], Windowed[K], A]) processor.Supplier[K, V, Windowed[K], A] {
		return singleStream(core, first, add)
	}, key, agg, s.node)
}

// windowAggregation adds the processor of a windowed aggregation fed by
// parents, made by supplier around the aggregation's processor (core), and
// its timestamped window store.
func windowAggregation[K, VIn, A any](t *Topology, windows Windows, prefix, store string, supplier func(core func() processor.Processor[K, fold[A], Windowed[K], A]) processor.Supplier[K, VIn, Windowed[K], A], key serde.Serde[K], agg serde.Serde[A], parents ...string) Stream[Windowed[K], A] {
	name := t.name(prefix)
	if err := windows.check(); err != nil {
		t.g.Errorf("topology: windowed aggregation %q (store %q): %v", name, store, err)
		windows = TumblingWindows(time.Millisecond) // keeps building; Validate fails
	}
	core := func() processor.Processor[K, fold[A], Windowed[K], A] {
		return &windowAggregator[K, A]{windows: windows, store: store}
	}
	addWindowedProcessor(t, name, store, windows.final, windows.lateness, supplier(core), parents)
	addWindowedStore(t, name, store, windows.Retention(), key, agg, func(st *timestampedWindowStore[K, A], _ processor.BytesKeyValueStore) processor.StateStore {
		return st
	})
	return Stream[Windowed[K], A]{t: t, node: name}
}

// addWindowedStore adds the window store of the windowed or sliding
// aggregation node name, with retention ret, its aggregates kept with
// their times; wrap makes the store the processor finds from the
// timestamped window store over the raw store.
func addWindowedStore[K, A any](t *Topology, name, store string, ret time.Duration, key serde.Serde[K], agg serde.Serde[A], wrap func(*timestampedWindowStore[K, A], processor.BytesKeyValueStore) processor.StateStore) {
	_, exists := t.g.Stores[store]
	segs := 3
	AddWindowStore(t, WindowStore[K, A]{Name: store, Key: key, Value: agg, Retention: ret, Segments: segs}, name)
	if def, ok := t.g.Stores[store]; ok && !exists && key != nil && agg != nil {
		ts := timestampedSerde[A]{agg}
		def.Wrap = func(o engine.Opened) processor.StateStore {
			b := o.Window
			return wrap(&timestampedWindowStore[K, A]{raw: b, base: o.Raw, key: key, value: ts, inner: stores.WrapWindowStore(b, key, serde.Serde[timestamped[A]](ts)), clock: newStreamClock(o.Raw)}, o.Raw)
		}
	}
}

// windowAggregator is the processor of the windowed aggregations, as Kafka
// Streams' KStreamWindowAggregate, over records whose values are folds (of
// one stream or of several, cogrouped).
type windowAggregator[K, A any] struct {
	windows Windows
	store   string
	ctx     processor.Context[Windowed[K], A]
	st      *timestampedWindowStore[K, A]
	// fin is the state of final results (Windows.EmitFinal), nil without:
	// it keeps the stream time in place of the store's clock.
	fin *emitState
}

func (a *windowAggregator[K, A]) Init(ctx processor.Context[Windowed[K], A]) error {
	s, err := ctx.StateStore(a.store)
	if err != nil {
		return err
	}
	st, ok := s.(*timestampedWindowStore[K, A])
	if !ok {
		return fmt.Errorf("topology: store %q is a %T, not a windowed aggregation's timestamped window store", a.store, s)
	}
	a.ctx, a.st = ctx, st
	if a.windows.final {
		if a.fin, err = emitStateOf(ctx, a.store, "windowed aggregation"); err != nil {
			return err
		}
		if a.windows.processingTime {
			ctx.Schedule(min(a.windows.advance, time.Second), processor.WallClockTime, a.closeByWallClock)
		}
		// No record cache: final results are emitted from the store when
		// windows close, and an update forwards nothing to collapse.
		return nil
	}
	st.enableCache(ctx, func(e *cacheEntry[Windowed[K], A]) { a.ctx.Forward(e.rec) })
	return nil
}

// closeByWallClock emits the processing-time windows that closed on the
// wall clock, with no input record.
func (a *windowAggregator[K, A]) closeByWallClock(now time.Time) error {
	closeTime, err := a.advance(now.UnixMilli())
	if err != nil {
		return err
	}
	return a.emitClosed(processor.Record[K, fold[A]]{}, closeTime)
}

// advance moves the aggregation's stream time to ts if it is later, and
// returns the close time: windows that end at or before it are closed
// (end + grace <= watermark, the watermark being the stream time minus
// MaxOutOfOrder), and the watermark.
func (a *windowAggregator[K, A]) advance(ts int64) (closeTime int64, err error) {
	return advanceClock(a.st.clock, a.fin, ts, a.windows.maxOutOfOrder.Milliseconds()+a.windows.grace.Milliseconds())
}

func (a *windowAggregator[K, A]) Process(r processor.Record[K, fold[A]]) error {
	if r.KeyIsNull() {
		dropped(a.ctx, "null key in a windowed aggregation")
		return nil
	}
	if a.windows.processingTime {
		r.Timestamp = a.ctx.WallClock()
	}
	ts := r.Timestamp.UnixMilli()
	if ts < 0 {
		dropped(a.ctx, "event time before the Unix epoch in a windowed aggregation")
		return nil
	}
	closeTime, err := a.advance(ts)
	if err != nil {
		return err
	}
	size := a.windows.size.Milliseconds()
	// Every open window's new aggregate first, so that an error from add
	// leaves them all as they were; then store and emit them, by start.
	var updates []windowUpdate[A]
	late := int64(-1) // start of the latest closed window r belongs to
	for _, start := range a.windows.startsFor(ts) {
		end := start + size
		if end <= closeTime {
			late = start
			droppedf(a.ctx, "late record in a windowed aggregation", "event time %d, window [%d,%d) closed at watermark %d (grace %v)",
				ts, start, end, closeTime+a.windows.grace.Milliseconds(), a.windows.grace)
			continue
		}
		u, err := a.next(r, start, end)
		if err != nil {
			return err // to the processing-error policy; no window changed
		}
		updates = append(updates, u)
	}
	if late >= 0 && len(updates) == 0 {
		a.windows.divert(a.ctx, late, late+size, closeTime+a.windows.grace.Milliseconds())
	}
	if a.fin != nil {
		// Before the updates: a window store put may expire closed
		// windows that were not emitted yet.
		if err := a.emitClosed(r, closeTime); err != nil {
			return err
		}
	}
	for _, u := range updates {
		if err := a.emit(r, u); err != nil {
			return err
		}
	}
	return nil
}

// Late-record headers (Windows.LateRecordsTo, Sliding.LateRecordsTo).
const (
	HeaderLateReason      = "samsa.late.reason"
	HeaderLateWindowStart = "samsa.late.window.start"
	HeaderLateWindowEnd   = "samsa.late.window.end"
	HeaderLateWatermark   = "samsa.late.watermark"
)

// divertLate writes the record being processed by the aggregation whose
// context is ctx to its late-records topic, with the late-record headers:
// why, the (most recent) closed window or session it belongs to, [start,
// end] in ms, and the watermark.
func divertLate(ctx any, topic, reason string, start, end, watermark int64) {
	d, ok := ctx.(engine.Diverter)
	if !ok {
		return
	}
	ms := func(v int64) []byte { return strconv.AppendInt(nil, v, 10) }
	d.Divert(topic, []processor.Header{
		{Key: HeaderLateReason, Value: []byte(reason)},
		{Key: HeaderLateWindowStart, Value: ms(start)},
		{Key: HeaderLateWindowEnd, Value: ms(end)},
		{Key: HeaderLateWatermark, Value: ms(watermark)},
	})
}

// windowUpdate is the new aggregate of one window, its time, and whether it
// is null (nothing stored, a tombstone emitted).
type windowUpdate[A any] struct {
	start, end int64
	agg        timestamped[A]
	null       bool
	fresh      bool // the window had no aggregate
}

// next computes r's window [start, end) with r added.
func (a *windowAggregator[K, A]) next(r processor.Record[K, fold[A]], start, end int64) (windowUpdate[A], error) {
	cur, ok, err := a.st.fetchTimed(r.Key, start)
	if err != nil {
		return windowUpdate[A]{}, err
	}
	u := windowUpdate[A]{start: start, end: end, agg: timestamped[A]{ms: r.Timestamp.UnixMilli()}}
	if ok {
		u.agg.agg, err = r.Value.add(cur.agg)
		u.agg.ms = max(u.agg.ms, cur.ms)
	} else {
		u.fresh = true
		u.agg.agg, u.null, err = r.Value.first()
	}
	return u, err
}

// emit stores a window's update and forwards it (or caches it, with the
// record cache), or, with final results only, keeps track of a new window.
func (a *windowAggregator[K, A]) emit(r processor.Record[K, fold[A]], u windowUpdate[A]) error {
	if cached, err := a.st.store(r.Key, u.start, u.agg, u.null, a.output(r, u)); err != nil || cached {
		return err
	}
	if a.fin != nil {
		if !u.fresh || u.null {
			return nil
		}
		kb, err := a.st.key.Serialize(a.st.raw.Name(), r.Key)
		if err != nil {
			return fmt.Errorf("window store %q: serialize key: %w", a.st.raw.Name(), err)
		}
		return a.fin.track(u.start, kb) // emitted when it closes
	}
	a.ctx.Forward(a.output(r, u))
	return nil
}

// output is the record that forwards a window's update.
func (a *windowAggregator[K, A]) output(r processor.Record[K, fold[A]], u windowUpdate[A]) processor.Record[Windowed[K], A] {
	out := processor.WithKeyValue(r, Windowed[K]{Key: r.Key, Start: time.UnixMilli(u.start), End: time.UnixMilli(u.end)}, u.agg.agg)
	out.Timestamp = time.UnixMilli(u.agg.ms)
	if u.null {
		out = out.AsTombstone()
	}
	return out
}

// timestampedWindowStore is the store of a windowed aggregation: a
// WindowStore[K, A] for processors and tests that look it up, over entries
// that keep each aggregate's time for the aggregator.
type timestampedWindowStore[K, A any] struct {
	raw engine.BytesWindowStore
	// base is the bytes store beneath raw (its transactions), when known.
	base  processor.BytesKeyValueStore
	key   serde.Serde[K]
	value timestampedSerde[A]
	inner processor.WindowStore[K, timestamped[A]]
	// clock is the aggregation's stream time, in step with the store's
	// transactions.
	clock *streamClock
	// cache is the store's record cache (window_cache.go), nil when off.
	cache *windowCache[K, A]
}

// streamClock is an aggregation's stream time (the highest event time it
// has seen, in ms; -1 before any), kept in step with its store's
// transactions: after an abort it goes back to its value at the last
// commit, so that the records processed again see the stream time they saw
// the first time and are not judged late by a time that was rolled back;
// after a restore (the task moved) it starts again, as in Kafka Streams.
type streamClock struct{ now, committed int64 }

func newStreamClock(raw processor.BytesKeyValueStore) *streamClock {
	c := &streamClock{now: -1, committed: -1}
	if t, ok := raw.(engine.Transactional); ok {
		engine.OnStoreEvent(t, func(ev engine.StoreEvent) {
			switch ev {
			case engine.StoreCommitted:
				c.committed = c.now
			case engine.StoreAborted:
				c.now = c.committed
			case engine.StoreRestored:
				c.now, c.committed = -1, -1
			}
		})
	}
	return c
}

// StoreType names the store as processors see it, for errors.
func (s *timestampedWindowStore[K, A]) StoreType() string {
	return stores.TypeName[K, A]("WindowStore")
}

// fetchTimed returns the aggregate of key's window starting at start (ms).
func (s *timestampedWindowStore[K, A]) fetchTimed(k K, start int64) (timestamped[A], bool, error) {
	if v, ok, found, err := s.cached(k, start); err != nil || found {
		return v, ok, err
	}
	t := time.UnixMilli(start)
	for w, err := range s.inner.Fetch(k, t, t) {
		if err != nil {
			return timestamped[A]{}, false, err
		}
		return w.Value, true, nil
	}
	return timestamped[A]{}, false, nil
}

// putTimed stores v for key's window starting at start (ms), or deletes the
// window when v's aggregate is written as null, as Kafka Streams' put of a
// null aggregate.
func (s *timestampedWindowStore[K, A]) putTimed(k K, v timestamped[A], start int64) error {
	kb, vb, err := s.serialize(k, v)
	if err != nil {
		return err
	}
	if err := s.bypass(kb, start); err != nil {
		return err
	}
	return s.raw.Put(kb, vb, time.UnixMilli(start)) // nil deletes
}

// deleteWindow removes key's window starting at start (ms), if any.
func (s *timestampedWindowStore[K, A]) deleteWindow(k K, start int64) error {
	kb, err := s.serializeKey(k)
	if err != nil {
		return err
	}
	if err := s.bypass(kb, start); err != nil {
		return err
	}
	return s.raw.Put(kb, nil, time.UnixMilli(start))
}

func (s *timestampedWindowStore[K, A]) serializeKey(k K) ([]byte, error) {
	kb, err := s.key.Serialize(s.raw.Name(), k)
	if err != nil {
		return nil, fmt.Errorf("window store %q: serialize key: %w", s.raw.Name(), err)
	}
	return kb, nil
}

// serialize returns the store's bytes of k and v (nil: a delete).
func (s *timestampedWindowStore[K, A]) serialize(k K, v timestamped[A]) (kb, vb []byte, err error) {
	return serializeTimed("window store", s.raw.Name(), s.key, s.value, k, v)
}

// Name implements processor.StateStore.
func (s *timestampedWindowStore[K, A]) Name() string { return s.raw.Name() }

// Put stores an aggregate without a time (-1), as Kafka Streams' put of a
// plain value into a timestamped store.
func (s *timestampedWindowStore[K, A]) Put(k K, a A, start time.Time) error {
	return s.putTimed(k, timestamped[A]{agg: a, ms: -1}, start.UnixMilli())
}

// Delete removes key's window starting at start.
func (s *timestampedWindowStore[K, A]) Delete(k K, start time.Time) error {
	return s.deleteWindow(k, start.UnixMilli())
}

// Fetch yields key's aggregates with from <= window start <= to.
func (s *timestampedWindowStore[K, A]) Fetch(k K, from, to time.Time) iter.Seq2[processor.Windowed[A], error] {
	return func(yield func(processor.Windowed[A], error) bool) {
		if err := s.bypass(nil, 0); err != nil {
			yield(processor.Windowed[A]{}, err)
			return
		}
		for w, err := range s.inner.Fetch(k, from, to) {
			if !yield(processor.Windowed[A]{Start: w.Start, Value: w.Value.agg}, err) {
				return
			}
		}
	}
}

// FetchAll yields every key's aggregates with from <= window start <= to.
func (s *timestampedWindowStore[K, A]) FetchAll(from, to time.Time) iter.Seq2[processor.WindowedKeyValue[K, A], error] {
	return func(yield func(processor.WindowedKeyValue[K, A], error) bool) {
		if err := s.bypass(nil, 0); err != nil {
			yield(processor.WindowedKeyValue[K, A]{}, err)
			return
		}
		for w, err := range s.inner.FetchAll(from, to) {
			if !yield(processor.WindowedKeyValue[K, A]{Key: w.Key, Start: w.Start, Value: w.Value.agg}, err) {
				return
			}
		}
	}
}
