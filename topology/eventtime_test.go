package topology_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

type reading struct {
	AtMs int64 `json:"at_ms"` // 0: unknown
	V    int64 `json:"v"`
}

// TestEventTimeFromTheValue: a source stamps its records with a field of
// the value (no second decode), falling back on the partition's time when
// the field is missing; a negative time goes to the error policy; the
// windowed count sees the extracted times.
func TestEventTimeFromTheValue(t *testing.T) {
	top := topology.New()
	var seenPartitionTimes []int64
	in := topology.StreamFrom(top, topology.Source[string, reading]{
		Topics: []string{"readings"}, Key: serde.String, Value: serde.JSON[reading](),
		EventTime: func(r processor.Record[string, reading], partitionTime time.Time) (time.Time, error) {
			seenPartitionTimes = append(seenPartitionTimes, partitionTime.UnixMilli())
			switch {
			case r.Value.AtMs < 0:
				return time.Time{}, errors.New("negative at_ms")
			case r.Value.AtMs == 0:
				return partitionTime, nil
			}
			return time.UnixMilli(r.Value.AtMs), nil
		},
	})
	topology.WindowedCount(in, topology.TumblingWindows(time.Second), "per-second", serde.String).
		To("counts", topology.TimeWindowedSerde(serde.String, time.Second), serde.Int64)
	d, err := testkit.NewDriver(top, testkit.DriverConfig{Errors: samsa.ErrorPolicies{Processing: samsa.DeadLetter}, DeadLetterTopic: "dlq"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	pipe := testkit.InputTopic(d, "readings", serde.String, serde.JSON[reading]())
	wall := time.UnixMilli(50_000) // the records' own timestamps: ignored
	for _, r := range []reading{{AtMs: 1_500, V: 1}, {AtMs: 0, V: 2}, {AtMs: 2_100, V: 3}, {AtMs: -5, V: 4}} {
		if err := pipe.PipeAt("sensor", r, wall); err != nil {
			t.Fatal(err)
		}
	}
	kvs, err := testkit.OutputTopic(d, "counts", topology.TimeWindowedSerde(serde.String, time.Second), serde.Int64).ReadKeyValues()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, kv := range kvs {
		got = append(got, fmt.Sprintf("%s=%d", kv.Key, kv.Value))
	}
	if strings.Join(got, " ") != "sensor@[1000,2000)=1 sensor@[1000,2000)=2 sensor@[2000,3000)=1" {
		t.Fatalf("windowed counts %v: the windows must follow the extracted times (1.5 s, the partition's 1.5 s, 2.1 s)", got)
	}
	if want := []int64{time.Time{}.UnixMilli(), 1500, 1500, 2100}; fmt.Sprint(seenPartitionTimes) != fmt.Sprint(want) {
		t.Fatalf("partition times given to the extractor: %v, want %v (zero before any record)", seenPartitionTimes, want)
	}
	if d.DeadLettered() != 1 {
		t.Fatalf("%d dead letters, want the record with a negative time", d.DeadLettered())
	}
}

// TestWallClockSource: a WallClock source stamps records with the driver's
// clock, whatever their own timestamps.
func TestWallClockSource(t *testing.T) {
	top := topology.New()
	in := topology.StreamFrom(top, topology.Source[string, string]{Topics: []string{"in"}, Key: serde.String, Value: serde.String, WallClock: true})
	in.To("out", serde.String, serde.String)
	d, err := testkit.NewDriver(top, testkit.DriverConfig{StartTime: time.UnixMilli(7_000)})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := testkit.InputTopic(d, "in", serde.String, serde.String).PipeAt("k", "v", time.UnixMilli(1)); err != nil {
		t.Fatal(err)
	}
	r, err := testkit.OutputTopic(d, "out", serde.String, serde.String).ReadRecord()
	if err != nil {
		t.Fatal(err)
	}
	if r.Timestamp.UnixMilli() != 7_000 {
		t.Fatalf("record stamped %d ms, want the wall clock's 7000", r.Timestamp.UnixMilli())
	}
}

// TestContextWallClock: a processor reads the wall clock from its context:
// the driver's clock in tests.
func TestContextWallClock(t *testing.T) {
	top := topology.New()
	in := topology.StreamOf(top, serde.String, serde.String, "in")
	topology.Process(in, processor.Func[string, string, string, int64](func(ctx processor.Context[string, int64], r processor.Record[string, string]) error {
		ctx.Forward(processor.WithValue(r, ctx.WallClock().UnixMilli()))
		return nil
	}).Supplier()).To("out", serde.String, serde.Int64)
	d, err := testkit.NewDriver(top, testkit.DriverConfig{StartTime: time.UnixMilli(9_000)})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.AdvanceWallClockTime(time.Second); err != nil {
		t.Fatal(err)
	}
	if err := testkit.InputTopic(d, "in", serde.String, serde.String).Pipe("k", "v"); err != nil {
		t.Fatal(err)
	}
	got, err := testkit.OutputTopic(d, "out", serde.String, serde.Int64).ReadValues()
	if err != nil || len(got) != 1 || got[0] != 10_000 {
		t.Fatalf("wall clock seen by the processor: %v (%v), want 10000", got, err)
	}
}
