package testkit_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// describe formats a record read from an output topic with its nulls.
func describe[V any](r processor.Record[string, V]) string {
	k := fmt.Sprintf("%q", r.Key)
	if r.KeyIsNull() {
		k = "null"
	}
	v := fmt.Sprintf("%v", r.Value)
	if r.IsTombstone() {
		v = "null"
	}
	return k + "=" + v
}

func readAll[V any](t *testing.T, o *testkit.Output[string, V]) []string {
	t.Helper()
	var out []string
	for !o.IsEmpty() {
		r, err := o.ReadRecord()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, describe(r))
	}
	return out
}

// TestDriverTombstonePassesThrough: a tombstone and a null key piped into an
// input topic arrive as a tombstone and a null key in the output topic, next
// to an empty string that stays an empty string.
func TestDriverTombstonePassesThrough(t *testing.T) {
	top := topology.New()
	topology.StreamOf(top, serde.String, serde.String, "in").
		Filter(func(_, _ string) bool { return true }).
		To("out", serde.String, serde.String)
	d := newDriver(t, top, testkit.DriverConfig{DefaultPartitions: 2})
	in := testkit.InputTopic(d, "in", serde.String, serde.String)
	ts := time.UnixMilli(1)
	if err := in.PipeTombstone("a", ts); err != nil {
		t.Fatal(err)
	}
	if err := in.PipeRecord(processor.NewRecord("", "v", ts).WithNullKey(), 1); err != nil {
		t.Fatal(err)
	}
	if err := in.PipeRecord(processor.NewRecord("", "", ts).WithNullKey().AsTombstone(), 0); err != nil {
		t.Fatal(err)
	}
	if err := in.Pipe("b", ""); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, testkit.OutputTopic(d, "out", serde.String, serde.String))
	want := []string{`"a"=null`, `null=v`, `null=null`, `"b"=`}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("out = %q, want %q", got, want)
	}
}

type doc struct {
	N int `json:"n"`
}

// TestDriverJSONNilPointerIsATombstone: with serde.JSON[*T] a tombstone is
// a nil pointer for a mapper, and a mapper that returns a nil pointer
// writes a tombstone, while a String MapValues turns a tombstone into a
// value (documented: MapValues makes values).
func TestDriverJSONNilPointerIsATombstone(t *testing.T) {
	top := topology.New()
	s := topology.StreamOf(top, serde.String, serde.JSON[*doc](), "in")
	var sawNil int
	topology.MapValues(s, func(_ string, v *doc) *doc {
		if v == nil {
			sawNil++
			return nil
		}
		if v.N < 0 {
			return nil // a mapper's tombstone
		}
		return &doc{N: v.N * 2}
	}).To("out", serde.String, serde.JSON[*doc]())
	topology.MapValues(s, func(_ string, v *doc) string { return "" }).To("strings", serde.String, serde.String)
	d := newDriver(t, top, testkit.DriverConfig{})
	in := testkit.InputTopic(d, "in", serde.String, serde.JSON[*doc]())
	for _, v := range []*doc{{N: 1}, nil, {N: -1}} {
		if err := in.Pipe("k", v); err != nil {
			t.Fatal(err)
		}
	}
	if err := in.PipeRaw([]byte("k"), nil, time.UnixMilli(0), nil, -1); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, testkit.OutputTopic(d, "out", serde.String, serde.JSON[*doc]()))
	want := []string{`"k"=&{2}`, `"k"=null`, `"k"=null`, `"k"=null`}
	if fmt.Sprint(got) != fmt.Sprint(want) || sawNil != 2 {
		t.Fatalf("out = %q (mapper saw nil %d times), want %q (2)", got, sawNil, want)
	}
	strs := readAll(t, testkit.OutputTopic(d, "strings", serde.String, serde.String))
	if fmt.Sprint(strs) != fmt.Sprint([]string{`"k"=`, `"k"=`, `"k"=`, `"k"=`}) {
		t.Fatalf("strings = %q, want four empty values, none a tombstone", strs)
	}
}
