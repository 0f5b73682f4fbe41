package changelog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"
)

// Key layout inside a task's Pebble database:
//
//	'd' store 0x00 key  → value        (data)
//	'c' store           → next offset  (checkpoint, 8 bytes big-endian)
//	'm' "app"           → application id (metadata)
//
// Store names cannot contain 0x00, so data keys of different stores never
// interleave.

func dataPrefix(store string) []byte {
	return append(append([]byte{'d'}, store...), 0)
}

func ckptKey(store string) []byte { return append([]byte{'c'}, store...) }

var appKey = []byte("mapp")

// taskDB is one Pebble database: the state of one task, shared by its stores.
type taskDB struct {
	db   *pebble.DB
	refs int
}

type pebbleBackend struct {
	e      *Engine
	dir    string
	db     *pebble.DB
	prefix []byte
	ckpt   []byte
	closed bool
}

func (p *pebbleBackend) get(k []byte) ([]byte, bool, error) {
	v, closer, err := p.db.Get(append(p.prefix[:len(p.prefix):len(p.prefix)], k...))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	out := bytes.Clone(v)
	return out, true, closer.Close()
}

func (p *pebbleBackend) bounds(lo, hi []byte) *pebble.IterOptions {
	pre := p.prefix
	o := &pebble.IterOptions{LowerBound: pre, UpperBound: prefixEnd(pre)}
	if lo != nil {
		o.LowerBound = append(bytes.Clone(pre), lo...)
	}
	if hi != nil {
		// Inclusive hi: the upper bound is hi followed by 0x00.
		o.UpperBound = append(append(bytes.Clone(pre), hi...), 0)
	}
	return o
}

func (p *pebbleBackend) scan(lo, hi []byte, fn func(k, v []byte) bool) error {
	it, err := p.db.NewIter(p.bounds(lo, hi))
	if err != nil {
		return err
	}
	n := len(p.prefix)
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			_ = it.Close()
			return err
		}
		if !fn(bytes.Clone(it.Key()[n:]), bytes.Clone(v)) {
			break
		}
	}
	return it.Close()
}

func (p *pebbleBackend) apply(entries []entry, next int64) error {
	b := p.db.NewBatch()
	defer b.Close()
	for _, e := range entries {
		k := append(p.prefix[:len(p.prefix):len(p.prefix)], e.key...)
		var err error
		if e.del {
			err = b.Delete(k, nil)
		} else {
			err = b.Set(k, e.value, nil)
		}
		if err != nil {
			return err
		}
	}
	if next >= 0 {
		var v [8]byte
		binary.BigEndian.PutUint64(v[:], uint64(next))
		if err := b.Set(p.ckpt, v[:], nil); err != nil {
			return err
		}
	}
	return b.Commit(pebble.Sync)
}

func (p *pebbleBackend) checkpoint() (int64, bool, error) {
	v, closer, err := p.db.Get(p.ckpt)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	defer closer.Close()
	if len(v) != 8 {
		return 0, false, fmt.Errorf("checkpoint of %d bytes", len(v))
	}
	return int64(binary.BigEndian.Uint64(v)), true, nil
}

func (p *pebbleBackend) count() (int64, error) {
	n := int64(0)
	err := p.scan(nil, nil, func(_, _ []byte) bool { n++; return true })
	return n, err
}

func (p *pebbleBackend) dropRange(lo, hi []byte) error {
	pre := p.prefix[:len(p.prefix):len(p.prefix)]
	return p.db.DeleteRange(append(pre, lo...), append(bytes.Clone(pre), hi...), pebble.Sync)
}

func (p *pebbleBackend) close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	return p.e.release(p.dir)
}

// pebbleLogger sends Pebble's logs to slog instead of stderr.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}
func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
}
func (p pebbleLogger) Fatalf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble", "fatal", true)
	panic(fmt.Sprintf("pebble: "+format, args...))
}
