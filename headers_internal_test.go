package samsa

import (
	"errors"
	"fmt"
	"testing"

	"github.com/samsa-streams/samsa/internal/engine"
	"github.com/samsa-streams/samsa/internal/runtime"
)

// The dead-letter header names users read are the ones the engine writes.
func TestHeaderNamesMatchTheEngine(t *testing.T) {
	for _, c := range [][2]string{
		{HeaderErrorMessage, engine.HeaderErrorMessage},
		{HeaderErrorKind, engine.HeaderErrorKind},
		{HeaderSourceTopic, engine.HeaderSourceTopic},
		{HeaderSourcePartition, engine.HeaderSourcePartition},
		{HeaderSourceOffset, engine.HeaderSourceOffset},
		{HeaderApplicationID, engine.HeaderApplicationID},
		{HeaderTask, engine.HeaderTask},
		{HeaderTimestamp, engine.HeaderTimestamp},
	} {
		if c[0] != c[1] {
			t.Errorf("samsa names a dead-letter header %q, the engine writes %q", c[0], c[1])
		}
	}
}

// The states users see are the runtime's, value for value.
func TestStatesMatchTheRuntime(t *testing.T) {
	for _, c := range []struct {
		s State
		r runtime.State
	}{
		{StateCreated, runtime.StateCreated},
		{StateRebalancing, runtime.StateRebalancing},
		{StateRunning, runtime.StateRunning},
		{StatePendingShutdown, runtime.StatePendingShutdown},
		{StateNotRunning, runtime.StateNotRunning},
		{StateError, runtime.StateError},
	} {
		if State(c.r) != c.s {
			t.Errorf("runtime state %d is samsa's %s, want %s", c.r, State(c.r), c.s)
		}
	}
}

// A runtime error matches samsa's sentinel of the same meaning, and keeps
// its text.
func TestRuntimeErrorsMatchTheSentinels(t *testing.T) {
	for _, s := range sentinels {
		err := translate(fmt.Errorf("context: %w", s[0]))
		if !errors.Is(err, s[1]) || !errors.Is(err, s[0]) || err.Error() != "context: "+s[0].Error() {
			t.Errorf("translate(%v) = %v: does not match %v", s[0], err, s[1])
		}
	}
	if err := errors.New("other"); translate(err) != err {
		t.Error("translate changed an error that matches no sentinel")
	}
}
