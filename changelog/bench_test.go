package changelog

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/samsa-streams/samsa/internal/stores"
	"github.com/samsa-streams/samsa/serde"
)

// benchEngines runs fn against one store of each engine.
func benchEngines(b *testing.B, fn func(b *testing.B, e *Engine, s *Store)) {
	for _, mem := range []bool{false, true} {
		name := "pebble"
		if mem {
			name = "memory"
		}
		b.Run(name, func(b *testing.B) {
			e, err := NewEngine(Options{Dir: b.TempDir(), ApplicationID: "bench", InMemory: mem, Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			s, err := e.Open(task0, "kv")
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			fn(b, e, s)
		})
	}
}

// key is 12 bytes: "key-" and a big-endian counter.
func key(i int) []byte { return binary.BigEndian.AppendUint64([]byte("key-"), uint64(i)) }

var value = make([]byte, 100)

func opsPerSec(b *testing.B, n int, unit string) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), unit)
}

// fill commits n keys in random order.
func fill(b *testing.B, s *Store, n int) {
	for j, i := range rand.New(rand.NewPCG(1, 2)).Perm(n) {
		_ = s.Put(key(i), value)
		if j%10000 == 9999 {
			if err := s.Commit(); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := s.Commit(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPut: puts of random keys committed every 1,000 writes (one
// synced Pebble batch each), as a task commits.
func BenchmarkPut(b *testing.B) {
	benchEngines(b, func(b *testing.B, _ *Engine, s *Store) {
		rnd := rand.New(rand.NewPCG(3, 4))
		b.ReportAllocs()
		for i := range b.N {
			_ = s.Put(key(rnd.IntN(1<<30)), value)
			if i%1000 == 999 {
				if err := s.Commit(); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := s.Commit(); err != nil {
			b.Fatal(err)
		}
		opsPerSec(b, b.N, "puts/s")
	})
}

// BenchmarkGet: point reads of 100,000 committed keys, in random order.
func BenchmarkGet(b *testing.B) {
	benchEngines(b, func(b *testing.B, _ *Engine, s *Store) {
		fill(b, s, 100000)
		rnd := rand.New(rand.NewPCG(5, 6))
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if _, ok, err := s.Get(key(rnd.IntN(100000))); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
		opsPerSec(b, b.N, "gets/s")
	})
}

// BenchmarkRange: scans of 100 consecutive keys out of 100,000 committed
// keys, with 1,000 writes buffered (merged into every scan).
func BenchmarkRange(b *testing.B) {
	benchEngines(b, func(b *testing.B, _ *Engine, s *Store) {
		fill(b, s, 100000)
		for i := range 1000 {
			_ = s.Put(key(i*100+50), value)
		}
		b.ReportAllocs()
		b.ResetTimer()
		n := 0
		for i := range b.N {
			from := (i * 100) % 99900
			for range s.Range(key(from), key(from+99)) {
				n++
			}
		}
		opsPerSec(b, b.N, "scans/s")
		b.ReportMetric(float64(n)/float64(b.N), "keys/scan")
	})
}

// BenchmarkWindowDedup: the Deduplicate pattern, a Fetch over ±retention
// and a Put per record, with commits every 10,000 records (the buffer
// holds up to 10,000 writes that every Fetch merges).
func BenchmarkWindowDedup(b *testing.B) {
	benchEngines(b, func(b *testing.B, _ *Engine, s *Store) {
		ws := stores.WrapWindowStore(s.Windows(time.Minute, 3), serde.String, serde.Int64)
		rnd := rand.New(rand.NewPCG(7, 8))
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			at := time.UnixMilli(int64(i)) // 1,000 records per second of event time
			id := fmt.Sprint(rnd.IntN(1 << 20))
			dup := false
			for _, err := range ws.Fetch(id, at.Add(-time.Minute), at.Add(time.Minute)) {
				if err != nil {
					b.Fatal(err)
				}
				dup = true
				break
			}
			if !dup {
				if err := ws.Put(id, 1, at); err != nil {
					b.Fatal(err)
				}
			}
			if i%10000 == 9999 {
				if err := s.Commit(); err != nil {
					b.Fatal(err)
				}
			}
		}
		opsPerSec(b, b.N, "records/s")
	})
}

// BenchmarkRestore: changelog records applied in batches of 10,000 (as
// the runtime restores), random keys.
func BenchmarkRestore(b *testing.B) {
	benchEngines(b, func(b *testing.B, _ *Engine, s *Store) {
		rnd := rand.New(rand.NewPCG(9, 10))
		batch := make([]Record, 0, 10000)
		b.ReportAllocs()
		for i := range b.N {
			batch = append(batch, Record{Key: key(rnd.IntN(1 << 30)), Value: value})
			if len(batch) == cap(batch) || i == b.N-1 {
				if err := s.Restore(batch, int64(i+1)); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
		opsPerSec(b, b.N, "records/s")
	})
}

// BenchmarkCommit: the cost of one commit of a store with 10 buffered
// writes (dominated by the fsync on Pebble), and of a task of 4 such stores
// committed with CommitAll (one fsync).
func BenchmarkCommit(b *testing.B) {
	benchEngines(b, func(b *testing.B, e *Engine, s *Store) {
		b.Run("store", func(b *testing.B) {
			for i := range b.N {
				for j := range 10 {
					_ = s.Put(key(i*10+j), value)
				}
				if err := s.Commit(); err != nil {
					b.Fatal(err)
				}
			}
			opsPerSec(b, b.N, "commits/s")
		})
		b.Run("task-of-4", func(b *testing.B) {
			stores := []*Store{s}
			for _, name := range []string{"b", "c", "d"} {
				t, err := e.Open(task0, name)
				if err != nil {
					b.Fatal(err)
				}
				defer t.Close()
				stores = append(stores, t)
			}
			b.ResetTimer()
			for i := range b.N {
				for _, st := range stores {
					for j := range 10 {
						_ = st.Put(key(i*10+j), value)
					}
				}
				if err := e.CommitAll(stores...); err != nil {
					b.Fatal(err)
				}
			}
			opsPerSec(b, b.N, "commits/s")
		})
	})
}

// writeDisk writes 100,000 keys of 12 bytes with random 100-byte values
// into a new Pebble engine in dir, closes it and returns the bytes on disk.
func writeDisk(tb testing.TB, dir string) int64 {
	e, err := NewEngine(Options{Dir: dir, ApplicationID: "bench", Logger: quiet})
	if err != nil {
		tb.Fatal(err)
	}
	s, err := e.Open(task0, "kv")
	if err != nil {
		tb.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range 100000 {
		v := make([]byte, 100)
		for j := range v {
			v[j] = byte(rnd.Uint32())
		}
		_ = s.Put(key(i), v)
		if i%10000 == 9999 {
			if err := s.Commit(); err != nil {
				tb.Fatal(err)
			}
		}
	}
	_ = s.Close()
	if err := e.Close(); err != nil { // flushes the memtable
		tb.Fatal(err)
	}
	var size int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				size += info.Size()
			}
		}
		return nil
	})
	return size
}

// BenchmarkPebbleDiskBytesPerKey reports the bytes on disk per key after
// 100,000 keys (12-byte keys, random 100-byte values), WAL included.
func BenchmarkPebbleDiskBytesPerKey(b *testing.B) {
	var size int64
	for range b.N {
		size = writeDisk(b, b.TempDir())
	}
	b.ReportMetric(float64(size)/100000, "disk-bytes/key")
}

// TestPebbleBytesPerKey checks that the 100,000 keys really are on disk.
func TestPebbleBytesPerKey(t *testing.T) {
	size := writeDisk(t, t.TempDir())
	perKey := float64(size) / 100000
	t.Logf("pebble: %d bytes on disk for 100,000 keys of 12 bytes with random 100-byte values: %.1f bytes/key", size, perKey)
	if perKey < 100 {
		t.Errorf("%.1f bytes per key is less than the values themselves: the data was not written", perKey)
	}
}
