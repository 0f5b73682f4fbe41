package topology_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// dedupDriver builds in -> replay -> Deduplicate("seen-ids") -> out on a
// Driver. The replay processor turns a command into the record that reaches
// Deduplicate, so that a test can choose its origin, as the runtime would
// set it on a redelivery:
//
//	"rec:ID:OFF"    a record with value ID read from "in" partition 0 at offset OFF
//	"fan:ID:OFF"    two records with value ID derived from that one input record
//	"tick:ID"       a record with value ID and no origin (as a punctuator makes)
//	"legacy:ID"     writes ID into the store with the value int64 1, as the
//	                Deduplicate of earlier releases stored it, and forwards nothing
func dedupDriver(t *testing.T) (*testkit.Input[string, string], *testkit.Output[string, string]) {
	t.Helper()
	top := topology.New()
	s := topology.StreamOf(top, serde.String, serde.String, "in")
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	replay := topology.Process(s, processor.Func[string, string, string, string](func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
		f := strings.Split(r.Value, ":")
		origin := func() processor.Origin {
			off, err := strconv.ParseInt(f[2], 10, 64)
			if err != nil {
				t.Fatalf("bad command %q", r.Value)
			}
			return processor.Origin{Topic: "in", Partition: 0, Offset: off}
		}
		switch f[0] {
		case "rec":
			ctx.Forward(processor.SourceRecord(r.Key, f[1], at, nil, origin()))
		case "fan":
			ctx.Forward(processor.SourceRecord(r.Key, f[1], at, nil, origin()))
			ctx.Forward(processor.SourceRecord(r.Key, f[1], at, nil, origin()))
		case "tick":
			ctx.Forward(processor.NewRecord(r.Key, f[1], at))
		case "legacy":
			st, err := processor.GetWindowStore[string, int64](ctx, "seen-ids")
			if err != nil {
				return err
			}
			return st.Put(f[1], 1, at)
		default:
			t.Fatalf("bad command %q", r.Value)
		}
		return nil
	}).Supplier())
	topology.Deduplicate(replay, "seen-ids", func(r processor.Record[string, string]) string { return r.Value }, time.Hour).
		To("out", serde.String, serde.String)
	top.ConnectStore("seen-ids", replay.Node())
	d, err := testkit.NewDriver(top, testkit.DriverConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return testkit.InputTopic(d, "in", serde.String, serde.String), testkit.OutputTopic(d, "out", serde.String, serde.String)
}

// pipe sends each command and returns the ids forwarded by Deduplicate.
func pipe(t *testing.T, in *testkit.Input[string, string], out *testkit.Output[string, string], cmds ...string) []string {
	t.Helper()
	for _, c := range cmds {
		if err := in.Pipe("k", c); err != nil {
			t.Fatalf("pipe %q: %v", c, err)
		}
	}
	got, err := out.ReadValues()
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func expect(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: forwarded %q, want %q", what, got, want)
	}
}

// TestDeduplicateRedelivery: the id of the record at offset 0 is in the
// store (as a restore from the changelog leaves it after a crash that lost
// the output), and the same record is delivered again: it must be forwarded
// again, or it is lost. Another record with the same id is a duplicate.
func TestDeduplicateRedelivery(t *testing.T) {
	in, out := dedupDriver(t)
	expect(t, "first delivery", pipe(t, in, out, "rec:a:0"), "a")
	// A redelivery follows a restart: the task saw other records, or is new.
	expect(t, "other record", pipe(t, in, out, "rec:b:7"), "b")
	expect(t, "redelivery of offset 0", pipe(t, in, out, "rec:a:0"), "a")
	expect(t, "another record with id a", pipe(t, in, out, "rec:a:1"), []string(nil)...)
	expect(t, "redelivery of offset 0 after the duplicate", pipe(t, in, out, "rec:a:0"), "a")
	expect(t, "another record with id b", pipe(t, in, out, "rec:b:8", "rec:b:0"), []string(nil)...)
}

// TestDeduplicateFanOut: one input record that yields the same id twice is
// forwarded once, also when it is delivered again.
func TestDeduplicateFanOut(t *testing.T) {
	in, out := dedupDriver(t)
	expect(t, "first delivery", pipe(t, in, out, "fan:a:0"), "a")
	expect(t, "other record", pipe(t, in, out, "rec:b:1"), "b")
	expect(t, "redelivery", pipe(t, in, out, "fan:a:0"), "a")
	expect(t, "another record", pipe(t, in, out, "fan:a:2"), []string(nil)...)
}

// TestDeduplicateWithoutOrigin: records without an origin (built by a
// punctuator) keep the old behaviour: an id seen before is a duplicate,
// whoever carried it.
func TestDeduplicateWithoutOrigin(t *testing.T) {
	in, out := dedupDriver(t)
	expect(t, "first", pipe(t, in, out, "tick:a"), "a")
	expect(t, "again", pipe(t, in, out, "tick:a"), []string(nil)...)
	expect(t, "a record with origin", pipe(t, in, out, "rec:a:0", "rec:a:0"), []string(nil)...)
	expect(t, "record, then tick", pipe(t, in, out, "rec:b:1", "tick:b"), "b")
}

// TestDeduplicateLegacyValue: an id stored by an earlier release (value
// int64 1, no origin) means "seen on some other record": a duplicate.
func TestDeduplicateLegacyValue(t *testing.T) {
	in, out := dedupDriver(t)
	expect(t, "legacy id", pipe(t, in, out, "legacy:a", "rec:a:0", "rec:b:5", "rec:a:0", "tick:a"), "b")
}
