// Package serde turns typed keys and values into the bytes Kafka stores and back.
//
// A Serde[T] is a pair of functions; the built-in ones cover the encodings that
// Kafka's own clients use (string, bytes, big-endian integers, doubles, UUIDs)
// and JSON. Avro with the Confluent Schema Registry lives in serde/avro.
//
// Serdes are called on the hot path for every record: implementations avoid
// reflection where they can and must be safe for concurrent use.
package serde

import (
	"encoding/json"
	"errors"
	"fmt"
	"unsafe"
)

// Serde serializes and deserializes values of type T for a topic.
//
// Serialize may return nil for a nil-like value (a Kafka tombstone);
// Deserialize receives nil for a tombstone and must handle it.
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
// tombstone) deserializes to the zero T.
func JSON[T any]() Serde[T] { return jsonSerde[T]{} }

type jsonSerde[T any] struct{}

func (jsonSerde[T]) Serialize(topic string, v T) ([]byte, error) {
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
// the record's bytes. It saves an allocation per key and value on the hot
// path; the price is that a string kept after processing (in a map, say)
// keeps the whole fetch buffer it came from alive. The Kafka client never
// reuses fetch buffers, so the string itself never changes.
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
