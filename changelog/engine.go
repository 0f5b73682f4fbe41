package changelog

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/samsa-streams/samsa/processor"
)

// ErrForeignState is wrapped when the state directory belongs to another
// application id. The runtime may Wipe and rebuild from the changelogs.
var ErrForeignState = errors.New("changelog: state directory belongs to another application")

// ErrCorruptState is wrapped when local state cannot be read: Pebble cannot
// open it, or its metadata or a checkpoint is malformed. The runtime may
// Wipe and rebuild from the changelogs.
var ErrCorruptState = errors.New("changelog: state cannot be opened")

// ErrLocked is wrapped when another process holds the state directory.
// Never wipe on it: the state is fine, just in use.
var ErrLocked = errors.New("changelog: state directory is locked by another process")

// Options configures an Engine.
type Options struct {
	// Dir is the state directory of this application instance; the Pebble
	// database lives in Dir/pebble. Ignored in memory.
	Dir string
	// ApplicationID is recorded in the database and checked on open.
	ApplicationID string
	// InMemory keeps state in memory only: it survives a store being
	// closed and opened again, not the process, and is restored from the
	// changelogs at every start.
	InMemory bool
	// CacheSize is the Pebble block cache of the instance, shared by all
	// its tasks and stores; default 64 MiB.
	CacheSize int64
	// MemTableSize is the size of one Pebble memtable; at most two are in
	// memory at once (one being written, one being flushed), for the whole
	// instance. Default 16 MiB.
	MemTableSize uint64
	// Logger receives Pebble's logs (never stderr); default slog.Default().
	Logger *slog.Logger
}

// Engine opens the stores of an application instance. A Pebble engine is
// one database shared by every task and store (a key prefix each), with
// one block cache and one set of memtables: memory is bounded by
// CacheSize + 2×MemTableSize, plus the stores' write buffers, whatever the
// number of tasks and stores. The database is opened by the first Open, so
// that a foreign or damaged state directory is reported there.
type Engine struct {
	opts Options

	mu     sync.Mutex
	closed bool
	cache  *pebble.Cache
	db     *pebble.DB
	lock   *pebble.Lock
	open   map[storeID]*Store
	mem    map[storeID]*memTable
}

type storeID struct {
	task processor.TaskID
	name string
}

// NewEngine returns an Engine. It creates the state directory but opens
// nothing yet.
func NewEngine(opts Options) (*Engine, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = 64 << 20
	}
	if opts.MemTableSize == 0 {
		opts.MemTableSize = 16 << 20
	}
	e := &Engine{opts: opts, open: map[storeID]*Store{}, mem: map[storeID]*memTable{}}
	if !opts.InMemory {
		if opts.Dir == "" {
			return nil, errors.New("changelog: Options.Dir is empty")
		}
		// Bad options fail here, not at Open where they would pass for
		// corrupt state and get it wiped.
		if err := e.pebbleOptions(nil).Validate(); err != nil {
			return nil, fmt.Errorf("changelog: options: %w", err)
		}
		if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("changelog: state directory %s: %w", opts.Dir, err)
		}
		e.cache = pebble.NewCache(opts.CacheSize)
	}
	return e, nil
}

func (e *Engine) pebbleOptions(lock *pebble.Lock) *pebble.Options {
	o := &pebble.Options{
		Cache:        e.cache,
		MemTableSize: e.opts.MemTableSize,
		Logger:       pebbleLogger{e.opts.Logger},
		Lock:         lock,
	}
	o.EnsureDefaults()
	return o
}

// InMemory reports whether the engine keeps state in memory only.
func (e *Engine) InMemory() bool { return e.opts.InMemory }

// dbDir is the directory of the Pebble database.
func (e *Engine) dbDir() string { return filepath.Join(e.opts.Dir, "pebble") }

// Close closes the stores still open and the database, and releases the
// cache. It is safe to call more than once.
func (e *Engine) Close() error {
	e.mu.Lock()
	open := make([]*Store, 0, len(e.open))
	for _, s := range e.open {
		open = append(open, s)
	}
	e.mu.Unlock()
	for _, s := range open {
		_ = s.Close()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	err := e.closeDBLocked()
	if e.cache != nil {
		e.cache.Unref()
		e.cache = nil
	}
	e.mem = map[storeID]*memTable{}
	return err
}

func (e *Engine) closeDBLocked() error {
	if e.db == nil {
		return nil
	}
	err := e.db.Close()
	err = errors.Join(err, e.lock.Close())
	e.db, e.lock = nil, nil
	if err != nil {
		return fmt.Errorf("changelog: close %s: %w", e.dbDir(), err)
	}
	return nil
}

// dbLocked opens the database if it is not open yet and checks whose it is.
func (e *Engine) dbLocked() (*pebble.DB, error) {
	if e.db != nil {
		return e.db, nil
	}
	if e.closed {
		return nil, ErrClosed
	}
	dir := e.dbDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorruptState, dir, err)
	}
	lock, err := pebble.LockDirectory(dir, vfs.Default)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrLocked, dir, err)
	}
	db, err := pebble.Open(dir, e.pebbleOptions(lock))
	if err != nil {
		_ = lock.Close()
		return nil, fmt.Errorf("%w: %s: %w", ErrCorruptState, dir, err)
	}
	if err := e.checkOwner(db); err != nil {
		_ = db.Close()
		_ = lock.Close()
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	e.db, e.lock = db, lock
	return db, nil
}

// checkOwner checks the application id and layout version of a database,
// and records them in a new one.
func (e *Engine) checkOwner(db *pebble.DB) error {
	get := func(k []byte) ([]byte, bool, error) {
		v, closer, err := db.Get(k)
		if errors.Is(err, pebble.ErrNotFound) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("%w: %w", ErrCorruptState, err)
		}
		defer closer.Close()
		return bytes.Clone(v), true, nil
	}
	owner, ok, err := get(appKey)
	if err != nil {
		return err
	}
	if !ok {
		empty, err := isEmpty(db)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrCorruptState, err)
		}
		if !empty {
			return fmt.Errorf("%w: data without an application id", ErrCorruptState)
		}
		b := db.NewBatch()
		defer b.Close()
		_ = b.Set(appKey, []byte(e.opts.ApplicationID), nil)
		_ = b.Set(versionKey, layoutVersion, nil)
		if err := b.Commit(pebble.Sync); err != nil {
			return fmt.Errorf("%w: %w", ErrCorruptState, err)
		}
		return nil
	}
	if string(owner) != e.opts.ApplicationID {
		return fmt.Errorf("%w: written by application %q, not %q", ErrForeignState, owner, e.opts.ApplicationID)
	}
	version, _, err := get(versionKey)
	if err != nil {
		return err
	}
	if !bytes.Equal(version, layoutVersion) {
		return fmt.Errorf("%w: layout version %q, want %q", ErrCorruptState, version, layoutVersion)
	}
	return nil
}

func isEmpty(db *pebble.DB) (bool, error) {
	it, err := db.NewIter(nil)
	if err != nil {
		return false, err
	}
	empty := !it.First()
	return empty, it.Close()
}

// checkName rejects store names that would break the key layout.
func checkName(name string) error {
	if name == "" || strings.IndexByte(name, 0) >= 0 {
		return fmt.Errorf("changelog: invalid store name %q", name)
	}
	return nil
}

// Open opens the named store of a task. The first Open of a Pebble engine
// opens its database: one written by another application id fails with
// ErrForeignState, one that cannot be read with ErrCorruptState (the caller
// may Wipe and open again), one held by another process with ErrLocked. A
// store can be open once at a time.
func (e *Engine) Open(task processor.TaskID, name string) (*Store, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, ErrClosed
	}
	id := storeID{task, name}
	if _, dup := e.open[id]; dup {
		return nil, fmt.Errorf("changelog: store %q of task %s is already open", name, task)
	}
	var be backend
	if e.opts.InMemory {
		t, ok := e.mem[id]
		if !ok {
			t = &memTable{}
			e.mem[id] = t
		}
		be = memBackend{t}
	} else {
		db, err := e.dbLocked()
		if err != nil {
			return nil, err
		}
		pb := newPebbleBackend(db, task, name)
		if _, _, err := pb.checkpoint(); err != nil {
			return nil, fmt.Errorf("%w: store %q of task %s: %w", ErrCorruptState, name, task, err)
		}
		be = pb
	}
	s := newStore(e, task, name, be)
	e.open[id] = s
	return s, nil
}

// release forgets a closed store.
func (e *Engine) release(s *Store) {
	e.mu.Lock()
	defer e.mu.Unlock()
	id := storeID{s.task, s.name}
	if e.open[id] == s {
		delete(e.open, id)
	}
}

// Wipe deletes a task's local state: all its stores and checkpoints. Its
// stores must be closed. When the database itself is foreign or cannot be
// read, Wipe deletes it entirely (no other task's store can be open then),
// so that the next Open starts afresh.
func (e *Engine) Wipe(task processor.TaskID) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for id := range e.open {
		if id.task == task {
			return fmt.Errorf("changelog: wipe task %s: store %q is open", task, id.name)
		}
	}
	if e.opts.InMemory {
		for id := range e.mem {
			if id.task == task {
				delete(e.mem, id)
			}
		}
		return nil
	}
	db, err := e.dbLocked()
	if errors.Is(err, ErrForeignState) || errors.Is(err, ErrCorruptState) {
		e.opts.Logger.Warn("wiping the whole state directory", "dir", e.dbDir(), "task", task.String(), "why", err)
		return e.removeDBLocked()
	}
	if err != nil {
		return fmt.Errorf("changelog: wipe task %s: %w", task, err)
	}
	lo := taskPrefix(task)
	if err := db.DeleteRange(lo, prefixEnd(lo), pebble.Sync); err != nil {
		return fmt.Errorf("changelog: wipe task %s: %w", task, err)
	}
	return nil
}

// CheckDir reports whether the state directory can be taken over by this
// engine: nil when it holds no database, or one of this application that no
// other process has open; ErrLocked, ErrForeignState or ErrCorruptState
// otherwise. It opens the database, if any, and keeps it open until Close
// or WipeAll, so that no instance can start on it in between.
func (e *Engine) CheckDir() error {
	if e.opts.InMemory {
		return nil
	}
	if _, err := os.Stat(e.dbDir()); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_, err := e.dbLocked()
	return err
}

// WipeAll deletes the local state of every task. No store may be open.
func (e *Engine) WipeAll() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.open) > 0 {
		return fmt.Errorf("changelog: wipe all: %d stores are open", len(e.open))
	}
	if e.opts.InMemory {
		e.mem = map[storeID]*memTable{}
		return nil
	}
	if err := e.closeDBLocked(); err != nil {
		return err
	}
	return e.removeDBLocked()
}

func (e *Engine) removeDBLocked() error {
	if err := os.RemoveAll(e.dbDir()); err != nil {
		return fmt.Errorf("changelog: wipe %s: %w", e.dbDir(), err)
	}
	return nil
}

// HasState reports whether any task has local state: a Pebble database
// with task data, or one that cannot be opened (it may hold some).
func (e *Engine) HasState() bool {
	if e.opts.InMemory {
		return false
	}
	entries, err := os.ReadDir(e.dbDir())
	if err != nil || len(entries) == 0 {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	db, err := e.dbLocked()
	if err != nil {
		return true
	}
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{0x01}, UpperBound: []byte{0x02}})
	if err != nil {
		return true
	}
	has := it.First()
	_ = it.Close()
	return has
}

// HasStoreState reports whether any task has local state of the named
// store: a checkpoint or data under its name. A database that cannot be
// opened counts as state (it may hold some), except one that belongs to
// another application: that is not this application's state, and the first
// Open wipes it. A new store of an existing application has none.
func (e *Engine) HasStoreState(name string) bool {
	if checkName(name) != nil {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.opts.InMemory {
		for id, t := range e.mem {
			if id.name != name {
				continue
			}
			t.mu.RLock()
			has := t.hasCk || t.tree.Len() > 0
			t.mu.RUnlock()
			if has {
				return true
			}
		}
		return false
	}
	if e.db == nil {
		entries, err := os.ReadDir(e.dbDir())
		if err != nil || len(entries) == 0 {
			return false
		}
	}
	db, err := e.dbLocked()
	if errors.Is(err, ErrForeignState) {
		return false
	}
	if err != nil {
		return true
	}
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{0x01}, UpperBound: []byte{0x02}})
	if err != nil {
		return true
	}
	defer it.Close()
	// Skip from task to task: each task's keys start with 0x01 task 0x00.
	for ok := it.First(); ok; {
		end := bytes.IndexByte(it.Key()[1:], 0x00)
		if end < 0 {
			return true // not our layout: treat as state
		}
		task := bytes.Clone(it.Key()[:end+2])
		ck := append(append(bytes.Clone(task), 'c'), name...)
		if it.SeekGE(ck) && bytes.Equal(it.Key(), ck) {
			return true
		}
		data := append(append(append(bytes.Clone(task), 'd'), name...), 0x00)
		if it.SeekGE(data) && bytes.HasPrefix(it.Key(), data) {
			return true
		}
		ok = it.SeekGE(prefixEnd(task))
	}
	return false
}

// CommitAll commits several stores in one atomic, synced batch: one fsync
// for a whole task (or instance) instead of one per store. Every store must
// come from this Engine. On error no store is committed and their buffers
// are kept. A memory engine commits them one after the other.
func (e *Engine) CommitAll(stores ...*Store) error {
	if e.opts.InMemory {
		for _, s := range stores {
			if err := s.Commit(); err != nil {
				return err
			}
		}
		return nil
	}
	e.mu.Lock()
	db := e.db
	e.mu.Unlock()
	if db == nil {
		if len(stores) == 0 {
			return nil
		}
		return ErrClosed
	}
	b := db.NewBatch()
	defer b.Close()
	nexts := make([]int64, len(stores))
	undo := func() {
		for i, s := range stores {
			s.giveBackOffset(nexts[i])
		}
	}
	for _, s := range stores {
		if s.closed || s.e != e {
			return fmt.Errorf("changelog: commit store %q: closed or of another engine", s.name)
		}
	}
	for i, s := range stores {
		nexts[i] = s.takeOffset()
		if ch := s.pending(nexts[i]); ch != nil {
			if err := s.be.(*pebbleBackend).stage(b, ch); err != nil {
				undo()
				return fmt.Errorf("store %q: commit: %w", s.name, err)
			}
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		undo()
		return fmt.Errorf("changelog: commit %d stores: %w", len(stores), err)
	}
	for _, s := range stores {
		s.endTxn(true)
	}
	return nil
}
