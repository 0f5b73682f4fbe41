// Package stores holds the byte-level side of samsa's state stores, below
// the typed interfaces of package processor: the typed key-value, window and
// session stores over a processor.BytesKeyValueStore, and the segment layout
// by which window and session stores keep time-ordered entries in a
// key-value store and expire them cheaply.
//
// A storage engine (package changelog) implements
// processor.BytesKeyValueStore and, to expire and roll back efficiently,
// RangeDropper and Transactional. The topology wraps each task's raw store
// with the constructors here; users see only the processor interfaces.
package stores
