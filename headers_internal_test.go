package samsa

import (
	"testing"

	"github.com/samsa-streams/samsa/internal/engine"
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
