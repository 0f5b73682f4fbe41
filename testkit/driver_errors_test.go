package testkit_test

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

type order struct {
	Qty int `json:"qty"`
}

// orderTopology reads JSON orders and rejects a negative quantity with a
// processing error.
func orderTopology() *topology.Topology {
	top := topology.New()
	in := topology.StreamOf(top, serde.String, serde.JSON[order](), "orders")
	topology.MapValuesErr(in, func(_ string, o order) (int64, error) {
		if o.Qty < 0 {
			return 0, fmt.Errorf("negative quantity %d", o.Qty)
		}
		return int64(o.Qty), nil
	}).To("quantities", serde.String, serde.Int64)
	return top
}

func pipeOrders(t *testing.T, d *testkit.Driver) []error {
	t.Helper()
	in := testkit.InputTopic(d, "orders", serde.String, serde.JSON[order]())
	raw := testkit.InputTopic(d, "orders", serde.String, serde.String)
	return []error{
		in.Pipe("a", order{Qty: 1}),
		raw.Pipe("b", `{"qty": `),    // malformed: a deserialization error
		in.Pipe("c", order{Qty: -5}), // a processing error
		in.Pipe("d", order{Qty: 4}),
	}
}

func TestDriverDeadLettersLikeAnApp(t *testing.T) {
	d := newDriver(t, orderTopology(), testkit.DriverConfig{
		Errors:          samsa.ErrorPolicies{Deserialization: samsa.DeadLetter, Processing: samsa.DeadLetter},
		DeadLetterTopic: "orders-dlq",
	})
	for i, err := range pipeOrders(t, d) {
		if err != nil {
			t.Fatalf("pipe %d: %v", i, err)
		}
	}
	got, err := testkit.OutputTopic(d, "quantities", serde.String, serde.Int64).ReadValues()
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[1 4]" {
		t.Fatalf("quantities %v, want [1 4]", got)
	}
	dlq := testkit.OutputTopic(d, "orders-dlq", serde.String, serde.String)
	var kinds []string
	for !dlq.IsEmpty() {
		r, err := dlq.ReadRecord()
		if err != nil {
			t.Fatal(err)
		}
		h := map[string]string{}
		for _, x := range r.Headers {
			h[x.Key] = string(x.Value)
		}
		kinds = append(kinds, r.Key+":"+h[samsa.HeaderErrorKind])
		if h[samsa.HeaderSourceTopic] != "orders" || h[samsa.HeaderErrorMessage] == "" {
			t.Errorf("dead letter %s lacks its headers: %v", r.Key, h)
		}
	}
	if strings.Join(kinds, ",") != "b:deserialization,c:processing" {
		t.Fatalf("dead letters %v, want b:deserialization,c:processing", kinds)
	}
	if d.DeadLettered() != 2 || d.Skipped() != 0 {
		t.Fatalf("DeadLettered %d Skipped %d, want 2 and 0", d.DeadLettered(), d.Skipped())
	}
}

func TestDriverSkipsAndFails(t *testing.T) {
	d := newDriver(t, orderTopology(), testkit.DriverConfig{Errors: samsa.ErrorPolicies{Deserialization: samsa.Skip, Processing: samsa.Skip}})
	for i, err := range pipeOrders(t, d) {
		if err != nil {
			t.Fatalf("pipe %d: %v", i, err)
		}
	}
	if d.Skipped() != 2 {
		t.Fatalf("Skipped %d, want 2", d.Skipped())
	}
	// The default policy fails the pipe with the error.
	d = newDriver(t, orderTopology(), testkit.DriverConfig{})
	errs := pipeOrders(t, d)
	if errs[0] != nil || errs[1] == nil || !strings.Contains(errs[1].Error(), "deserialization") {
		t.Fatalf("default policy: pipe errors %v, want the second to fail with a deserialization error", errs)
	}
	if _, err := testkit.NewDriver(orderTopology(), testkit.DriverConfig{Errors: samsa.ErrorPolicies{Processing: samsa.DeadLetter}}); err == nil ||
		!strings.Contains(err.Error(), "DeadLetterTopic") {
		t.Fatalf("a DeadLetter policy without a topic: %v, want an error naming DeadLetterTopic", err)
	}
}

func TestDriverRefusesUnknownInputTopic(t *testing.T) {
	d := newDriver(t, orderTopology(), testkit.DriverConfig{})
	err := testkit.InputTopic(d, "order", serde.String, serde.String).Pipe("k", "v")
	if !errors.Is(err, testkit.ErrUnknownTopic) || !strings.Contains(err.Error(), `"order"`) || !strings.Contains(err.Error(), "orders") {
		t.Fatalf("pipe into an unknown topic: %v, want ErrUnknownTopic naming it and the topics read", err)
	}
}

// TestStoreTypeErrorsNameDeclaredTypes: looking a store up with the wrong
// types says what the store was declared as, not samsa's internal types.
func TestStoreTypeErrorsNameDeclaredTypes(t *testing.T) {
	top := topology.New()
	in := topology.StreamOf(top, serde.String, serde.String, "in")
	topology.Count(in, "counts", serde.String)
	topology.WindowedCount(in, topology.TumblingWindows(time.Minute), "per-minute", serde.String)
	p := topology.Process(in, processor.Func[string, string, string, string](func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
		_, err := processor.GetKeyValueStore[string, int32](ctx, "counts")
		return err
	}).Supplier())
	top.ConnectStore("counts", p.Node())
	d, err := testkit.NewDriver(top, testkit.DriverConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := testkit.KeyValueStoreOf[string, int32](d, "counts", 0); err == nil ||
		!strings.Contains(err.Error(), "is a KeyValueStore[string, int64], not a KeyValueStore[string, int32]") {
		t.Errorf("KeyValueStoreOf with the wrong value type: %v", err)
	}
	if _, err := testkit.KeyValueStoreOf[string, int64](d, "per-minute", 0); err == nil ||
		!strings.Contains(err.Error(), "is a WindowStore[string, int64], not a KeyValueStore[string, int64]") {
		t.Errorf("KeyValueStoreOf of a window store: %v", err)
	}
	if _, err := testkit.SessionStoreOf[string, int64](d, "per-minute", 0); err == nil || !strings.Contains(err.Error(), "WindowStore[string, int64]") {
		t.Errorf("SessionStoreOf of a window store: %v", err)
	}
	err = testkit.InputTopic(d, "in", serde.String, serde.String).Pipe("k", "v")
	if err == nil || !strings.Contains(err.Error(), `store "counts" is a KeyValueStore[string, int64], not a KeyValueStore[string, int32]`) {
		t.Errorf("processor.GetKeyValueStore with the wrong value type: %v", err)
	}
}
