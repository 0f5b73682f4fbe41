package topology

import (
	"slices"
	"testing"
	"time"

	"github.com/samsa-streams/samsa/serde"
)

// TestSlidingLateTopicIsASideTopic: the late-records topic of a sliding
// aggregation is one of its node's side topics, which the App checks at
// startup as it checks a sink topic.
func TestSlidingLateTopicIsASideTopic(t *testing.T) {
	top := New()
	in := StreamOf(top, serde.String, serde.String, "in")
	out := SlidingCount(in, SlidingWindows(time.Second).LateRecordsTo("late"), "counts", serde.String)
	n, ok := top.g.Node(out.Node())
	if !ok || !slices.Equal(n.SideTopics, []string{"late"}) {
		t.Fatalf("side topics of %q = %v, want [late]", out.Node(), n)
	}
}
