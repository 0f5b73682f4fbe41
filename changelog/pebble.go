package changelog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"

	"github.com/samsa-streams/samsa/processor"
)

// Keys of the Pebble layout (see the package documentation).
var (
	appKey     = []byte{0x00, 'a'}
	versionKey = []byte{0x00, 'v'}
	// layoutVersion is written in new databases and required on open.
	layoutVersion = []byte("1")
)

// taskPrefix is the first key of a task's keys; prefixEnd of it is past
// the last.
func taskPrefix(task processor.TaskID) []byte {
	return append(append([]byte{0x01}, task.String()...), 0x00)
}

func dataPrefix(task processor.TaskID, store string) []byte {
	return append(append(append(taskPrefix(task), 'd'), store...), 0x00)
}

func ckptKey(task processor.TaskID, store string) []byte {
	return append(append(taskPrefix(task), 'c'), store...)
}

// pebbleBackend is one store's prefix of the instance's database.
type pebbleBackend struct {
	db     *pebble.DB
	prefix []byte // data prefix
	end    []byte // prefixEnd(prefix)
	ckpt   []byte
	kbuf   []byte // scratch for point keys
}

func newPebbleBackend(db *pebble.DB, task processor.TaskID, store string) *pebbleBackend {
	p := dataPrefix(task, store)
	return &pebbleBackend{db: db, prefix: p, end: prefixEnd(p), ckpt: ckptKey(task, store)}
}

func (p *pebbleBackend) key(k []byte) []byte {
	p.kbuf = append(append(p.kbuf[:0], p.prefix...), k...)
	return p.kbuf
}

func (p *pebbleBackend) get(k []byte) ([]byte, bool, error) {
	v, closer, err := p.db.Get(p.key(k))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	out := bytes.Clone(v)
	return out, true, closer.Close()
}

func (p *pebbleBackend) scan(lo, hi []byte, keysOnly bool, fn func(k, v []byte) bool) error {
	o := &pebble.IterOptions{LowerBound: p.prefix, UpperBound: p.end}
	if lo != nil {
		o.LowerBound = append(bytes.Clone(p.prefix), lo...)
	}
	if hi != nil {
		o.UpperBound = append(bytes.Clone(p.prefix), hi...)
	}
	it, err := p.db.NewIter(o)
	if err != nil {
		return err
	}
	n := len(p.prefix)
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()[n:]
		if keysOnly {
			if !fn(k, nil) {
				break
			}
			continue
		}
		raw, err := it.ValueAndErr()
		if err != nil {
			return errors.Join(err, it.Close())
		}
		// One allocation for a copy of both.
		kv := make([]byte, len(k)+len(raw))
		copy(kv, k)
		copy(kv[len(k):], raw)
		if !fn(kv[:len(k):len(k)], kv[len(k):]) {
			break
		}
	}
	return it.Close()
}

// stage adds changes to a batch: range deletions first, then the writes in
// order, then the checkpoint.
func (p *pebbleBackend) stage(b *pebble.Batch, ch *changes) error {
	for _, r := range ch.drops {
		lo := append(bytes.Clone(p.prefix), r.lo...)
		hi := append(bytes.Clone(p.prefix), r.hi...)
		if err := b.DeleteRange(lo, hi, nil); err != nil {
			return err
		}
	}
	err := ch.each(func(k, v []byte, del bool) error {
		if del {
			return b.Delete(p.key(k), nil)
		}
		return b.Set(p.key(k), v, nil)
	})
	if err != nil {
		return err
	}
	if ch.next >= 0 {
		var v [8]byte
		binary.BigEndian.PutUint64(v[:], uint64(ch.next))
		return b.Set(p.ckpt, v[:], nil)
	}
	return nil
}

func (p *pebbleBackend) apply(ch *changes) error {
	b := p.db.NewBatch()
	defer b.Close()
	if err := p.stage(b, ch); err != nil {
		return err
	}
	opt := pebble.NoSync
	if ch.sync {
		opt = pebble.Sync
	}
	return b.Commit(opt)
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
		return 0, false, fmt.Errorf("%w: checkpoint of %d bytes", ErrCorruptState, len(v))
	}
	return int64(binary.BigEndian.Uint64(v)), true, nil
}

func (p *pebbleBackend) diskBytes() (uint64, error) { return p.db.EstimateDiskUsage(p.prefix, p.end) }

func (p *pebbleBackend) count() (int64, error) {
	n := int64(0)
	err := p.scan(nil, nil, true, func(_, _ []byte) bool { n++; return true })
	return n, err
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
