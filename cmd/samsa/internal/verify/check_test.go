package verify

import (
	"compress/gzip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
)

// runTicker pipes n records per partition, one every step of event time,
// through the verified topology in a testkit.Driver and returns the inputs
// and the ticks as the verifier reads them.
func runTicker(t *testing.T, parts int32, n int, step time.Duration) ([]Input, map[int32][]*kgo.Record) {
	t.Helper()
	topics := Names("unit")
	d, err := testkit.NewDriver(Topology(topics), testkit.DriverConfig{DefaultPartitions: parts})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, topics.Input, serde.String, serde.String)
	base := time.UnixMilli(1_700_000_000_123)
	var inputs []Input
	i := 0
	for k := range n {
		for p := range parts {
			v := strconv.Itoa(i)
			ts := base.Add(time.Duration(k) * step)
			key := "k" + strconv.Itoa(i%100)
			if err := in.PipeRaw([]byte(key), []byte(v), ts, nil, p); err != nil {
				t.Fatal(err)
			}
			inputs = append(inputs, Input{Partition: p, Offset: int64(k), Key: key, Value: v, Timestamp: ts})
			i++
		}
	}
	out := testkit.OutputTopic(d, topics.Ticks, serde.String, serde.JSON[Tick]())
	ticks := map[int32][]*kgo.Record{}
	for !out.IsEmpty() {
		r, err := out.ReadRecord()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := serde.JSON[Tick]().Serialize("", r.Value)
		ticks[0] = append(ticks[0], &kgo.Record{Key: []byte(r.Key), Value: b, Offset: int64(len(ticks[0]))})
	}
	return inputs, ticks
}

func decodeTicks(t *testing.T, recs []*kgo.Record) []Tick {
	t.Helper()
	var ts []Tick
	for _, r := range recs {
		tk, err := serde.JSON[Tick]().Deserialize("", r.Value)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, tk)
	}
	return ts
}

func encodeTicks(ts []Tick) []*kgo.Record {
	var out []*kgo.Record
	for i, tk := range ts {
		b, _ := serde.JSON[Tick]().Serialize("", tk)
		out = append(out, &kgo.Record{Key: []byte("p" + strconv.Itoa(int(tk.Partition))), Value: b, Offset: int64(i)})
	}
	return out
}

func TestTickerOutputPassesTheCheck(t *testing.T) {
	inputs, ticks := runTicker(t, 3, 400, 37*time.Millisecond) // ~15 s of stream time per partition
	var pr problems
	rep := CheckTicks(inputs, ticks, &pr)
	if rep.Duplicates != 0 || rep.Lost != 0 || rep.Wrong != 0 || len(pr.list) != 0 {
		t.Fatalf("a clean run fails the tick check: %+v %q", rep, pr.list)
	}
	if rep.Ticks < 3*13 {
		t.Fatalf("want about one tick per second per partition, got %d", rep.Ticks)
	}
}

// simulate rewrites the ticks of partition 0 as a buggy runtime would
// produce them, and returns the check's report.
func simulate(t *testing.T, edit func(ts []Tick) []Tick) (TickReport, []string) {
	t.Helper()
	inputs, ticks := runTicker(t, 1, 300, 40*time.Millisecond)
	ts := edit(decodeTicks(t, ticks[0]))
	var pr problems
	rep := CheckTicks(inputs, map[int32][]*kgo.Record{0: encodeTicks(ts)}, &pr)
	return rep, pr.list
}

func TestCheckTicksFindsALostPunctuation(t *testing.T) {
	// A punctuation fired inside an aborted transaction and did not fire
	// again: its state was rolled back, so the next tick of the same
	// processor names the bucket before the lost one.
	rep, list := simulate(t, func(ts []Tick) []Tick {
		lost := 4
		next := ts[lost+1]
		next.Prev, next.Seq, next.PrevInst = ts[lost-1].Bucket, ts[lost].Seq, ts[lost-1].Inst
		for i := lost + 2; i < len(ts); i++ {
			ts[i].Seq--
		}
		return append(append(ts[:lost:lost], next), ts[lost+2:]...)
	})
	if rep.Lost != 1 || rep.Duplicates != 0 || rep.Wrong != 0 {
		t.Fatalf("want one lost punctuation, got %+v %q", rep, list)
	}
	if !strings.Contains(strings.Join(list, "\n"), "lost a punctuation") {
		t.Fatalf("the problem does not say a punctuation was lost: %q", list)
	}
}

func TestCheckTicksFindsATickEmittedTwice(t *testing.T) {
	rep, list := simulate(t, func(ts []Tick) []Tick {
		return append(append(ts[:6:6], ts[5]), ts[6:]...)
	})
	if rep.Duplicates != 1 {
		t.Fatalf("want one duplicate tick, got %+v %q", rep, list)
	}
}

func TestCheckTicksFindsAMissingCommittedTick(t *testing.T) {
	rep, list := simulate(t, func(ts []Tick) []Tick {
		return append(ts[:3:3], ts[4:]...)
	})
	if rep.Lost == 0 {
		t.Fatalf("want a lost tick, got %+v %q", rep, list)
	}
}

func TestCheckTicksFindsAWrongCount(t *testing.T) {
	rep, list := simulate(t, func(ts []Tick) []Tick {
		ts[2].Count++
		return ts
	})
	if rep.Wrong != 1 {
		t.Fatalf("want one wrong tick, got %+v %q", rep, list)
	}
}

func TestCheckTicksFindsStoppedTicks(t *testing.T) {
	rep, list := simulate(t, func(ts []Tick) []Tick { return ts[:2] })
	if rep.Lost != 1 || !strings.Contains(strings.Join(list, "\n"), "stops ticking") {
		t.Fatalf("want the stopped ticks found, got %+v %q", rep, list)
	}
}

func TestCheckEchoPoison(t *testing.T) {
	base := time.UnixMilli(0)
	inputs := []Input{
		{Partition: 0, Offset: 0, Key: "k0", Value: "0", Timestamp: base},
		{Partition: 0, Offset: 1, Key: "k1", Value: "1" + PoisonSuffix, Timestamp: base},
		{Partition: 0, Offset: 2, Key: "k2", Value: "2", Timestamp: base},
	}
	rec := func(in Input) *kgo.Record {
		return &kgo.Record{Key: []byte(in.Key), Value: []byte(EchoValue(in.Value))}
	}
	var pr problems
	full := map[int32][]*kgo.Record{0: {rec(inputs[0]), rec(inputs[1]), rec(inputs[2])}}
	if rep := CheckEcho(inputs, full, nil, &pr); rep.Lost != 0 || rep.WrongParts != 0 || rep.Duplicates != 0 || len(full[0][1].Value) != PoisonSize {
		t.Fatalf("complete echo: %+v %q", rep, pr.list)
	}
	missing := map[int32][]*kgo.Record{0: {rec(inputs[0]), rec(inputs[2])}}
	if rep := CheckEcho(inputs, missing, nil, &pr); rep.Lost != 1 || rep.WrongParts != 1 {
		t.Fatalf("the poison's echo is missing: want lost 1, got %+v", rep)
	}
	isPoison := func(in Input) bool { return in.Offset == 1 }
	if rep := CheckEcho(inputs, missing, isPoison, &pr); rep.Lost != 0 || rep.WrongParts != 0 {
		t.Fatalf("dead-lettered poison excluded: %+v", rep)
	}
	if rep := CheckEcho(inputs, full, isPoison, &pr); rep.Duplicates != 1 || rep.WrongParts != 1 {
		t.Fatalf("an echo of a dead-lettered poison is a duplicate: %+v", rep)
	}
}

func TestResultFailsOnSelfExit(t *testing.T) {
	r := Result{Inputs: 1, Echo: 1, AggUpdates: 1, GroupUpdates: 1, Ticks: 1}
	if !r.OK() {
		t.Fatalf("clean result not OK: %s", r)
	}
	r.SelfExits = 1
	if r.OK() || !strings.Contains(r.String(), "self-exits=1") || !strings.HasSuffix(r.String(), "verdict=FAIL") {
		t.Fatalf("a self-exit must fail the run: %s", r)
	}
}

func TestPoisonEchoIsIncompressible(t *testing.T) {
	v := EchoValue("17" + PoisonSuffix)
	if len(v) != PoisonSize || v != EchoValue("17"+PoisonSuffix) || !strings.HasPrefix(v, "17"+PoisonSuffix) {
		t.Fatalf("poison echo: %d bytes, deterministic %v", len(v), v == EchoValue("17"+PoisonSuffix))
	}
	var buf strings.Builder
	w := gzip.NewWriter(&buf)
	_, _ = w.Write([]byte(v))
	_ = w.Close()
	if buf.Len() < 4*SmallMessageBytes {
		t.Fatalf("the poison echo compresses to %d bytes: the broker would accept it under a %d-byte limit", buf.Len(), SmallMessageBytes)
	}
}
