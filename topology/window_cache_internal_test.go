package topology

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/samsa-streams/samsa/internal/engine"
	"github.com/samsa-streams/samsa/internal/stores"
	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
)

// TestWindowCacheFollowsTransactions: the cache of a window store follows
// its store's transactions (testFollowsTransactions), for window 0.
func TestWindowCacheFollowsTransactions(t *testing.T) {
	raw := openRaw(t, "wcounts")
	ts := timestampedSerde[int64]{serde.Int64}
	b := raw.Windows(time.Second, 3)
	s := &timestampedWindowStore[string, int64]{raw: b, base: raw, key: serde.String, value: ts,
		inner: stores.WrapWindowStore(b, serde.String, serde.Serde[timestamped[int64]](ts)), clock: newStreamClock(raw)}
	var emitted []string
	s.enableCache(cacheCtx{budget: engine.NewCacheBudget(1 << 20)}, func(e *cacheEntry[Windowed[string], int64]) {
		emitted = append(emitted, fmt.Sprintf("%s=%d", e.rec.Key.Key, e.val.agg))
	})
	if s.cache == nil {
		t.Fatal("no cache")
	}
	// The store's key of a's window 0: segment 0, key length, key, start.
	key := binary.BigEndian.AppendUint32(make([]byte, 8), 1)
	key = binary.BigEndian.AppendUint64(append(key, 'a'), 0)
	testFollowsTransactions(t, cachedStore{
		raw: raw,
		put: func(k string, n int64) error {
			rec := processor.NewRecord(Windowed[string]{Key: k, Start: time.UnixMilli(0), End: time.UnixMilli(1000)}, n, time.UnixMilli(1))
			cached, err := s.cache.put(k, 0, timestamped[int64]{agg: n, ms: 1}, false, rec)
			if err == nil && !cached {
				err = fmt.Errorf("window 0 of %s not cached", k)
			}
			return err
		},
		get: func(k string) (int64, error) {
			v, _, err := s.fetchTimed(k, 0)
			return v.agg, err
		},
		flush:      func() error { return s.cache.flush() },
		emitted:    &emitted,
		restoreKey: key,
	})
}
