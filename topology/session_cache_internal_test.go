package topology

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streams/samsa/internal/engine"
	"github.com/samsa-streams/samsa/internal/stores"
	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
)

// TestSessionCacheFollowsTransactions: an aborted transaction drops the
// session cache's updates (the records are processed again by the same
// task, which must read the committed sessions), with no restart between.
func TestSessionCacheFollowsTransactions(t *testing.T) {
	raw := openRaw(t, "sesscounts")
	s := &clockedSessionStore[string, int64]{SessionStore: stores.WrapSessionStore(raw.Sessions(time.Second, 3), serde.String, serde.Int64),
		raw: raw, key: serde.String, value: serde.Int64, clock: newStreamClock(raw)}
	var emitted []string
	s.enableCache(cacheCtx{budget: engine.NewCacheBudget(1 << 20)}, func(r processor.Record[Windowed[string], int64]) {
		emitted = append(emitted, fmt.Sprintf("%s[%d,%d]=%d", r.Key.Key, r.Key.Start.UnixMilli(), r.Key.End.UnixMilli(), r.Value))
	})
	if s.cache == nil {
		t.Fatal("no cache")
	}
	put := func(end, n int64) {
		t.Helper()
		sess := processor.Session[string]{Key: "a", Start: time.UnixMilli(0), End: time.UnixMilli(end)}
		rec := processor.NewRecord(Windowed[string]{Key: "a", Start: sess.Start, End: sess.End}, n, sess.End)
		if cached, err := s.update(sess, n, false, rec); err != nil || !cached {
			t.Fatalf("update: cached %v, %v", cached, err)
		}
	}
	find := func() string {
		t.Helper()
		ss, err := s.findSessions("a", 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, kv := range ss {
			out = append(out, fmt.Sprintf("[%d,%d]=%d", kv.Key.Start.UnixMilli(), kv.Key.End.UnixMilli(), kv.Value))
		}
		return strings.Join(out, " ")
	}
	put(0, 1)
	if err := s.cache.flush(); err != nil {
		t.Fatal(err)
	}
	if err := raw.Commit(); err != nil {
		t.Fatal(err)
	}
	put(10, 2)
	if got := find(); got != "[0,0]=1 [0,10]=2" {
		t.Fatalf("before the abort: %s, want the cached [0,10] over the store", got)
	}
	raw.Abort()
	if got := find(); got != "[0,0]=1" {
		t.Fatalf("after the abort: %s, want the committed [0,0]=1", got)
	}
	if err := s.cache.flush(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(emitted, " "); got != "a[0,0]=1" {
		t.Fatalf("emitted %s, want only a[0,0]=1: the aborted update is dropped", got)
	}
}
