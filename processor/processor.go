package processor

import (
	"errors"
	"fmt"
	"time"
)

// Processor processes records of one key and value type and forwards records
// of another through its Context. The runtime creates one Processor per task
// through the supplier given to the topology, so a Processor needs no locking.
type Processor[KIn, VIn, KOut, VOut any] interface {
	// Init is called once before the first record, with the context to
	// forward through, schedule punctuators on and look stores up in.
	Init(ctx Context[KOut, VOut]) error
	// Process handles one record. An error goes to the processing error
	// handler, which fails the app, skips the record or dead-letters it.
	Process(r Record[KIn, VIn]) error
	// Close is called once when the task closes.
	Close() error
}

// Supplier creates a new Processor for a task.
type Supplier[KIn, VIn, KOut, VOut any] func() Processor[KIn, VIn, KOut, VOut]

// Func adapts a stateless function into a Processor. The function receives
// the context on every call.
type Func[KIn, VIn, KOut, VOut any] func(ctx Context[KOut, VOut], r Record[KIn, VIn]) error

// funcProcessor is the Processor behind Func.
type funcProcessor[KIn, VIn, KOut, VOut any] struct {
	fn  Func[KIn, VIn, KOut, VOut]
	ctx Context[KOut, VOut]
}

func (p *funcProcessor[KIn, VIn, KOut, VOut]) Init(ctx Context[KOut, VOut]) error {
	p.ctx = ctx
	return nil
}
func (p *funcProcessor[KIn, VIn, KOut, VOut]) Process(r Record[KIn, VIn]) error {
	return p.fn(p.ctx, r)
}
func (p *funcProcessor[KIn, VIn, KOut, VOut]) Close() error { return nil }

// Supplier returns a Supplier that wraps fn in a fresh Processor per task.
func (fn Func[KIn, VIn, KOut, VOut]) Supplier() Supplier[KIn, VIn, KOut, VOut] {
	return func() Processor[KIn, VIn, KOut, VOut] { return &funcProcessor[KIn, VIn, KOut, VOut]{fn: fn} }
}

// PunctuationType says which clock drives a punctuator.
type PunctuationType int

const (
	// StreamTime punctuators fire as the task's stream time (the highest
	// event time seen on its inputs) advances; they never fire without input.
	StreamTime PunctuationType = iota
	// WallClockTime punctuators fire on the system clock between records,
	// also when no input arrives.
	WallClockTime
)

// String returns the name of the punctuation type.
func (t PunctuationType) String() string {
	switch t {
	case StreamTime:
		return "stream-time"
	case WallClockTime:
		return "wall-clock-time"
	}
	return fmt.Sprintf("PunctuationType(%d)", int(t))
}

// Cancellable cancels a scheduled punctuator.
type Cancellable interface {
	// Cancel stops future firings. It is safe to call more than once.
	Cancel()
}

// TaskID names a task: a sub-topology and a partition number.
type TaskID struct {
	Subtopology int
	Partition   int32
}

// String formats a task id as Kafka Streams does, e.g. "0_3".
func (t TaskID) String() string { return fmt.Sprintf("%d_%d", t.Subtopology, t.Partition) }

// TaskContext is the part of a processor's context that does not depend on
// the record types: task identity, time, punctuation, stores and commits.
type TaskContext interface {
	// ApplicationID returns the application id of the running app.
	ApplicationID() string
	// TaskID returns the task this processor instance belongs to.
	TaskID() TaskID
	// StreamTime returns the task's stream time: the highest event time
	// seen on its input partitions, or the zero time before any input.
	StreamTime() time.Time
	// Watermark returns the event time that every input of the task that
	// has records waiting has reached, never moving backwards: the lowest
	// partition time (the highest event time processed from an input
	// partition) among the task's input partitions with records buffered.
	// An input with none is idle and does not hold it back (a task waits
	// for an empty input only as Config.MaxTaskIdle says); with no input
	// buffered it is the stream time. The zero time before any input.
	Watermark() time.Time
	// WallClock returns the wall-clock time (Kafka Streams'
	// currentSystemTimeMs): time.Now in an App, the driver's clock in
	// testkit.Driver.
	WallClock() time.Time
	// Schedule registers fn to be called every interval on the given clock.
	// fn receives the time it fires at: the stream time or the wall clock.
	Schedule(interval time.Duration, typ PunctuationType, fn func(t time.Time) error) Cancellable
	// StateStore returns the store with the given name, which must have been
	// connected to this processor in the topology.
	StateStore(name string) (StateStore, error)
	// RequestCommit asks the runtime to commit as soon as possible, rather
	// than at the next commit interval.
	RequestCommit()
}

// Context is what a processor forwards records through.
type Context[KOut, VOut any] interface {
	TaskContext
	// Forward sends r to every child of the processor.
	Forward(r Record[KOut, VOut])
	// ForwardTo sends r to the named child only. Naming a node that is not
	// a child is a programming error and fails the task.
	ForwardTo(child string, r Record[KOut, VOut])
}

// ErrStoreNotConnected is returned by StateStore for a store that was not
// connected to the asking processor.
var ErrStoreNotConnected = errors.New("processor: store not connected to this processor")
