package topology

import (
	"testing"

	"github.com/samsa-streams/samsa/processor"
)

// TestOriginTagStable: the tag is stored in changelogs, so it must not
// change between releases or processes: a changed tag would make every
// redelivery after an upgrade look like a duplicate again.
func TestOriginTagStable(t *testing.T) {
	for _, c := range []struct {
		o    processor.Origin
		want int64
	}{
		{processor.Origin{Topic: "orders", Partition: 0, Offset: 0}, goldenOrders00},
		{processor.Origin{Topic: "orders", Partition: 3, Offset: 1 << 40}, goldenOrders3},
	} {
		if got, _ := originTag(c.o, nil); got != c.want {
			t.Errorf("originTag(%+v) = %#x, want %#x", c.o, got, c.want)
		}
	}
}

// TestOriginTagDistinct: tags of nearby origins differ, and none takes a
// reserved value (0, or noOrigin, the value of earlier releases).
func TestOriginTagDistinct(t *testing.T) {
	seen := map[int64]processor.Origin{}
	var buf []byte
	for _, topic := range []string{"a", "b", "ab", "orders"} {
		for p := int32(0); p < 4; p++ {
			for off := int64(0); off < 2000; off++ {
				o := processor.Origin{Topic: topic, Partition: p, Offset: off}
				var tag int64
				tag, buf = originTag(o, buf)
				if tag == 0 || tag == noOrigin {
					t.Fatalf("originTag(%+v) = %d, a reserved value", o, tag)
				}
				if prev, dup := seen[tag]; dup {
					t.Fatalf("originTag(%+v) = originTag(%+v)", o, prev)
				}
				seen[tag] = o
			}
		}
	}
}

// Golden tags; the first is the first 8 bytes of
// sha256(00000000 0000000000000000 "orders") = d806d4987f60623e, as
// sha256sum prints it, read as an int64.
const (
	goldenOrders00 int64 = -0x27f92b67809f9dc2
	goldenOrders3  int64 = 0x351a1aef06642475
)

// BenchmarkOriginTag: the cost the tag adds to every record with origin.
func BenchmarkOriginTag(b *testing.B) {
	var buf []byte
	o := processor.Origin{Topic: "orders-by-customer", Partition: 7}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		o.Offset = int64(i)
		_, buf = originTag(o, buf)
	}
}
