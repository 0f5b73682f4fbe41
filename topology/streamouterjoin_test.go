package topology_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// leftJoinTopology left-joins "in-a" with "in-b" within 10 ms (grace 5 ms)
// into "out", a missing right side written as "?"; fail, if set, is called
// with every result and fails the record when it returns true.
func leftJoinTopology(fail func(string) bool) *topology.Topology {
	top := topology.New()
	a := topology.StreamOf(top, serde.String, serde.String, "in-a")
	b := topology.StreamOf(top, serde.String, serde.String, "in-b")
	out := topology.LeftJoinStreams(a, b, "j", topology.JoinTimeDifference(10*time.Millisecond).WithGrace(5*time.Millisecond),
		func(_, v1, v2 string, found2 bool) string {
			if !found2 {
				v2 = "?"
			}
			return v1 + "+" + v2
		}, serde.String, serde.String, serde.String)
	if fail != nil {
		out = topology.Process(out, processor.Func[string, string, string, string](
			func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
				if fail(r.Value) {
					return errors.New("downstream failure")
				}
				ctx.Forward(r)
				return nil
			}).Supplier())
	}
	out.To("out", serde.String, serde.String)
	return top
}

// drain reads what o has not read yet as key=value@ms.
func drain(t *testing.T, o *testkit.Output[string, string]) []string {
	t.Helper()
	var out []string
	for !o.IsEmpty() {
		r, err := o.ReadRecord()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s=%s@%d", r.Key, r.Value, r.Timestamp.UnixMilli()))
	}
	return out
}

// TestLeftJoinStreamsWaitingRecordSurvivesRestart: an unmatched record
// waits in the logged shared store across a restart (which starts the
// join's stream time again) and is emitted once, by the first record after
// the restart that closes its window, and never again.
func TestLeftJoinStreamsWaitingRecordSurvivesRestart(t *testing.T) {
	d := aggDriver(t, leftJoinTopology(nil), 1)
	out := testkit.OutputTopic(d, "out", serde.String, serde.String)
	pipeRaw(t, d, "in-a", "k", "a1", 100, "m", "a2", 105)
	pipeRaw(t, d, "in-b", "m", "b1", 110) // a2 joined: no longer waits
	checkOut(t, drain(t, out), []string{"m=a2+b1@110"})
	if err := d.Restart(); err != nil {
		t.Fatal(err)
	}
	pipeRaw(t, d, "in-a", "x", "a3", 115) // a1's window is open until 115
	checkOut(t, drain(t, out), nil)
	pipeRaw(t, d, "in-a", "y", "a4", 116)
	checkOut(t, drain(t, out), []string{"k=a1+?@100"})
	if err := d.Restart(); err != nil {
		t.Fatal(err)
	}
	pipeRaw(t, d, "in-a", "z", "a5", 200)
	checkOut(t, drain(t, out), []string{"x=a3+?@115", "y=a4+?@116"})
	pipeRaw(t, d, "in-b", "k", "b2", 300)
	checkOut(t, drain(t, out), []string{"z=a5+?@200"})
}

// TestLeftJoinStreamsAbortKeepsWaitingRecord: when the record that emits a
// waiting record fails further down, the transaction aborts; the waiting
// record is back in the store and is emitted once when the record is
// processed again.
func TestLeftJoinStreamsAbortKeepsWaitingRecord(t *testing.T) {
	failed := false
	d := aggDriver(t, leftJoinTopology(func(v string) bool {
		if v == "a1+?" && !failed {
			failed = true
			return true
		}
		return false
	}), 1)
	out := testkit.OutputTopic(d, "out", serde.String, serde.String)
	pipeRaw(t, d, "in-a", "k", "a1", 100)
	in := testkit.InputTopic(d, "in-a", serde.String, serde.String)
	if err := in.PipeAt("m", "a2", time.UnixMilli(200)); err == nil {
		t.Fatal("the failing record did not fail the driver")
	}
	if err := d.Restart(); err != nil {
		t.Fatal(err)
	}
	drain(t, out) // what the aborted pipe wrote, if the driver keeps it
	pipeRaw(t, d, "in-a", "m", "a2", 200, "n", "a3", 300)
	checkOut(t, drain(t, out), []string{"k=a1+?@100", "m=a2+?@200"})
}

// TestOuterJoinStreamsAfterKeyChange: a stream re-keyed before an outer
// join is repartitioned by its new key, so that records of a key meet on
// one task whatever partition they came from.
func TestOuterJoinStreamsAfterKeyChange(t *testing.T) {
	top := topology.New()
	a := topology.Map(topology.StreamOf(top, serde.String, serde.String, "in-a"),
		func(k, v string) (string, string) { return v, k }) // keyed by value
	b := topology.StreamOf(top, serde.String, serde.String, "in-b")
	topology.OuterJoinStreams(a, b, "j", topology.JoinTimeDifference(10*time.Millisecond),
		func(k, v1, v2 string, found1, found2 bool) string {
			if !found1 {
				v1 = "?"
			}
			if !found2 {
				v2 = "?"
			}
			return v1 + "+" + v2
		}, serde.String, serde.String, serde.String).To("out", serde.String, serde.String)
	desc, err := top.Describe()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(desc.String(), "j-left-repartition") {
		t.Errorf("no repartition topic for the re-keyed side:\n%s", desc)
	}
	d, err := testkit.NewDriver(top, testkit.DriverConfig{Partitions: map[string]int32{"in-a": 3, "in-b": 4}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	keys := []string{"k0", "k1", "k2", "k3", "k4", "k5"}
	for i, k := range keys {
		pipeRaw(t, d, "in-a", "order"+k, k, 100+i)
		if i%2 == 0 {
			pipeRaw(t, d, "in-b", k, "b"+k, 102+i)
		}
	}
	got, err := testkit.ReadKeyValuesToMap(testkit.OutputTopic(d, "out", serde.String, serde.String))
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		if want := "order" + k + "+b" + k; i%2 == 0 && got[k] != want {
			t.Errorf("%s joined %q, want %q", k, got[k], want)
		}
		if i%2 == 1 && got[k] != "" {
			t.Errorf("%s emitted %q before its window closed", k, got[k])
		}
	}
}
