package changelog

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/samsa-streams/samsa/internal/engine"
	"github.com/samsa-streams/samsa/processor"
)

var _ engine.StoreProvider = (*Provider)(nil)

// Provider plugs an Engine into the runtime as an engine.StoreProvider. A
// task's state that belongs to another application or cannot be read is
// wiped, with a log line, and the store opened afresh: its changelog
// restores it.
type Provider struct {
	// Engine opens the stores.
	Engine *Engine
	// Logger reports wiped state; default slog.Default().
	Logger *slog.Logger
	// OnOpen, if set, is called with every store opened, before it is
	// used: the runtime sets Store.OnWrite there for logged stores
	// (def.Logged), to append their writes to the changelog. An error
	// closes the store and fails the Open.
	OnOpen func(task processor.TaskID, def *engine.StoreDef, s *Store) error
}

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

// Open implements engine.StoreProvider.
func (p *Provider) Open(task processor.TaskID, def *engine.StoreDef) (engine.RawStore, error) {
	s, err := p.Engine.Open(task, def.Name)
	if wipeable(err) {
		log := p.Logger
		if log == nil {
			log = slog.Default()
		}
		log.Warn("local state is unusable: wiping it and rebuilding from the changelog", "task", task.String(), "store", def.Name, "why", err)
		if werr := p.Engine.Wipe(task); werr != nil {
			return nil, fmt.Errorf("changelog: task %s: %w", task, errors.Join(err, werr))
		}
		s, err = p.Engine.Open(task, def.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("changelog: task %s: open store %q: %w", task, def.Name, err)
	}
	if p.OnOpen != nil {
		if err := p.OnOpen(task, def, s); err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("changelog: task %s: open store %q: %w", task, def.Name, err)
		}
	}
	return s, nil
}
