// Package processor is samsa's Processor API: typed records, the Processor
// interface, the Context a processor forwards through, punctuation, and the
// state store interfaces.
//
// The DSL in package topology is built on it; users reach for it directly when
// the DSL cannot say what they need, as with Kafka Streams' Processor API.
package processor

import "time"

// Header is one Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Origin tells where the input record that caused a record came from. It is
// set by the runtime for every record read from a topic and carried along by
// the With* methods of Record; records built with NewRecord have none.
type Origin struct {
	Topic     string
	Partition int32
	Offset    int64
}

// Record is a typed record flowing through a topology: key, value, event
// time and headers, plus the read-only origin of the input record it derives
// from.
type Record[K, V any] struct {
	Key       K
	Value     V
	Timestamp time.Time
	Headers   []Header

	origin    Origin
	hasOrigin bool
}

// NewRecord returns a record with the given key, value and event time and no origin.
func NewRecord[K, V any](key K, value V, ts time.Time) Record[K, V] {
	return Record[K, V]{Key: key, Value: value, Timestamp: ts}
}

// SourceRecord returns a record as read from a topic, with its origin: the
// topic, partition and offset that Origin, Topic, Partition and Offset
// report. The runtime builds source records with it, and so can tests of
// processors that read Origin; a processor itself builds records with
// NewRecord or the With* functions, which carry the origin along.
func SourceRecord[K, V any](key K, value V, ts time.Time, headers []Header, o Origin) Record[K, V] {
	return Record[K, V]{Key: key, Value: value, Timestamp: ts, Headers: headers, origin: o, hasOrigin: true}
}

// Origin returns the topic, partition and offset of the input record this
// record derives from, and false if it has none (a record built by a
// punctuator, for example).
func (r Record[K, V]) Origin() (Origin, bool) { return r.origin, r.hasOrigin }

// Topic returns the source topic of the input record, or "" without origin.
func (r Record[K, V]) Topic() string { return r.origin.Topic }

// Partition returns the source partition of the input record, or -1 without origin.
func (r Record[K, V]) Partition() int32 {
	if !r.hasOrigin {
		return -1
	}
	return r.origin.Partition
}

// Offset returns the source offset of the input record, or -1 without origin.
func (r Record[K, V]) Offset() int64 {
	if !r.hasOrigin {
		return -1
	}
	return r.origin.Offset
}

// WithValue returns a record of a new value type carrying the key, time,
// headers and origin of r. Go forbids type parameters on methods, so changing
// the value type is a function.
func WithValue[K, V, V2 any](r Record[K, V], v V2) Record[K, V2] {
	return Record[K, V2]{Key: r.Key, Value: v, Timestamp: r.Timestamp, Headers: r.Headers, origin: r.origin, hasOrigin: r.hasOrigin}
}

// WithKeyValue returns a record with a new key and value carrying the time,
// headers and origin of r.
func WithKeyValue[K, V, K2, V2 any](r Record[K, V], k K2, v V2) Record[K2, V2] {
	return Record[K2, V2]{Key: k, Value: v, Timestamp: r.Timestamp, Headers: r.Headers, origin: r.origin, hasOrigin: r.hasOrigin}
}

// Header returns the value of the last header with the given key.
func (r Record[K, V]) Header(key string) ([]byte, bool) {
	for i := len(r.Headers) - 1; i >= 0; i-- {
		if r.Headers[i].Key == key {
			return r.Headers[i].Value, true
		}
	}
	return nil, false
}
