package topology_test

import (
	"strings"
	"testing"

	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// TestNamedNodes: Named replaces the generated names of a source, a filter,
// a key change and an aggregation; Describe shows them with their
// parents; the renamed key change still repartitions before the count.
func TestNamedNodes(t *testing.T) {
	top := topology.New()
	in := topology.StreamOf(top, serde.String, serde.String, "in").Named("read-in")
	kept := in.Filter(func(_, v string) bool { return v != "" }).Named("drop-empty")
	byValue := topology.Map(kept, func(k, v string) (string, string) { return v, k }).Named("by-value")
	topology.Count(byValue, "counts", serde.String).Named("count-by-value").
		To("out", serde.String, serde.Int64)
	desc, err := top.Describe()
	if err != nil {
		t.Fatal(err)
	}
	s := desc.String()
	for _, want := range []string{"Source: read-in", "Processor: drop-empty", "Processor: by-value", "Processor: count-by-value", "<-- read-in", "<-- drop-empty"} {
		if !strings.Contains(s, want) {
			t.Errorf("Describe lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "KSTREAM-FILTER") || strings.Contains(s, "KSTREAM-MAP") {
		t.Errorf("Describe still shows a generated name of a named node:\n%s", s)
	}
	d := aggDriver(t, top, 2)
	pipeRaw(t, d, "in", "k1", "a", 1, "k2", "a", 2, "k3", "", 3, "k4", "b", 4, "k5", "a", 5)
	checkOut(t, readAll(t, d, "out", serde.Int64), []string{"a=1@1", "a=2@2", "b=1@4", "a=3@5"})
}

// TestNamedErrors: naming a node that was named already, or with a taken
// name, is a validation error naming both.
func TestNamedErrors(t *testing.T) {
	top := topology.New()
	in := topology.StreamOf(top, serde.String, serde.String, "in")
	branches := in.Split("split-").Branch(func(_, v string) bool { return v == "" }, "empty").DefaultBranch("rest")
	branches["split-empty"].Named("other")
	in.Filter(func(string, string) bool { return true }).Named("split-rest")
	err := top.Validate()
	if err == nil || !strings.Contains(err.Error(), `cannot name node "split-empty" "other": only a node the DSL named`) ||
		!strings.Contains(err.Error(), `duplicate node name "split-rest"`) {
		t.Fatalf("Validate = %v, want both naming errors", err)
	}
	if _, err := testkit.NewDriver(top, testkit.DriverConfig{}); err == nil {
		t.Fatal("NewDriver accepted a topology with naming errors")
	}
}
