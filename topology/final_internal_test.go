package topology

import (
	"testing"

	"github.com/samsa-streams/samsa/changelog"
	"github.com/samsa-streams/samsa/internal/engine"
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
	s.storeEvent(engine.StoreRestored) // as after changelog records were restored
	check("after a restore", -1, 15)
}

// TestStreamClockFollowsTransactions: the stream time of windowed and
// session aggregations (without EmitFinal) goes back with an aborted
// transaction, so that a task that aborts and processes the same records
// again does not judge them late by a time that was rolled back; a restore
// starts it again.
func TestStreamClockFollowsTransactions(t *testing.T) {
	e, err := changelog.NewEngine(changelog.Options{ApplicationID: "app", InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	raw, err := e.Open(processor.TaskID{}, "w")
	if err != nil {
		t.Fatal(err)
	}
	c := newStreamClock(raw)
	c.now = 20
	if err := raw.Commit(); err != nil {
		t.Fatal(err)
	}
	c.now = 60_000
	raw.Abort()
	if c.now != 20 {
		t.Fatalf("stream time after an abort: %d, want 20 (its value at the last commit)", c.now)
	}
	c.now = 30
	if err := raw.Commit(); err != nil {
		t.Fatal(err)
	}
	if c.committed != 30 {
		t.Fatalf("committed stream time %d, want 30", c.committed)
	}
}
