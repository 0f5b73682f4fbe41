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

// sessionOutput is one session count forwarded (n 0: a tombstone).
type sessionOutput struct {
	key        string
	start, end int64
	n          int64
}

// sessionKey is a key and session.
type sessionKey struct {
	key        string
	start, end int64
}

// sessionCacheRun pipes n random records (5 keys, times rising by 0 to 8
// ms, up to 30 ms out of order) into a session count (gap 20 ms, grace 30
// ms) over the store "sesscounts", committing every commitEvery records,
// and returns the counts forwarded before each commit (the last slice:
// after the last one) and the changelog records of the store.
func sessionCacheRun(t *testing.T, uncached bool, cfg testkit.DriverConfig, n, commitEvery int) (perCommit [][]sessionOutput, changelog int64) {
	t.Helper()
	top := topology.New()
	var outs []sessionOutput
	sessions := topology.SessionWindows(20 * time.Millisecond).WithGrace(30 * time.Millisecond)
	topology.SessionCount(topology.StreamOf(top, serde.String, serde.String, "in"), sessions, "sesscounts", serde.String).
		Peek(func(k topology.Windowed[string], v int64) {
			outs = append(outs, sessionOutput{key: k.Key, start: k.Start.UnixMilli(), end: k.End.UnixMilli(), n: v})
		})
	if uncached {
		top.WithoutCache("sesscounts")
	}
	cfg.ManualCommit = true
	d := cacheDriver(t, top, cfg)
	keys, times := randomInputs(3, 4, n, 9)
	pipeCommitting(t, d, keys, times, commitEvery, func() { perCommit, outs = append(perCommit, outs), nil })
	return append(perCommit, outs), d.ChangelogRecords("sesscounts")
}

// applySessions applies outputs to the live sessions and their counts,
// failing on a tombstone for a session that is not live (forwarded
// before and not deleted since).
func applySessions(t *testing.T, live map[sessionKey]int64, outs []sessionOutput) {
	t.Helper()
	for _, o := range outs {
		sk := sessionKey{o.key, o.start, o.end}
		if o.n != 0 {
			live[sk] = o.n
			continue
		}
		if _, ok := live[sk]; !ok {
			t.Fatalf("tombstone for %v, which was not forwarded before", sk)
		}
		delete(live, sk)
	}
}

// With the record cache, a session count forwards one update per session
// per commit: for every session updated since the last commit, its count
// at the commit (equal to the uncached run's last), or its tombstone if it
// was merged away and had been forwarded at an earlier commit; a session
// made and merged away between two commits forwards nothing. Nothing is
// forwarded before a commit.
func TestSessionCacheOnePerSessionPerCommit(t *testing.T) {
	const n, commitEvery = 3000, 250
	cached, cachedLog := sessionCacheRun(t, false, testkit.DriverConfig{}, n, commitEvery)
	uncached, uncachedLog := sessionCacheRun(t, false, testkit.DriverConfig{CacheMaxBytes: -1}, n, commitEvery)
	var nCached, nUncached int
	skipped := map[sessionKey]bool{}
	liveCached, liveUncached := map[sessionKey]int64{}, map[sessionKey]int64{}
	for c := range cached {
		nCached += len(cached[c])
		nUncached += len(uncached[c])
		before := maps.Clone(liveUncached)
		applySessions(t, liveUncached, uncached[c])
		want := map[sessionKey]int64{}
		for _, o := range uncached[c] {
			sk := sessionKey{o.key, o.start, o.end}
			if _, ok := liveUncached[sk]; ok {
				want[sk] = liveUncached[sk]
			} else if _, ok := before[sk]; ok {
				want[sk] = 0 // deleted, forwarded before: a tombstone
			} else {
				skipped[sk] = true
			}
		}
		got := map[sessionKey]int64{}
		for _, o := range cached[c] {
			sk := sessionKey{o.key, o.start, o.end}
			if _, dup := got[sk]; dup {
				t.Fatalf("commit %d: session %v forwarded twice", c, sk)
			}
			got[sk] = o.n
		}
		if !maps.Equal(got, want) {
			t.Fatalf("commit %d: cached outputs %v\nwant %v", c, got, want)
		}
		// Oldest dirty first: by each session's first update in the commit.
		var order, wantOrder []sessionKey
		for _, o := range cached[c] {
			order = append(order, sessionKey{o.key, o.start, o.end})
		}
		seen := map[sessionKey]bool{}
		for _, o := range uncached[c] {
			if sk := (sessionKey{o.key, o.start, o.end}); !seen[sk] && !skipped[sk] {
				seen[sk] = true
				wantOrder = append(wantOrder, sk)
			}
		}
		if fmt.Sprint(order) != fmt.Sprint(wantOrder) {
			t.Fatalf("commit %d: cached outputs in the order %v, want by first update %v", c, order, wantOrder)
		}
		applySessions(t, liveCached, cached[c])
	}
	if len(cached[len(cached)-1]) != 0 {
		t.Fatalf("forwarded without a commit: %v", cached[len(cached)-1])
	}
	if !maps.Equal(liveCached, liveUncached) {
		t.Fatal("live sessions differ with the cache")
	}
	t.Logf("%d records: cached %d outputs, %d changelog records; uncached %d outputs, %d changelog records; %d sessions made and merged away between commits",
		n, nCached, cachedLog, nUncached, uncachedLog, len(skipped))
	if nCached*2 > nUncached || cachedLog > int64(nCached) || uncachedLog != int64(nUncached) || len(skipped) == 0 {
		t.Fatalf("cached %d outputs, %d changelog records; uncached %d and %d", nCached, cachedLog, nUncached, uncachedLog)
	}
}

// A tiny cache forwards and writes its least recently used sessions early
// and loses nothing: the live sessions at the end are the uncached ones,
// and every tombstone is of a session forwarded before.
func TestSessionCacheEvictsEarly(t *testing.T) {
	const n, commitEvery = 3000, 1000
	tiny, tinyLog := sessionCacheRun(t, false, testkit.DriverConfig{CacheMaxBytes: 500}, n, commitEvery)
	large, _ := sessionCacheRun(t, false, testkit.DriverConfig{}, n, commitEvery)
	uncached, _ := sessionCacheRun(t, false, testkit.DriverConfig{CacheMaxBytes: -1}, n, commitEvery)
	liveTiny, liveLarge, want := map[sessionKey]int64{}, map[sessionKey]int64{}, map[sessionKey]int64{}
	applySessions(t, liveTiny, concatSessions(tiny))
	applySessions(t, liveLarge, concatSessions(large))
	applySessions(t, want, concatSessions(uncached))
	if !maps.Equal(liveTiny, want) || !maps.Equal(liveLarge, want) {
		t.Fatalf("live sessions differ: tiny cache %d, large %d, uncached %d", len(liveTiny), len(liveLarge), len(want))
	}
	t.Logf("tiny cache: %d outputs, %d changelog records; large cache: %d outputs; uncached %d",
		len(concatSessions(tiny)), tinyLog, len(concatSessions(large)), len(concatSessions(uncached)))
	if len(concatSessions(tiny)) <= len(concatSessions(large)) {
		t.Fatal("want more outputs with a tiny cache (evicted early)")
	}
}

// With the cache off for the store (WithoutCache), every update and
// tombstone is forwarded and logged at once, as with the cache off for
// the instance.
func TestSessionCacheOffGivesEveryUpdate(t *testing.T) {
	const n = 1000
	off, offLog := sessionCacheRun(t, true, testkit.DriverConfig{}, n, n)
	none, noneLog := sessionCacheRun(t, false, testkit.DriverConfig{CacheMaxBytes: -1}, n, n)
	on, onLog := sessionCacheRun(t, false, testkit.DriverConfig{}, n, n)
	if fmt.Sprint(off) != fmt.Sprint(none) || offLog != noneLog || offLog != int64(len(off[0])) {
		t.Fatalf("WithoutCache: %d outputs, %d changelog records; want those without a cache: %d and %d", len(off[0]), offLog, len(none[0]), noneLog)
	}
	if len(on[0]) >= len(off[0]) || onLog >= offLog {
		t.Fatalf("cached: %d outputs, %d changelog records; want fewer than without: %d and %d", len(on[0]), onLog, len(off[0]), offLog)
	}
}

func concatSessions(outs [][]sessionOutput) []sessionOutput {
	var all []sessionOutput
	for _, o := range outs {
		all = append(all, o...)
	}
	return all
}

// An aborted transaction drops the cached session updates with the store's
// writes: the store holds the committed session after it, and the outputs
// are the committed count, then the count of the next commit.
func TestSessionCacheAbortDropsCachedUpdates(t *testing.T) {
	top := topology.New()
	topology.SessionCount(topology.StreamOf(top, serde.String, serde.String, "in"), topology.SessionWindows(time.Second), "sesscounts", serde.String).
		FilterErr(func(k topology.Windowed[string], _ int64) (bool, error) {
			if k.Key == "boom" {
				return false, errBoom
			}
			return true, nil
		}).To("out", topology.SessionWindowedSerde(serde.String), serde.Int64)
	d := cacheDriver(t, top, testkit.DriverConfig{ManualCommit: true})
	abortAndRestart(t, d, func() {
		st, err := testkit.SessionStoreOf[string, int64](d, "sesscounts", 0)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for kv, err := range st.FindSessions("a", time.UnixMilli(0), time.UnixMilli(100)) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("[%d,%d]=%d", kv.Key.Start.UnixMilli(), kv.Key.End.UnixMilli(), kv.Value))
		}
		if fmt.Sprint(got) != "[[5,5]=5]" {
			t.Fatalf("a's sessions after the abort: %v, want the committed [[5,5]=5]", got)
		}
	})
	out := testkit.OutputTopic(d, "out", topology.SessionWindowedSerde(serde.String), serde.Int64)
	var got []string
	for !out.IsEmpty() {
		r, err := out.ReadRecord()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s[%d,%d]=%d", r.Key.Key, r.Key.Start.UnixMilli(), r.Key.End.UnixMilli(), r.Value))
	}
	if fmt.Sprint(got) != "[a[5,5]=5 a[5,5]=6]" {
		t.Fatalf("outputs: %v, want a=5 then a=6 (the aborted updates dropped)", got)
	}
	if n := d.ChangelogRecords("sesscounts"); n != 2 {
		t.Fatalf("committed changelog records = %d, want 2", n)
	}
}

// Before a commit nothing is forwarded or logged, and a read of the
// session store sees the cached sessions (merged over the store's; not
// forwarded until the commit).
func TestSessionCacheReadsSeeTheCache(t *testing.T) {
	top := topology.New()
	var forwarded []string
	topology.SessionCount(topology.StreamOf(top, serde.String, serde.String, "in"), topology.SessionWindows(time.Second), "sesscounts", serde.String).
		Peek(func(k topology.Windowed[string], n int64) {
			forwarded = append(forwarded, fmt.Sprintf("%s[%d,%d]=%d", k.Key, k.Start.UnixMilli(), k.End.UnixMilli(), n))
		})
	d := cacheDriver(t, top, testkit.DriverConfig{ManualCommit: true})
	in := testkit.InputTopic(d, "in", serde.String, serde.String)
	st, err := testkit.SessionStoreOf[string, int64](d, "sesscounts", 0)
	if err != nil {
		t.Fatal(err)
	}
	read := func() string {
		t.Helper()
		var got []string
		for kv, err := range st.FindSessions("a", time.UnixMilli(0), time.UnixMilli(100)) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("[%d,%d]=%d", kv.Key.Start.UnixMilli(), kv.Key.End.UnixMilli(), kv.Value))
		}
		return fmt.Sprint(got)
	}
	// Read after each record: [5,5]=1, [5,6]=2, [5,7]=3.
	for i, ms := range []int64{5, 6, 7} {
		if err := in.PipeAt("a", "v", time.UnixMilli(ms)); err != nil {
			t.Fatal(err)
		}
		if got, want := read(), fmt.Sprintf("[[5,%d]=%d]", ms, i+1); got != want {
			t.Fatalf("store before the commit: %v, want %s from the cache", got, want)
		}
	}
	if len(forwarded) != 0 || d.ChangelogRecords("sesscounts") != 0 {
		t.Fatalf("before the commit: forwarded %v, %d changelog records; want none", forwarded, d.ChangelogRecords("sesscounts"))
	}
	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
	// [5,5] and [5,6] were made and merged away before the commit (and
	// read, which writes nothing): no tombstones.
	if fmt.Sprint(forwarded) != "[a[5,7]=3]" {
		t.Fatalf("forwarded %v, want [a[5,7]=3]", forwarded)
	}
	if n := d.ChangelogRecords("sesscounts"); n != 1 {
		t.Fatalf("changelog records = %d, want 1", n)
	}
}
