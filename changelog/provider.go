package changelog

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/samsa-streams/samsa/processor"
)

// wipeable reports whether an Open error means the local state is unusable
// and may be wiped: foreign or corrupt, never merely locked by another
// process (its state is fine, just in use). The test is on the sentinel
// errors, never on the text of the error, which holds the state
// directory's path.
func wipeable(err error) bool {
	if err == nil || errors.Is(err, ErrLocked) {
		return false
	}
	return errors.Is(err, ErrForeignState) || errors.Is(err, ErrCorruptState)
}

// OpenOrWipe opens a task's store like Open, except that a task's state
// that belongs to another application or cannot be read is wiped, with a
// warning on log (slog.Default() when nil), and the store opened afresh:
// its changelog restores it. State locked by another process is never
// wiped (ErrLocked is returned).
func (e *Engine) OpenOrWipe(task processor.TaskID, store string, log *slog.Logger) (*Store, error) {
	s, err := e.Open(task, store)
	if wipeable(err) {
		if log == nil {
			log = slog.Default()
		}
		log.Warn("local state is unusable: wiping it and rebuilding from the changelog", "task", task.String(), "store", store, "why", err)
		if werr := e.Wipe(task); werr != nil {
			return nil, fmt.Errorf("changelog: task %s: %w", task, errors.Join(err, werr))
		}
		s, err = e.Open(task, store)
	}
	if err != nil {
		return nil, fmt.Errorf("changelog: task %s: open store %q: %w", task, store, err)
	}
	return s, nil
}
