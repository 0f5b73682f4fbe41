package topology

import (
	"bytes"
	"errors"
	"testing"

	"github.com/samsa-streams/samsa/serde"
)

// TestTimestampedStoreFormat: an aggregation's store value is Kafka
// Streams' timestamped format, 8 bytes of big-endian milliseconds then the
// aggregate; an aggregate written as nil is nil (a delete).
func TestTimestampedStoreFormat(t *testing.T) {
	s := timestampedSerde[int64]{serde.Int64}
	b, err := s.Serialize("st", timestamped[int64]{agg: 3, ms: 258})
	want := []byte{0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 3}
	if err != nil || !bytes.Equal(b, want) {
		t.Fatalf("Serialize = % x, %v; want % x", b, err, want)
	}
	v, err := s.Deserialize("st", b)
	if err != nil || v.agg != 3 || v.ms != 258 {
		t.Fatalf("Deserialize = %+v, %v", v, err)
	}
	if _, err := s.Deserialize("st", []byte{1, 2}); !errors.Is(err, serde.ErrDeserialize) {
		t.Fatalf("short value: %v", err)
	}
	type doc struct{}
	p := timestampedSerde[*doc]{serde.JSON[*doc]()}
	if b, err := p.Serialize("st", timestamped[*doc]{ms: 1}); b != nil || err != nil {
		t.Fatalf("nil aggregate = % x, %v; want nil", b, err)
	}
}
