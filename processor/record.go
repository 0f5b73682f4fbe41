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
//
// A record also says whether its value and its key are null, as Kafka
// records can be: a null value is a tombstone (a delete on a compacted
// topic, a delete in a table), and a record read from Kafka with a null
// value or key keeps it null through every operator that passes the record
// on (Filter, Peek, Branch, Merge, To, a repartition) and is written with a
// null value or key by the sink. The field (Value or Key) then holds the
// zero value of its type, so IsTombstone and KeyIsNull are how to tell a
// tombstone from a value that is merely empty: a string value "" is not a
// tombstone. Assigning the Value or Key field does not change what the
// record says; WithValue and WithKeyValue return records with new, non-null
// values, and AsTombstone and WithNullKey make a value or key null.
type Record[K, V any] struct {
	Key       K
	Value     V
	Timestamp time.Time
	Headers   []Header

	origin    Origin
	hasOrigin bool
	nullValue bool
	nullKey   bool
}

// NewRecord returns a record with the given key, value and event time and no origin.
func NewRecord[K, V any](key K, value V, ts time.Time) Record[K, V] {
	return Record[K, V]{Key: key, Value: value, Timestamp: ts}
}

// NewTombstone returns a record with the given key and event time whose value
// is null (the zero V): a sink writes it with a null value, a delete on a
// compacted topic.
func NewTombstone[K, V any](key K, ts time.Time) Record[K, V] {
	return Record[K, V]{Key: key, Timestamp: ts, nullValue: true}
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

// IsTombstone reports whether the record's value is null: a Kafka tombstone,
// read from a topic with a null value or made by NewTombstone or
// AsTombstone. Value then holds the zero V. A value that is merely empty
// ("", 0) is not a tombstone.
func (r Record[K, V]) IsTombstone() bool { return r.nullValue }

// KeyIsNull reports whether the record's key is null: read from a topic
// without a key, or made by WithNullKey. Key then holds the zero K, and a
// sink writes the record without a key.
func (r Record[K, V]) KeyIsNull() bool { return r.nullKey }

// AsTombstone returns r with a null value (the zero V): a sink writes it
// with a null value, a delete on a compacted topic.
func (r Record[K, V]) AsTombstone() Record[K, V] {
	var zero V
	r.Value, r.nullValue = zero, true
	return r
}

// WithNullKey returns r with a null key (the zero K): a sink writes it
// without a key.
func (r Record[K, V]) WithNullKey() Record[K, V] {
	var zero K
	r.Key, r.nullKey = zero, true
	return r
}

// WithValue returns a record of a new value type carrying the key (null if
// r's key is), time, headers and origin of r. The new value is a value, not
// a tombstone, even if r is one. Go forbids type parameters on methods, so
// changing the value type is a function.
func WithValue[K, V, V2 any](r Record[K, V], v V2) Record[K, V2] {
	return Record[K, V2]{Key: r.Key, Value: v, Timestamp: r.Timestamp, Headers: r.Headers, origin: r.origin, hasOrigin: r.hasOrigin, nullKey: r.nullKey}
}

// WithKeyValue returns a record with a new key and value carrying the time,
// headers and origin of r. Neither the new key nor the new value is null,
// even if r's are.
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
