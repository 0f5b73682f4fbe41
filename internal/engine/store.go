package engine

import (
	"iter"
	"time"

	"github.com/samsa-streams/samsa/processor"
)

// This file is the contract between the engine, the storage beneath it
// (package changelog) and the typed stores above it (package topology).

// StoreLayout is how a store keeps its entries in the bytes key-value store
// beneath it.
type StoreLayout int

// Store layouts.
const (
	// KeyValueLayout: the entries are the store's keys and values.
	KeyValueLayout StoreLayout = iota
	// WindowLayout: a value per key and window start, in time segments
	// (StoreDef.Retention, StoreDef.Segments) for cheap expiry.
	WindowLayout
	// SessionLayout: a value per session of a key, in time segments of
	// session ends.
	SessionLayout
)

// Opened is a store as its provider opened it: the bytes store the task
// commits, aborts and closes, and, for the window and session layouts, the
// provider's layout over it.
type Opened struct {
	Raw RawStore
	// Window is set for a WindowLayout store, Session for a SessionLayout
	// one.
	Window  BytesWindowStore
	Session BytesSessionStore
}

// BytesWindowStore is a window store of raw keys and values: what typed
// window stores wrap. A nil value deletes.
type BytesWindowStore interface {
	processor.StateStore
	// Put stores value for key in the window starting at start (ignored
	// if behind the retention); a nil value deletes the window.
	Put(key, value []byte, start time.Time) error
	// Fetch yields the windows of key with from <= start <= to, by start.
	Fetch(key []byte, from, to time.Time) iter.Seq2[processor.Windowed[[]byte], error]
	// FetchAll yields the windows of every key with from <= start <= to,
	// by start, then key.
	FetchAll(from, to time.Time) iter.Seq2[processor.WindowedKeyValue[[]byte, []byte], error]
	// Observe advances the store's newest time to start, as a Put of
	// start does (expiring what falls behind the retention), and reports
	// whether start is behind the retention: a Put of it is dropped. A
	// record cache in front of the store, which defers its writes, tells
	// it every window start this way, so that the retention moves as it
	// would without the cache.
	Observe(start time.Time) (expired bool, err error)
}

// BytesSessionStore is a session store of raw keys and values: what typed
// session stores wrap. A nil value deletes.
type BytesSessionStore interface {
	processor.StateStore
	// FindSessions yields the sessions of key that end at or after
	// earliestEnd and start at or before latestStart, by end, then start.
	FindSessions(key []byte, earliestEnd, latestStart time.Time) iter.Seq2[processor.KeyValue[processor.Session[[]byte], []byte], error]
	// Put stores the value of a session (ignored if it ended behind the
	// retention); a nil value removes it.
	Put(s processor.Session[[]byte], value []byte) error
	// Remove deletes a session.
	Remove(s processor.Session[[]byte]) error
}

// StoreEvent is what a Transactional store tells the wrappers registered
// with it.
type StoreEvent int

// Store events.
const (
	// StoreCommitted: the write buffer was committed.
	StoreCommitted StoreEvent = iota
	// StoreAborted: the write buffer was dropped; the store is back at its
	// last commit.
	StoreAborted
	// StoreRestored: changelog records were written beneath the buffer.
	StoreRestored
)

// Transactional is implemented by bytes stores with a write buffer that is
// committed or aborted as a whole (package changelog's stores). Wrappers
// that keep state derived from the store's content (the newest time a
// window store has seen, a record cache) register to keep it in step:
// after an abort they go back to what they had at the last commit, after a
// restore they read it from the store again.
//
// The hooks take plain funcs, not a StoreEvent, so that the exported
// methods of the implementing store name no type of this internal package.
type Transactional interface {
	// OnCommit registers fn, called after every commit.
	OnCommit(fn func())
	// OnAbort registers fn, called after every abort.
	OnAbort(fn func())
	// OnRestore registers fn, called after changelog records were written
	// beneath the buffer.
	OnRestore(fn func())
}

// OnStoreEvent registers fn with t for every commit, abort and restore,
// called with the event.
func OnStoreEvent(t Transactional, fn func(StoreEvent)) {
	t.OnCommit(func() { fn(StoreCommitted) })
	t.OnAbort(func() { fn(StoreAborted) })
	t.OnRestore(func() { fn(StoreRestored) })
}

// Lay returns raw opened in def's layout, which a provider's windows or
// sessions function makes over raw (package changelog's Store.Windows and
// Store.Sessions).
func Lay[W BytesWindowStore, S BytesSessionStore](def *StoreDef, raw RawStore, windows func(time.Duration, int) W, sessions func(time.Duration, int) S) Opened {
	o := Opened{Raw: raw}
	switch def.Layout {
	case WindowLayout:
		o.Window = windows(def.Retention, def.Segments)
	case SessionLayout:
		o.Session = sessions(def.Retention, def.Segments)
	}
	return o
}
