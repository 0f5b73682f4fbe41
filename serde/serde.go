// Package serde turns typed keys and values into the bytes Kafka stores and back.
//
// A Serde[T] is a pair of functions; the built-in ones cover the encodings that
// Kafka's own clients use (string, bytes, big-endian integers, doubles, UUIDs)
// and JSON. Avro with the Confluent Schema Registry lives in serde/avro.
//
// Serdes are called on the hot path for every record: implementations avoid
// reflection where they can and must be safe for concurrent use.
//
// # Tombstones and null keys
//
// Kafka distinguishes a null key or value from an empty one; a null value is
// a tombstone, a delete on a compacted topic. samsa keeps that distinction
// outside the serdes: a source never hands nil bytes to a Deserializer, it
// gives the processors the zero value on a record that says it is null
// (processor.Record.IsTombstone and KeyIsNull), and a sink writes such a
// record's key or value as nil without calling the Serializer. So a
// tombstone read with String stays a tombstone, and the value "" stays an
// empty, non-null payload. A Serializer may still return nil for a value
// that is null in its own right (JSON of a nil pointer, Bytes of a nil
// slice): the record is then written as a tombstone.
//
// What the built-ins do with nil when called directly: String, StringView,
// the numbers and UUID decode nil to the zero value (the caller tells a
// tombstone by the record, not by the value); Bytes keeps nil; JSON[T]
// decodes nil to the zero T (a nil pointer for JSON[*T]) and encodes a nil
// pointer or nil interface as nil (a tombstone), not as the 4 bytes null.
package serde

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"unsafe"
)

// Serde serializes and deserializes values of type T for a topic.
//
// Serialize may return nil for a nil-like value (a Kafka tombstone). The
// runtime never calls Deserialize with nil (a null key or value becomes the
// zero T on a record that says so, see the package comment), but other
// callers (the typed stores, tests) may, so a Serde decodes nil without
// error, to its zero value where it has no better one.
type Serde[T any] interface {
	// Serialize encodes v for the given topic.
	Serialize(topic string, v T) ([]byte, error)
	// Deserialize decodes data read from the given topic.
	Deserialize(topic string, data []byte) (T, error)
}

// ErrDeserialize is wrapped by every deserialization error of the built-in
// serdes, so callers can tell bad input from other failures with errors.Is.
var ErrDeserialize = errors.New("serde: cannot deserialize")

// ErrSerialize is wrapped by every serialization error of the built-in serdes.
var ErrSerialize = errors.New("serde: cannot serialize")

// Func builds a Serde from two functions.
func Func[T any](ser func(topic string, v T) ([]byte, error), de func(topic string, data []byte) (T, error)) Serde[T] {
	return funcSerde[T]{ser: ser, de: de}
}

type funcSerde[T any] struct {
	ser func(string, T) ([]byte, error)
	de  func(string, []byte) (T, error)
}

func (f funcSerde[T]) Serialize(topic string, v T) ([]byte, error)      { return f.ser(topic, v) }
func (f funcSerde[T]) Deserialize(topic string, data []byte) (T, error) { return f.de(topic, data) }

// String is the UTF-8 string serde (Kafka's StringSerializer). It does not
// validate UTF-8, as Kafka's does not. Serialize does not copy: the bytes it
// returns share the string's memory and must not be modified (the producer
// and the stores only read them). Deserialize copies, so the string never
// pins a fetch buffer.
//
// "" serializes to an empty, non-nil payload, which is not a tombstone;
// Deserialize of nil (a tombstone) returns "", and a record read from Kafka
// tells the two apart with processor.Record.IsTombstone.
var String Serde[string] = stringSerde{}

type stringSerde struct{}

func (stringSerde) Serialize(_ string, v string) ([]byte, error) {
	if v == "" {
		return []byte{}, nil
	}
	return unsafe.Slice(unsafe.StringData(v), len(v)), nil
}

func (stringSerde) Deserialize(_ string, data []byte) (string, error) { return string(data), nil }

// Bytes is the identity serde: the bytes are passed through without a copy.
var Bytes Serde[[]byte] = bytesSerde{}

type bytesSerde struct{}

func (bytesSerde) Serialize(_ string, v []byte) ([]byte, error)      { return v, nil }
func (bytesSerde) Deserialize(_ string, data []byte) ([]byte, error) { return data, nil }

// JSON returns a serde that encodes T with encoding/json. A nil payload (a
// tombstone) deserializes to the zero T: a nil pointer for JSON[*T]. A nil
// pointer, or a nil interface for an interface T, serializes to nil, a
// tombstone, not to the 4 bytes null; so JSON[*T] round-trips a tombstone.
// Other values that encode as JSON null (a nil map or slice) are written
// as null, as encoding/json writes them.
func JSON[T any]() Serde[T] {
	k := reflect.TypeFor[T]().Kind()
	return jsonSerde[T]{nilable: k == reflect.Pointer || k == reflect.Interface}
}

type jsonSerde[T any] struct {
	nilable bool // T is a pointer or an interface: a nil v is a tombstone
}

// isNil reports whether v, of a pointer or interface type, is nil (an
// interface holding a nil pointer counts as nil).
func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}

func (s jsonSerde[T]) Serialize(topic string, v T) ([]byte, error) {
	if s.nilable && isNil(v) {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: json for topic %q: %w", ErrSerialize, topic, err)
	}
	return b, nil
}

func (jsonSerde[T]) Deserialize(topic string, data []byte) (T, error) {
	var v T
	if data == nil {
		return v, nil
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return v, fmt.Errorf("%w: json from topic %q: %w", ErrDeserialize, topic, err)
	}
	return v, nil
}

// StringView is String without the copy on Deserialize: the string shares
// the record's bytes; nil and "" are handled as String handles them. It
// saves an allocation per key and value on the hot path; the price is that
// a string kept after processing (in a map, say) keeps the whole fetch
// buffer it came from alive. The Kafka client never reuses fetch buffers,
// so the string itself never changes.
var StringView Serde[string] = stringViewSerde{}

type stringViewSerde struct{ stringSerde }

func (stringViewSerde) Deserialize(_ string, data []byte) (string, error) {
	if len(data) == 0 {
		return "", nil
	}
	return unsafe.String(&data[0], len(data)), nil
}

// ErrUnavailable is wrapped by errors of a serde's external dependency (a
// schema registry) that is down: the record is not bad, and the runtime
// retries it with backoff instead of applying the error policy.
var ErrUnavailable = errors.New("serde: dependency unavailable")
