package samsa

import (
	"errors"

	"github.com/samsa-streams/samsa/internal/engine"
)

// ErrProduction is wrapped by the error of a record the broker rejected
// (too large, invalid, not authorized…) when the production policy is Fail,
// or when a rejected record cannot be skipped or dead-lettered. The error
// names the topic and partition written and, for a record produced while
// processing an input record, that record's topic, partition and offset.
var ErrProduction = errors.New("samsa: the broker rejected a record")

// ErrorPolicy is what happens to a record that fails: the app fails, the
// record is skipped (counted in Skipped), or its original bytes go to the
// dead-letter topic with headers that say why and where (DeadLettered).
type ErrorPolicy int

const (
	// Fail stops the app with the error, naming topic, partition and offset.
	Fail ErrorPolicy = iota
	// Skip drops the record, counts it and logs it.
	Skip
	// DeadLetter sends the input record's original key and value to
	// Config.DeadLetterTopic with the error headers (samsa.error.message,
	// samsa.error.kind, samsa.source.topic, samsa.source.partition,
	// samsa.source.offset, samsa.application.id, samsa.task,
	// samsa.error.timestamp) and goes on.
	DeadLetter
)

// String names the policy: fail, skip or dead-letter.
func (p ErrorPolicy) String() string {
	if p < Fail || p > DeadLetter {
		return "unknown"
	}
	return p.decide().String()
}

// Dead-letter header names: a dead-letter record carries the input record's
// key, value and headers, followed by these.
const (
	// HeaderErrorMessage holds the error's text.
	HeaderErrorMessage = "samsa.error.message"
	// HeaderErrorKind names the kind of failure: deserialization,
	// processing or production.
	HeaderErrorKind = "samsa.error.kind"
	// HeaderSourceTopic, HeaderSourcePartition and HeaderSourceOffset
	// locate the input record.
	HeaderSourceTopic     = "samsa.source.topic"
	HeaderSourcePartition = "samsa.source.partition"
	HeaderSourceOffset    = "samsa.source.offset"
	// HeaderApplicationID names the application.
	HeaderApplicationID = "samsa.application.id"
	// HeaderTask names the task that processed the input record.
	HeaderTask = "samsa.task"
	// HeaderTimestamp holds when the record was dead-lettered (Unix
	// milliseconds).
	HeaderTimestamp = "samsa.error.timestamp"
)

// ErrorPolicies chooses a policy per kind of failure.
type ErrorPolicies struct {
	// Deserialization: a key or value the source's serde rejects.
	Deserialization ErrorPolicy
	// Processing: a processor returned an error, or a sink could not
	// serialize its record.
	Processing ErrorPolicy
	// Production: the broker rejected a record the processing of an input
	// record produced (too large, invalid, not authorized…), an output or
	// a changelog write. Every rejection is known after the flush and
	// decided before any offset is committed. Fail stops the app with an
	// ErrProduction and commits nothing past the input record. Skip and
	// DeadLetter drop the rejected output, as Kafka Streams' production
	// handler does, and count it (Skip) or send the input record's bytes
	// to the dead-letter topic once (DeadLetter); the input record's other
	// outputs and store writes stay. Under at-least-once the batch then
	// commits; under exactly-once the transaction is aborted and the
	// records are processed again with that output dropped. A rejected
	// changelog write is rolled back under both guarantees and its input
	// record handed to the policy whole, since its store write cannot be
	// logged. A record rejected in a punctuator, or a rejected dead
	// letter, always fails.
	Production ErrorPolicy
}

// decide maps a policy to the engine's decision.
func (p ErrorPolicy) decide() engine.Decision {
	switch p {
	case Skip:
		return engine.Skip
	case DeadLetter:
		return engine.DeadLetter
	}
	return engine.Fail
}
