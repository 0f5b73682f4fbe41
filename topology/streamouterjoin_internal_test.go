package topology

import (
	"slices"
	"testing"
	"time"

	"github.com/samsa-streams/samsa/serde"
)

// TestOuterJoinStoresLogged: the shared store of waiting records is logged
// (so that a restart or an abort neither loses nor repeats one) and read by
// both sides of the join, next to the two window stores, named as Kafka
// Streams names them.
func TestOuterJoinStoresLogged(t *testing.T) {
	for _, c := range []struct {
		outer  bool
		stores []string
	}{
		{false, []string{"j-this-join-store", "j-outer-other-join-store", "j-left-shared-join-store"}},
		{true, []string{"j-outer-this-join-store", "j-outer-other-join-store", "j-outer-shared-join-store"}},
	} {
		top := New()
		a := StreamOf(top, serde.String, serde.String, "in-a")
		b := StreamOf(top, serde.String, serde.String, "in-b")
		w := JoinTimeDifference(10 * time.Millisecond)
		if c.outer {
			OuterJoinStreams(a, b, "j", w, func(_, v1, v2 string, _, _ bool) string { return v1 + v2 }, serde.String, serde.String, serde.String)
		} else {
			LeftJoinStreams(a, b, "j", w, func(_, v1, v2 string, _ bool) string { return v1 + v2 }, serde.String, serde.String, serde.String)
		}
		if len(top.g.Stores) != len(c.stores) {
			t.Errorf("outer %v: %d stores, want %v", c.outer, len(top.g.Stores), c.stores)
		}
		for _, name := range c.stores {
			def, ok := top.g.Stores[name]
			switch {
			case !ok:
				t.Errorf("outer %v: no store %q", c.outer, name)
			case !def.Logged:
				t.Errorf("outer %v: store %q is not logged", c.outer, name)
			case len(def.Processors) != 2 || slices.Contains(def.Processors, ""):
				t.Errorf("outer %v: store %q is connected to %v, want both sides", c.outer, name, def.Processors)
			}
		}
	}
}
