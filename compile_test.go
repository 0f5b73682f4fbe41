package samsa_test

import (
	"slices"
	"sync"
	"testing"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/topology"
)

func regroupTopology() *topology.Topology {
	top := topology.New()
	s := topology.StreamOf(top, serde.String, serde.String, "clicks")
	g := topology.GroupBy(s, "by-user", func(_, v string) string { return v }, serde.String, serde.String)
	g.To("out", serde.String, serde.String)
	return top
}

// One topology, two Apps: each App runs the topology compiled for its own
// application id, and building the second does not rename the first one's
// internal topics.
func TestOneTopologyTwoApps(t *testing.T) {
	top := regroupTopology()
	a, err := samsa.New(top, samsa.Config{ApplicationID: "app-a", Bootstrap: []string{"127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := samsa.New(top, samsa.Config{ApplicationID: "app-b", Bootstrap: []string{"127.0.0.1:1"}}); err != nil {
		t.Fatal(err)
	}
	got := samsa.TopicsOf(a)
	want := []string{"app-a-by-user-repartition", "app-a-by-user-repartition", "clicks", "out"}
	if !slices.Equal(got, want) {
		t.Fatalf("app-a runs topics %q, want %q", got, want)
	}
}

// Apps built from one topology on several goroutines do not race (run
// with -race).
func TestOneTopologyConcurrentApps(t *testing.T) {
	top := regroupTopology()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			id := "app-" + string(rune('a'+i))
			a, err := samsa.New(top, samsa.Config{ApplicationID: id, Bootstrap: []string{"127.0.0.1:1"}})
			if err != nil {
				t.Error(err)
				return
			}
			if got := samsa.TopicsOf(a); !slices.Contains(got, id+"-by-user-repartition") {
				t.Errorf("%s runs topics %q", id, got)
			}
		})
	}
	wg.Wait()
}
