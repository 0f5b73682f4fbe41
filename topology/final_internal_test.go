package topology

import (
	"testing"

	"github.com/samsa-streams/samsa/changelog"
	"github.com/samsa-streams/samsa/internal/stores"
	"github.com/samsa-streams/samsa/processor"
)

// TestEmitStateFollowsTransactions: the stream time and emitted close time
// of final results go back to the last commit on an abort, as the store
// does (an App processes the aborted records again with the same task),
// and after a restore the stream time starts again while the close time
// is read from the store.
func TestEmitStateFollowsTransactions(t *testing.T) {
	e, err := changelog.NewEngine(changelog.Options{ApplicationID: "app", InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	raw, err := e.Open(processor.TaskID{}, "w-emitted")
	if err != nil {
		t.Fatal(err)
	}
	s := newEmitState(raw).(*emitState)
	check := func(what string, observed, emitted int64) {
		t.Helper()
		if err := s.load(); err != nil {
			t.Fatal(err)
		}
		if s.observed != observed || s.emitted != emitted {
			t.Fatalf("%s: stream time %d, emitted %d; want %d, %d", what, s.observed, s.emitted, observed, emitted)
		}
	}
	check("new", -1, -1)
	s.observed = 20
	if err := s.setEmitted(15); err != nil {
		t.Fatal(err)
	}
	if err := raw.Commit(); err != nil {
		t.Fatal(err)
	}
	s.observed = 40
	if err := s.setEmitted(35); err != nil {
		t.Fatal(err)
	}
	check("before the abort", 40, 35)
	raw.Abort()
	check("after the abort", 20, 15)
	s.storeEvent(stores.StoreRestored) // as after changelog records were restored
	check("after a restore", -1, 15)
}
