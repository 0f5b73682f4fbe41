package topology

import (
	"encoding/binary"
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

// TestWindowCacheFollowsTransactions: an aborted transaction drops the
// window cache's updates (the records are processed again by the same
// task, which must read the committed aggregates), what was flushed before
// the abort is rolled back with the store, and a restore clears the cache.
func TestWindowCacheFollowsTransactions(t *testing.T) {
	e, err := changelog.NewEngine(changelog.Options{ApplicationID: "app", InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	raw, err := e.Open(processor.TaskID{}, "wcounts")
	if err != nil {
		t.Fatal(err)
	}
	ts := timestampedSerde[int64]{serde.Int64}
	b := stores.NewBytesWindowStore(raw, time.Second, 3)
	s := &timestampedWindowStore[string, int64]{raw: b, base: raw, key: serde.String, value: ts,
		inner: stores.WrapWindowStore(b, serde.String, serde.Serde[timestamped[int64]](ts)), clock: newStreamClock(raw)}
	var emitted []string
	s.enableCache(cacheCtx{budget: engine.NewCacheBudget(1 << 20)}, func(e *cacheEntry[Windowed[string], int64]) {
		emitted = append(emitted, fmt.Sprintf("%s@%d=%d", e.rec.Key.Key, e.start, e.val.agg))
	})
	if s.cache == nil {
		t.Fatal("no cache")
	}
	put := func(k string, n int64) {
		t.Helper()
		rec := processor.NewRecord(Windowed[string]{Key: k, Start: time.UnixMilli(0), End: time.UnixMilli(1000)}, n, time.UnixMilli(1))
		if cached, err := s.cache.put(k, 0, timestamped[int64]{agg: n, ms: 1}, false, rec); err != nil || !cached {
			t.Fatalf("put %s=%d: cached %v, %v", k, n, cached, err)
		}
	}
	get := func(k string) int64 {
		t.Helper()
		v, _, err := s.fetchTimed(k, 0)
		if err != nil {
			t.Fatal(err)
		}
		return v.agg
	}
	put("a", 1)
	put("a", 2)
	if err := s.cache.flush(); err != nil {
		t.Fatal(err)
	}
	if err := raw.Commit(); err != nil {
		t.Fatal(err)
	}
	put("a", 3)
	put("b", 1)
	if get("a") != 3 {
		t.Fatalf("a = %d before the abort, want 3 from the cache", get("a"))
	}
	raw.Abort()
	if get("a") != 2 || get("b") != 0 {
		t.Fatalf("after the abort a = %d, b = %d; want the committed 2 and none", get("a"), get("b"))
	}
	if err := s.cache.flush(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(emitted, " ") != "a@0=2" {
		t.Fatalf("emitted %v, want only a@0=2: the aborted updates are dropped", emitted)
	}
	// Flushed but not committed: rolled back with the store.
	put("a", 4)
	if err := s.cache.flush(); err != nil {
		t.Fatal(err)
	}
	raw.Abort()
	if get("a") != 2 {
		t.Fatalf("a = %d after aborting a flushed update, want 2", get("a"))
	}
	// A restore writes beneath the cache: the cache is cleared and reads
	// see the restored value (the store's key: segment 0, key length,
	// key, window start 0).
	put("a", 5)
	if err := s.cache.flush(); err != nil {
		t.Fatal(err)
	}
	if err := raw.Commit(); err != nil {
		t.Fatal(err)
	}
	vb, err := ts.Serialize("wcounts", timestamped[int64]{agg: 7, ms: 1})
	if err != nil {
		t.Fatal(err)
	}
	key := binary.BigEndian.AppendUint32(make([]byte, 8), 1)
	key = binary.BigEndian.AppendUint64(append(key, 'a'), 0)
	if err := raw.Restore([]changelog.Record{{Key: key, Value: vb}}, 1); err != nil {
		t.Fatal(err)
	}
	if get("a") != 7 {
		t.Fatalf("a = %d after a restore, want the restored 7", get("a"))
	}
}
