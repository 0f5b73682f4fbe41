// Package avro is the Avro serde with the Confluent Schema Registry: the
// Confluent wire format (magic byte 0, 4-byte big-endian schema id, Avro
// binary), schemas registered and looked up through franz-go's pkg/sr,
// encoding with goavro, decoding with the writer's schema fetched by id and
// cached, typed mapping between Go structs and Avro records, and subject
// naming strategies.
package avro

import (
	"encoding/binary"
	"fmt"

	"github.com/samsa-streams/samsa/serde"
)

// magic is the first byte of the Confluent wire format.
const magic = 0

// ParseWireFormat splits a Confluent-framed payload into its schema id and
// the Avro binary that follows.
func ParseWireFormat(b []byte) (id int, payload []byte, err error) {
	if len(b) < 5 {
		return 0, nil, fmt.Errorf("%w: %d bytes are too short for the Confluent wire format (5-byte header)", serde.ErrDeserialize, len(b))
	}
	if b[0] != magic {
		return 0, nil, fmt.Errorf("%w: magic byte %d, want 0 (not the Confluent wire format)", serde.ErrDeserialize, b[0])
	}
	return int(binary.BigEndian.Uint32(b[1:5])), b[5:], nil
}

// AppendWireHeader appends the 5-byte header of schema id to dst.
func AppendWireHeader(dst []byte, id int) []byte {
	return binary.BigEndian.AppendUint32(append(dst, magic), uint32(id))
}
