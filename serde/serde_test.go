package serde_test

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/samsa-streams/samsa/serde"
)

func TestFixedSizeVectors(t *testing.T) {
	check := func(name string, got, want []byte) {
		t.Helper()
		if !bytes.Equal(got, want) {
			t.Errorf("%s = % x, want % x", name, got, want)
		}
	}
	b, _ := serde.Int64.Serialize("t", 1)
	check("Int64(1)", b, []byte{0, 0, 0, 0, 0, 0, 0, 1})
	b, _ = serde.Int64.Serialize("t", -1)
	check("Int64(-1)", b, bytes.Repeat([]byte{0xff}, 8))
	b, _ = serde.Int32.Serialize("t", 258)
	check("Int32(258)", b, []byte{0, 0, 1, 2})
	b, _ = serde.Float64.Serialize("t", 1.0)
	check("Float64(1)", b, []byte{0x3f, 0xf0, 0, 0, 0, 0, 0, 0})

	for _, v := range []int64{0, 1, -1, math.MaxInt64, math.MinInt64} {
		b, _ := serde.Int64.Serialize("t", v)
		if got, err := serde.Int64.Deserialize("t", b); err != nil || got != v {
			t.Errorf("Int64 round trip %d = %d, %v", v, got, err)
		}
	}
	for _, v := range []int32{0, 7, -7, math.MaxInt32, math.MinInt32} {
		b, _ := serde.Int32.Serialize("t", v)
		if got, err := serde.Int32.Deserialize("t", b); err != nil || got != v {
			t.Errorf("Int32 round trip %d = %d, %v", v, got, err)
		}
	}
	for _, v := range []float64{0, -2.5, math.Inf(1), math.SmallestNonzeroFloat64} {
		b, _ := serde.Float64.Serialize("t", v)
		if got, err := serde.Float64.Deserialize("t", b); err != nil || got != v {
			t.Errorf("Float64 round trip %v = %v, %v", v, got, err)
		}
	}
	if _, err := serde.Int64.Deserialize("orders", []byte{1, 2, 3}); !errors.Is(err, serde.ErrDeserialize) || err.Error() != `serde: cannot deserialize: int64 from topic "orders" needs 8 bytes, got 3` {
		t.Errorf("short int64: %v", err)
	}
	if v, err := serde.Int32.Deserialize("t", nil); v != 0 || err != nil {
		t.Errorf("tombstone: %v %v", v, err)
	}
}

func TestUUID(t *testing.T) {
	const s = "123e4567-e89b-12d3-a456-426614174000"
	u, err := serde.ParseUUID(s)
	if err != nil || u.String() != s {
		t.Fatalf("ParseUUID = %v %v", u, err)
	}
	b, _ := serde.UUID.Serialize("t", u)
	if string(b) != s {
		t.Fatalf("UUID serializes to %q", b)
	}
	if got, err := serde.UUID.Deserialize("t", b); err != nil || got != u {
		t.Fatalf("round trip %v %v", got, err)
	}
	for _, bad := range []string{"", "123e4567e89b12d3a456426614174000", "123e4567-e89b-12d3-a456-42661417400g"} {
		if _, err := serde.UUID.Deserialize("t", []byte(bad)); !errors.Is(err, serde.ErrDeserialize) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestStringAndJSON(t *testing.T) {
	b, _ := serde.String.Serialize("t", "héllo")
	if s, _ := serde.String.Deserialize("t", b); s != "héllo" {
		t.Fatal(s)
	}
	if s, _ := serde.StringView.Deserialize("t", []byte("view")); s != "view" {
		t.Fatal(s)
	}
	type ev struct {
		A int    `json:"a"`
		B string `json:"b"`
	}
	j := serde.JSON[ev]()
	b, _ = j.Serialize("t", ev{1, "x"})
	if string(b) != `{"a":1,"b":"x"}` {
		t.Fatalf("%s", b)
	}
	if _, err := j.Deserialize("clicks", []byte(`{"a":`)); !errors.Is(err, serde.ErrDeserialize) {
		t.Fatalf("invalid JSON: %v", err)
	}
}

// Fuzz targets: no input may panic a deserializer; what decodes must
// re-encode to the same bytes for the exact encodings.

func FuzzInt64(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 1})
	f.Add([]byte{1, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := serde.Int64.Deserialize("t", b)
		if err == nil && b != nil {
			if out, _ := serde.Int64.Serialize("t", v); !bytes.Equal(out, b) {
				t.Fatalf("% x → %d → % x", b, v, out)
			}
		}
	})
}

func FuzzInt32(f *testing.F) {
	f.Add([]byte{0, 0, 1, 2})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := serde.Int32.Deserialize("t", b)
		if err == nil && b != nil {
			if out, _ := serde.Int32.Serialize("t", v); !bytes.Equal(out, b) {
				t.Fatalf("% x → %d → % x", b, v, out)
			}
		}
	})
}

func FuzzFloat64(f *testing.F) {
	f.Add([]byte{0x3f, 0xf0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := serde.Float64.Deserialize("t", b)
		if err == nil && b != nil {
			if out, _ := serde.Float64.Serialize("t", v); !bytes.Equal(out, b) {
				t.Fatalf("% x → %v → % x", b, v, out)
			}
		}
	})
}

func FuzzUUID(f *testing.F) {
	f.Add([]byte("123e4567-e89b-12d3-a456-426614174000"))
	f.Add([]byte("not a uuid"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if u, err := serde.UUID.Deserialize("t", b); err == nil && b != nil {
			if _, err := serde.ParseUUID(u.String()); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func FuzzString(f *testing.F) {
	f.Add([]byte("héllo"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, _ := serde.String.Deserialize("t", b)
		v, _ := serde.StringView.Deserialize("t", b)
		if s != v || s != string(b) {
			t.Fatalf("%q %q", s, v)
		}
		_, _ = serde.Bytes.Deserialize("t", b)
	})
}

func FuzzJSON(f *testing.F) {
	f.Add([]byte(`{"a":1,"b":"x","c":[1,2],"d":{"e":null}}`))
	f.Add([]byte(`{"a":`))
	type rec struct {
		A int               `json:"a"`
		B string            `json:"b"`
		C []float64         `json:"c"`
		D map[string]*int64 `json:"d"`
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = serde.JSON[rec]().Deserialize("t", b)
		_, _ = serde.JSON[map[string]any]().Deserialize("t", b)
	})
}

type tombstoneDoc struct {
	ID string `json:"id"`
}

// TestTombstones: what each built-in does with nil and with empty values.
// An empty string is an empty, non-null payload; JSON of a nil pointer or
// nil interface is nil (a tombstone), and nil decodes back to a nil pointer.
func TestTombstones(t *testing.T) {
	if b, err := serde.String.Serialize("t", ""); b == nil || len(b) != 0 || err != nil {
		t.Errorf(`String.Serialize("") = %#v, %v; want a non-nil empty payload`, b, err)
	}
	for _, s := range []serde.Serde[string]{serde.String, serde.StringView} {
		if v, err := s.Deserialize("t", nil); v != "" || err != nil {
			t.Errorf("%T.Deserialize(nil) = %q, %v", s, v, err)
		}
	}
	if v, err := serde.Int64.Deserialize("t", nil); v != 0 || err != nil {
		t.Errorf("Int64.Deserialize(nil) = %d, %v", v, err)
	}
	if b, err := serde.Bytes.Serialize("t", nil); b != nil || err != nil {
		t.Errorf("Bytes.Serialize(nil) = %#v, %v", b, err)
	}
	if b, err := serde.Bytes.Serialize("t", []byte{}); b == nil || err != nil {
		t.Errorf("Bytes.Serialize([]byte{}) = %#v, %v; want non-nil", b, err)
	}

	ptr := serde.JSON[*tombstoneDoc]()
	b, err := ptr.Serialize("t", nil)
	if b != nil || err != nil {
		t.Fatalf("JSON[*T].Serialize(nil) = %q, %v; want nil (a tombstone)", b, err)
	}
	for _, data := range [][]byte{nil, []byte("null")} {
		if v, err := ptr.Deserialize("t", data); v != nil || err != nil {
			t.Errorf("JSON[*T].Deserialize(%q) = %v, %v; want a nil pointer", data, v, err)
		}
	}
	b, err = ptr.Serialize("t", &tombstoneDoc{})
	if string(b) != `{"id":""}` || err != nil {
		t.Errorf("JSON[*T] of a zero struct = %q, %v; a pointer to a value is not a tombstone", b, err)
	}
	if v, err := ptr.Deserialize("t", b); v == nil || *v != (tombstoneDoc{}) || err != nil {
		t.Errorf("round trip = %v, %v", v, err)
	}

	iface := serde.JSON[any]()
	if b, err := iface.Serialize("t", nil); b != nil || err != nil {
		t.Errorf("JSON[any].Serialize(nil) = %q, %v; want nil", b, err)
	}
	var nilDoc *tombstoneDoc
	if b, err := iface.Serialize("t", nilDoc); b != nil || err != nil {
		t.Errorf("JSON[any] of a nil pointer = %q, %v; want nil", b, err)
	}
	if b, err := serde.JSON[tombstoneDoc]().Serialize("t", tombstoneDoc{}); string(b) != `{"id":""}` || err != nil {
		t.Errorf("JSON[T] of a zero struct = %q, %v", b, err)
	}
	if b, err := serde.JSON[[]int]().Serialize("t", nil); string(b) != "null" || err != nil {
		t.Errorf("JSON[[]int] of a nil slice = %q, %v; want null as encoding/json writes it", b, err)
	}
	if v, err := serde.JSON[tombstoneDoc]().Deserialize("t", nil); v != (tombstoneDoc{}) || err != nil {
		t.Errorf("JSON[T].Deserialize(nil) = %v, %v", v, err)
	}
}
