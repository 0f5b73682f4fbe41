package changelog

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/cockroachdb/pebble/v2"

	"github.com/samsa-streams/samsa/processor"
)

// ErrForeignState is wrapped when a task's state directory belongs to
// another application id.
var ErrForeignState = errors.New("changelog: state directory belongs to another application")

// ErrCorruptState is wrapped when a task's state cannot be opened.
var ErrCorruptState = errors.New("changelog: state cannot be opened")

// Options configures an Engine.
type Options struct {
	// Dir is the state directory of this application instance; tasks
	// keep their databases in Dir/<task id>. Ignored in memory.
	Dir string
	// ApplicationID is recorded in every task database and checked on open.
	ApplicationID string
	// InMemory keeps state in memory only: it is lost with the process and
	// restored from the changelog.
	InMemory bool
	// CacheSize is the block cache shared by every task's database;
	// default 64 MiB.
	CacheSize int64
	// MemTableSize is the memtable size of each task's database; default 4 MiB.
	MemTableSize uint64
	// Logger receives Pebble's logs (never stderr); default slog.Default().
	Logger *slog.Logger
}

// Engine opens stores: one Pebble database per task, all sharing one block
// cache, so memory is bounded by CacheSize and MemTableSize×tasks, not by the
// number of stores.
type Engine struct {
	opts  Options
	cache *pebble.Cache

	mu  sync.Mutex
	dbs map[string]*taskDB
	mem map[string]*memTable
}

// NewEngine returns an engine.
func NewEngine(opts Options) (*Engine, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = 64 << 20
	}
	if opts.MemTableSize == 0 {
		opts.MemTableSize = 4 << 20
	}
	e := &Engine{opts: opts, dbs: map[string]*taskDB{}, mem: map[string]*memTable{}}
	if !opts.InMemory {
		if opts.Dir == "" {
			return nil, errors.New("changelog: Options.Dir is empty")
		}
		if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("changelog: state directory %s: %w", opts.Dir, err)
		}
		e.cache = pebble.NewCache(opts.CacheSize)
	}
	return e, nil
}

// Close releases the shared cache. Stores must be closed first.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	for dir, t := range e.dbs {
		errs = append(errs, t.db.Close())
		delete(e.dbs, dir)
	}
	if e.cache != nil {
		e.cache.Unref()
		e.cache = nil
	}
	return errors.Join(errs...)
}

// TaskDir returns the directory of a task's state.
func (e *Engine) TaskDir(task processor.TaskID) string {
	return filepath.Join(e.opts.Dir, task.String())
}

// Open opens the named store of a task. A task database written by another
// application id or that cannot be opened fails with ErrForeignState or
// ErrCorruptState; the caller may Wipe the task and open again.
func (e *Engine) Open(task processor.TaskID, name string) (*Store, error) {
	if e.opts.InMemory {
		e.mu.Lock()
		defer e.mu.Unlock()
		k := task.String() + "/" + name
		t, ok := e.mem[k]
		if !ok {
			t = &memTable{}
			e.mem[k] = t
		}
		return newStore(name, memBackend{t}), nil
	}
	dir := e.TaskDir(task)
	db, err := e.acquire(dir)
	if err != nil {
		return nil, err
	}
	return newStore(name, &pebbleBackend{e: e, dir: dir, db: db, prefix: dataPrefix(name), ckpt: ckptKey(name)}), nil
}

func (e *Engine) acquire(dir string) (*pebble.DB, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if t, ok := e.dbs[dir]; ok {
		t.refs++
		return t.db, nil
	}
	db, err := pebble.Open(dir, &pebble.Options{
		Cache:        e.cache,
		MemTableSize: e.opts.MemTableSize,
		Logger:       pebbleLogger{e.opts.Logger},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorruptState, dir, err)
	}
	v, closer, err := db.Get(appKey)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		if err := db.Set(appKey, []byte(e.opts.ApplicationID), pebble.Sync); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("%w: %s: %w", ErrCorruptState, dir, err)
		}
	case err != nil:
		_ = db.Close()
		return nil, fmt.Errorf("%w: %s: %w", ErrCorruptState, dir, err)
	default:
		owner := string(v)
		_ = closer.Close()
		if owner != e.opts.ApplicationID {
			_ = db.Close()
			return nil, fmt.Errorf("%w: %s was written by application %q, not %q", ErrForeignState, dir, owner, e.opts.ApplicationID)
		}
	}
	e.dbs[dir] = &taskDB{db: db, refs: 1}
	return db, nil
}

func (e *Engine) release(dir string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, ok := e.dbs[dir]
	if !ok {
		return nil
	}
	t.refs--
	if t.refs > 0 {
		return nil
	}
	delete(e.dbs, dir)
	return t.db.Close()
}

// Wipe deletes a task's local state (all its stores). Its stores must be closed.
func (e *Engine) Wipe(task processor.TaskID) error {
	if e.opts.InMemory {
		e.mu.Lock()
		defer e.mu.Unlock()
		prefix := task.String() + "/"
		for k := range e.mem {
			if len(k) > len(prefix) && k[:len(prefix)] == prefix {
				delete(e.mem, k)
			}
		}
		return nil
	}
	if err := os.RemoveAll(e.TaskDir(task)); err != nil {
		return fmt.Errorf("changelog: wipe %s: %w", e.TaskDir(task), err)
	}
	return nil
}

// HasState reports whether any task has local state on disk.
func (e *Engine) HasState() bool {
	if e.opts.InMemory {
		return false
	}
	entries, err := os.ReadDir(e.opts.Dir)
	return err == nil && len(entries) > 0
}
