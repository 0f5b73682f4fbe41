package serde

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
)

// fixed decodes a fixed-size big-endian value; a nil payload (a tombstone)
// decodes to zero.
func fixed(topic, what string, data []byte, size int) ([]byte, bool, error) {
	if data == nil {
		return nil, false, nil
	}
	if len(data) != size {
		return nil, false, fmt.Errorf("%w: %s from topic %q needs %d bytes, got %d", ErrDeserialize, what, topic, size, len(data))
	}
	return data, true, nil
}

// Int32 is Kafka's IntegerSerializer encoding: 4 bytes, big-endian, two's
// complement. A nil payload (tombstone) decodes to 0.
var Int32 Serde[int32] = int32Serde{}

type int32Serde struct{}

func (int32Serde) Serialize(_ string, v int32) ([]byte, error) {
	return binary.BigEndian.AppendUint32(make([]byte, 0, 4), uint32(v)), nil
}

func (int32Serde) Deserialize(topic string, data []byte) (int32, error) {
	b, ok, err := fixed(topic, "int32", data, 4)
	if !ok {
		return 0, err
	}
	return int32(binary.BigEndian.Uint32(b)), nil
}

// Int64 is Kafka's LongSerializer encoding: 8 bytes, big-endian, two's
// complement. A nil payload (tombstone) decodes to 0.
var Int64 Serde[int64] = int64Serde{}

type int64Serde struct{}

func (int64Serde) Serialize(_ string, v int64) ([]byte, error) {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(v)), nil
}

func (int64Serde) Deserialize(topic string, data []byte) (int64, error) {
	b, ok, err := fixed(topic, "int64", data, 8)
	if !ok {
		return 0, err
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// Float64 is Kafka's DoubleSerializer encoding: the IEEE 754 bits, 8 bytes
// big-endian. A nil payload (tombstone) decodes to 0.
var Float64 Serde[float64] = float64Serde{}

type float64Serde struct{}

func (float64Serde) Serialize(_ string, v float64) ([]byte, error) {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), math.Float64bits(v)), nil
}

func (float64Serde) Deserialize(topic string, data []byte) (float64, error) {
	b, ok, err := fixed(topic, "float64", data, 8)
	if !ok {
		return 0, err
	}
	return math.Float64frombits(binary.BigEndian.Uint64(b)), nil
}

// UUIDValue is a 16-byte UUID.
type UUIDValue [16]byte

// String formats the UUID as 8-4-4-4-12 hex digits.
func (u UUIDValue) String() string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:36], u[10:16])
	return string(b[:])
}

// ParseUUID parses the 36-character 8-4-4-4-12 form.
func ParseUUID(s string) (UUIDValue, error) {
	var u UUIDValue
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, fmt.Errorf("uuid %q: want the 36-character 8-4-4-4-12 form", s)
	}
	src := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:36]
	if _, err := hex.Decode(u[:], []byte(src)); err != nil {
		return u, fmt.Errorf("uuid %q: %w", s, err)
	}
	return u, nil
}

// UUID is Kafka's UUIDSerializer encoding: the 36-character string form in
// UTF-8. A nil payload (tombstone) decodes to the zero UUID.
var UUID Serde[UUIDValue] = uuidSerde{}

type uuidSerde struct{}

func (uuidSerde) Serialize(_ string, v UUIDValue) ([]byte, error) { return []byte(v.String()), nil }

func (uuidSerde) Deserialize(topic string, data []byte) (UUIDValue, error) {
	if data == nil {
		return UUIDValue{}, nil
	}
	u, err := ParseUUID(string(data))
	if err != nil {
		return u, fmt.Errorf("%w: topic %q: %w", ErrDeserialize, topic, err)
	}
	return u, nil
}
