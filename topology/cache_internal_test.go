package topology

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streams/samsa/changelog"
	"github.com/samsa-streams/samsa/internal/engine"
	"github.com/samsa-streams/samsa/internal/stores"
	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
)

// cacheCtx is the part of a task context a record cache uses.
type cacheCtx struct {
	processor.TaskContext
	budget *engine.CacheBudget
}

func (c cacheCtx) RecordCache(string) (func() int64, func(), bool) {
	share, leave := c.budget.Join()
	return share, leave, true
}
func (cacheCtx) Input() engine.Input               { return engine.Input{} }
func (cacheCtx) AsInput(_ engine.Input, fn func()) { fn() }

// openRaw opens a transactional in-memory store named name.
func openRaw(t *testing.T, name string) *changelog.Store {
	t.Helper()
	e, err := changelog.NewEngine(changelog.Options{ApplicationID: "app", InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	raw, err := e.Open(processor.TaskID{}, name)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// cachedStore is what testFollowsTransactions drives: a cached store of
// counts over raw, whose cache has been enabled.
type cachedStore struct {
	raw *changelog.Store
	// put caches an update of k's count to n; get reads k's count, cache
	// first; flush flushes the cache.
	put   func(k string, n int64) error
	get   func(k string) (int64, error)
	flush func() error
	// emitted is what the cache forwarded, as key=count.
	emitted *[]string
	// restoreKey is the store's bytes key of "a".
	restoreKey []byte
}

// testFollowsTransactions: an aborted transaction drops the cache's
// updates (the records are processed again by the same task, which must
// read the committed aggregates), what was flushed before the abort is
// rolled back with the store, and a restore clears the cache.
func testFollowsTransactions(t *testing.T, s cachedStore) {
	put := func(k string, n int64) {
		t.Helper()
		if err := s.put(k, n); err != nil {
			t.Fatal(err)
		}
	}
	get := func(k string) int64 {
		t.Helper()
		n, err := s.get(k)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	flush := func() {
		t.Helper()
		if err := s.flush(); err != nil {
			t.Fatal(err)
		}
	}
	commit := func() {
		t.Helper()
		if err := s.raw.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	put("a", 1)
	put("a", 2)
	flush()
	commit()
	put("a", 3)
	put("b", 1)
	if get("a") != 3 {
		t.Fatalf("a = %d before the abort, want 3 from the cache", get("a"))
	}
	s.raw.Abort()
	if get("a") != 2 || get("b") != 0 {
		t.Fatalf("after the abort a = %d, b = %d; want the committed 2 and none", get("a"), get("b"))
	}
	flush()
	if strings.Join(*s.emitted, " ") != "a=2" {
		t.Fatalf("emitted %v, want only a=2: the aborted updates are dropped", *s.emitted)
	}
	// Flushed but not committed: rolled back with the store.
	put("a", 4)
	flush()
	s.raw.Abort()
	if get("a") != 2 {
		t.Fatalf("a = %d after aborting a flushed update, want 2", get("a"))
	}
	// A restore writes beneath the cache: the cache is cleared and reads
	// see the restored value.
	put("a", 5)
	flush()
	commit()
	vb, err := timestampedSerde[int64]{serde.Int64}.Serialize("counts", timestamped[int64]{agg: 7, ms: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.raw.Restore([]changelog.Record{{Key: s.restoreKey, Value: vb}}, 1); err != nil {
		t.Fatal(err)
	}
	if get("a") != 7 {
		t.Fatalf("a = %d after a restore, want the restored 7", get("a"))
	}
}

// TestCacheFollowsTransactions: the cache of a key-value store follows its
// store's transactions (testFollowsTransactions).
func TestCacheFollowsTransactions(t *testing.T) {
	raw := openRaw(t, "counts")
	ts := timestampedSerde[int64]{serde.Int64}
	s := &timestampedKV[string, int64]{raw: raw, key: serde.String, value: ts, inner: stores.NewKeyValueStore(raw, serde.String, serde.Serde[timestamped[int64]](ts))}
	var emitted []string
	s.enableCache(cacheCtx{budget: engine.NewCacheBudget(1 << 20)}, func(e *cacheEntry[string, int64]) {
		emitted = append(emitted, fmt.Sprintf("%s=%d", e.rec.Key, e.val.agg))
	})
	if s.cache == nil {
		t.Fatal("no cache")
	}
	testFollowsTransactions(t, cachedStore{
		raw: raw,
		put: func(k string, n int64) error {
			cur, ok, err := s.getTimed(k)
			if err != nil {
				return err
			}
			return s.cache.put(k, timestamped[int64]{agg: n, ms: 1}, processor.NewRecord(k, n, time.UnixMilli(1)), cur, ok)
		},
		get: func(k string) (int64, error) {
			v, _, err := s.Get(k)
			return v, err
		},
		flush:      func() error { return s.cache.flush() },
		emitted:    &emitted,
		restoreKey: []byte("a"),
	})
}
