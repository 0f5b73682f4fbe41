package changelog

import (
	"encoding/binary"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"testing"
)

func benchEngines(b *testing.B, fn func(b *testing.B, s *Store)) {
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
			fn(b, s)
		})
	}
}

func key(i int) []byte { return binary.BigEndian.AppendUint64([]byte("key-"), uint64(i)) }

var value = make([]byte, 100)

// BenchmarkPut: puts committed every 1,000 writes, as a task commits.
func BenchmarkPut(b *testing.B) {
	benchEngines(b, func(b *testing.B, s *Store) {
		b.ReportAllocs()
		for i := range b.N {
			_ = s.Put(key(i), value)
			if i%1000 == 999 {
				if err := s.Commit(); err != nil {
					b.Fatal(err)
				}
			}
		}
		_ = s.Commit()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	})
}

// BenchmarkGet: point reads of committed keys (100,000 keys).
func BenchmarkGet(b *testing.B) {
	benchEngines(b, func(b *testing.B, s *Store) {
		for i := range 100000 {
			_ = s.Put(key(i), value)
		}
		_ = s.Commit()
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if _, ok, err := s.Get(key(i % 100000)); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	})
}

// BenchmarkRange: scans of 100 consecutive keys.
func BenchmarkRange(b *testing.B) {
	benchEngines(b, func(b *testing.B, s *Store) {
		for i := range 100000 {
			_ = s.Put(key(i), value)
		}
		_ = s.Commit()
		b.ResetTimer()
		n := 0
		for i := range b.N {
			from := (i * 100) % 99900
			for range s.Range(key(from), key(from+99)) {
				n++
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "scans/s")
		b.ReportMetric(float64(n)/float64(b.N), "keys/scan")
	})
}

// TestPebbleBytesPerKey reports the on-disk size of 100,000 keys with
// 100-byte values after a flush (a figure for docs/benchmarks.md).
func TestPebbleBytesPerKey(t *testing.T) {
	dir := t.TempDir()
	e, _ := NewEngine(Options{Dir: dir, ApplicationID: "bench", Logger: quiet})
	s, _ := e.Open(task0, "kv")
	rnd := rand.New(rand.NewPCG(1, 2))
	v := make([]byte, 100)
	for i := range 100000 {
		for j := range v {
			v[j] = byte(rnd.Uint32())
		}
		_ = s.Put(key(i), v)
		if i%10000 == 9999 {
			_ = s.Commit()
		}
	}
	_ = s.Commit()
	_ = s.Close()
	if err := e.Close(); err != nil { // flushes the memtable
		t.Fatal(err)
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
	perKey := float64(size) / 100000
	t.Logf("pebble: %d bytes on disk for 100,000 keys of 12 bytes with random 100-byte values: %.1f bytes/key", size, perKey)
	if perKey < 100 {
		t.Errorf("%.1f bytes per key is less than the values themselves: the data was not written", perKey)
	}
}
