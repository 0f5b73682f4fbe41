package topology_test

import (
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// slidingCacheWindows are the sliding windows of the sliding cache tests:
// a time difference of 50 ms and a grace of 40 ms.
var slidingCacheWindows = topology.SlidingWindows(50 * time.Millisecond).WithGrace(40 * time.Millisecond)

// slidingCacheRun pipes n random records (5 keys, times rising by 0 to 5
// ms, up to 30 ms out of order) into a sliding count over the store
// "scounts", committing every commitEvery records, and returns the counts
// forwarded before each commit (the last slice: after the last one) and
// the changelog records of the store.
func slidingCacheRun(t *testing.T, uncached bool, cfg testkit.DriverConfig, n, commitEvery int) (perCommit [][]windowOutput, changelog int64) {
	t.Helper()
	top := topology.New()
	var outs []windowOutput
	topology.SlidingCount(topology.StreamOf(top, serde.String, serde.String, "in"), slidingCacheWindows, "scounts", serde.String).
		Peek(func(k topology.Windowed[string], v int64) {
			outs = append(outs, windowOutput{key: k.Key, start: k.Start.UnixMilli(), n: v})
		})
	if uncached {
		top.WithoutCache("scounts")
	}
	cfg.ManualCommit = true
	d := cacheDriver(t, top, cfg)
	keys, times := randomInputs(1, 2, n, 6)
	pipeCommitting(t, d, keys, times, commitEvery, func() { perCommit, outs = append(perCommit, outs), nil })
	return append(perCommit, outs), d.ChangelogRecords("scounts")
}

// With the record cache, a sliding count forwards and logs one update per
// key and window per commit: at each commit, for every window updated
// since the last one, the count the uncached aggregation forwarded last
// (which needs the aggregation's range reads to see the cached windows,
// the new ones included); and nothing before the commit.
func TestSlidingCacheOnePerWindowPerCommit(t *testing.T) {
	const n, commitEvery = 3000, 250
	cached, cachedLog := slidingCacheRun(t, false, testkit.DriverConfig{}, n, commitEvery)
	uncached, uncachedLog := slidingCacheRun(t, false, testkit.DriverConfig{CacheMaxBytes: -1}, n, commitEvery)
	var nCached, nUncached int
	for c := range cached {
		nCached += len(cached[c])
		nUncached += len(uncached[c])
		want := lastPerWindow(uncached[c])
		got := lastPerWindow(cached[c])
		if len(got) != len(cached[c]) {
			t.Fatalf("commit %d: %d outputs for %d windows, want one per window", c, len(cached[c]), len(got))
		}
		if !maps.Equal(got, want) {
			t.Fatalf("commit %d: cached outputs %v\nwant the uncached run's last per window %v", c, got, want)
		}
		// Oldest dirty first: by each window's first update in the commit.
		var order, wantOrder []windowKey
		for _, o := range cached[c] {
			order = append(order, windowKey{o.key, o.start})
		}
		seen := map[windowKey]bool{}
		for _, o := range uncached[c] {
			if wk := (windowKey{o.key, o.start}); !seen[wk] {
				seen[wk] = true
				wantOrder = append(wantOrder, wk)
			}
		}
		if fmt.Sprint(order) != fmt.Sprint(wantOrder) {
			t.Fatalf("commit %d: cached outputs in the order %v, want by first update %v", c, order, wantOrder)
		}
	}
	if len(cached[len(cached)-1]) != 0 {
		t.Fatalf("forwarded without a commit: %v", cached[len(cached)-1])
	}
	t.Logf("%d records: cached %d outputs, %d changelog records; uncached %d outputs, %d changelog records",
		n, nCached, cachedLog, nUncached, uncachedLog)
	if nCached*2 > nUncached || cachedLog > int64(nCached) || uncachedLog != int64(nUncached) {
		t.Fatalf("cached %d outputs, %d changelog records; uncached %d and %d", nCached, cachedLog, nUncached, uncachedLog)
	}
}

// A tiny cache forwards and writes its least recently used windows early
// and loses nothing: the last count of every window is the uncached one.
func TestSlidingCacheEvictsEarly(t *testing.T) {
	const n, commitEvery = 3000, 1000
	tiny, tinyLog := slidingCacheRun(t, false, testkit.DriverConfig{CacheMaxBytes: 500}, n, commitEvery)
	large, _ := slidingCacheRun(t, false, testkit.DriverConfig{}, n, commitEvery)
	uncached, _ := slidingCacheRun(t, false, testkit.DriverConfig{CacheMaxBytes: -1}, n, commitEvery)
	final, want := lastPerWindow(concat(tiny)), lastPerWindow(concat(uncached))
	if !maps.Equal(final, want) || !maps.Equal(lastPerWindow(concat(large)), want) {
		t.Fatalf("final counts per window differ with a tiny cache: %d windows, want %d", len(final), len(want))
	}
	t.Logf("tiny cache: %d outputs, %d changelog records; large cache: %d outputs; uncached %d",
		len(concat(tiny)), tinyLog, len(concat(large)), len(concat(uncached)))
	if len(concat(tiny)) <= len(concat(large)) {
		t.Fatalf("tiny cache: %d outputs, large: %d; want more evicted early", len(concat(tiny)), len(concat(large)))
	}
}

// With the cache off for the store (WithoutCache), every update is
// forwarded and logged at once, as with the cache off for the instance.
func TestSlidingCacheOffGivesEveryUpdate(t *testing.T) {
	const n = 1000
	off, offLog := slidingCacheRun(t, true, testkit.DriverConfig{}, n, n)
	none, noneLog := slidingCacheRun(t, false, testkit.DriverConfig{CacheMaxBytes: -1}, n, n)
	on, onLog := slidingCacheRun(t, false, testkit.DriverConfig{}, n, n)
	if fmt.Sprint(off) != fmt.Sprint(none) || offLog != noneLog || offLog != int64(len(off[0])) {
		t.Fatalf("WithoutCache: %d outputs, %d changelog records; want those without a cache: %d and %d", len(off[0]), offLog, len(none[0]), noneLog)
	}
	if len(on[0]) >= len(off[0]) || onLog >= offLog {
		t.Fatalf("cached: %d outputs, %d changelog records; want fewer than without: %d and %d", len(on[0]), onLog, len(off[0]), offLog)
	}
}
