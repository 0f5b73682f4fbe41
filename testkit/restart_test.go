package testkit_test

import (
	"errors"
	"testing"

	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// failingCount counts per key into "counts" and forwards every count to
// "out"; a record with value "bad" fails after its count was stored and
// forwarded.
func failingCount(t *testing.T) *testkit.Driver {
	top := topology.New()
	s := topology.StreamOf(top, serde.String, serde.String, "in")
	topology.AddProcessor(top, "count", processor.Func[string, string, string, int64](
		func(ctx processor.Context[string, int64], r processor.Record[string, string]) error {
			st, err := processor.GetKeyValueStore[string, int64](ctx, "counts")
			if err != nil {
				return err
			}
			n, _, err := st.Get(r.Key)
			if err != nil {
				return err
			}
			if err := st.Put(r.Key, n+1); err != nil {
				return err
			}
			ctx.Forward(processor.WithValue(r, n+1))
			if r.Value == "bad" {
				return errors.New("bad value")
			}
			return nil
		}).Supplier(), s.Node())
	topology.AddKeyValueStore(top, topology.KeyValueStore[string, int64]{Name: "counts", Key: serde.String, Value: serde.Int64}, "count")
	topology.AddSink(top, "sink", topology.Sink[string, int64]{Topic: "out", Key: serde.String, Value: serde.Int64}, "count")
	return newDriver(t, top, testkit.DriverConfig{})
}

// A failed pipe is an aborted transaction: its store writes and its output
// records are dropped, and the driver fails every pipe until Restart, which
// starts the tasks again over the committed state.
func TestDriverAbortDropsOutputsAndRestartGoesOn(t *testing.T) {
	d := failingCount(t)
	in := testkit.InputTopic(d, "in", serde.String, serde.String)
	out := testkit.OutputTopic(d, "out", serde.String, serde.Int64)
	if err := in.Pipe("k", "good"); err != nil {
		t.Fatal(err)
	}
	if err := in.Pipe("k", "bad"); err == nil {
		t.Fatal("the failing record did not fail the driver")
	}
	if err := in.Pipe("k", "good"); err == nil {
		t.Fatal("a pipe after a failure succeeded without Restart")
	}
	if err := d.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := in.Pipe("k", "good"); err != nil {
		t.Fatalf("pipe after Restart: %v", err)
	}
	got, err := out.ReadValues()
	if err != nil {
		t.Fatal(err)
	}
	// 1 committed; the aborted 2 neither stored nor visible; then 2 again.
	if len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Fatalf("out = %v, want [1 2]", got)
	}
	st, err := testkit.KeyValueStoreOf[string, int64](d, "counts", 0)
	if err != nil {
		t.Fatal(err)
	}
	if n, _, err := st.Get("k"); err != nil || n != 2 {
		t.Fatalf("count after Restart = %d (%v), want 2", n, err)
	}
}
