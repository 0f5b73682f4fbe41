package topology_test

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// windowCountTopology counts the records of "in" per key and window into
// the window store "wcounts" and writes the counts to "out"; seen, if
// set, is told every count the aggregation forwards, when it forwards it.
func windowCountTopology(w topology.Windows, seen func(k topology.Windowed[string], n int64), uncached bool) *topology.Topology {
	top := topology.New()
	counts := topology.WindowedCount(topology.StreamOf(top, serde.String, serde.String, "in"), w, "wcounts", serde.String)
	if seen != nil {
		counts = counts.Peek(seen)
	}
	counts.To("out", topology.TimeWindowedSerde(serde.String, w.Size()), serde.Int64)
	if uncached {
		top.WithoutCache("wcounts")
	}
	return top
}

// windowOutput is one windowed count read from "out".
type windowOutput struct {
	key       string
	start, ms int64 // window start, record time
	n         int64
}

func (o windowOutput) String() string { return fmt.Sprintf("%s@%d=%d@%d", o.key, o.start, o.n, o.ms) }

// readWindowCounts reads the windowed counts written to "out" since the
// last call.
func readWindowCounts(t *testing.T, o *testkit.Output[topology.Windowed[string], int64]) []windowOutput {
	t.Helper()
	var out []windowOutput
	for !o.IsEmpty() {
		r, err := o.ReadRecord()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, windowOutput{key: r.Key.Key, start: r.Key.Start.UnixMilli(), ms: r.Timestamp.UnixMilli(), n: r.Value})
	}
	return out
}

// windowKey is a key and window start.
type windowKey struct {
	key   string
	start int64
}

// lastPerWindow is the last count of every key and window in outs.
func lastPerWindow(outs []windowOutput) map[windowKey]int64 {
	m := map[windowKey]int64{}
	for _, o := range outs {
		m[windowKey{o.key, o.start}] = o.n
	}
	return m
}

// windowInputs is the workload of the tests: 10,000 records over 100 keys
// in event-time order, 1,000 per second of event time (10 seconds, 10
// tumbling windows of a second, each with 10 records of every key).
func windowInputs() (keys []string, times []int64) {
	for i := range 10000 {
		keys = append(keys, fmt.Sprintf("k-%d", i%100))
		times = append(times, int64(i))
	}
	return keys, times
}

// windowRun pipes the workload into a driver of the window count
// topology, committing every commitEvery records, and returns the outputs
// of each commit and the changelog records of the store.
func windowRun(t *testing.T, w topology.Windows, uncached bool, cfg testkit.DriverConfig, commitEvery int) (perCommit [][]windowOutput, changelog int64) {
	t.Helper()
	cfg.ManualCommit = true
	d := cacheDriver(t, windowCountTopology(w, nil, uncached), cfg)
	out := testkit.OutputTopic(d, "out", topology.TimeWindowedSerde(serde.String, w.Size()), serde.Int64)
	keys, times := windowInputs()
	pipeCommitting(t, d, keys, times, commitEvery, func() { perCommit = append(perCommit, readWindowCounts(t, out)) })
	return perCommit, d.ChangelogRecords("wcounts")
}

// With the record cache, a windowed count emits and logs one update per
// key and window per commit, with the window's count and time at the
// commit, and ends with the same count per window as without the cache.
func TestWindowCacheOnePerWindowPerCommit(t *testing.T) {
	for _, tc := range []struct {
		name string
		w    topology.Windows
	}{
		{"tumbling", topology.TumblingWindows(time.Second)},
		{"hopping", topology.HoppingWindows(2*time.Second, time.Second)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const commitEvery = 2500
			cached, cachedLog := windowRun(t, tc.w, false, testkit.DriverConfig{}, commitEvery)
			uncached, uncachedLog := windowRun(t, tc.w, true, testkit.DriverConfig{}, commitEvery)

			// What each commit must emit: every window updated since the
			// last commit, once, with its count and latest time so far.
			keys, times := windowInputs()
			size, adv := tc.w.Size().Milliseconds(), tc.w.Advance().Milliseconds()
			count, last := map[windowKey]int64{}, map[windowKey]int64{}
			var updates, nCached, nUncached, logged int
			for c := range len(keys) / commitEvery {
				touched := map[windowKey]bool{}
				newest := int64(0) // the newest window start
				for i := c * commitEvery; i < (c+1)*commitEvery; i++ {
					for s := max(0, times[i]-size+adv) / adv * adv; s <= times[i]; s += adv {
						wk := windowKey{keys[i], s}
						count[wk]++
						last[wk] = times[i]
						touched[wk] = true
						updates++
						newest = max(newest, s)
					}
				}
				// At the flush, the windows behind the store's retention
				// (size: no grace) of the newest window are not written.
				for wk := range touched {
					if wk.start >= newest-size {
						logged++
					}
				}
				got := cached[c]
				nCached += len(got)
				nUncached += len(uncached[c])
				if len(got) != len(touched) {
					t.Fatalf("commit %d: %d outputs, want %d: one per key and window updated", c, len(got), len(touched))
				}
				seen := map[windowKey]bool{}
				for _, o := range got {
					wk := windowKey{o.key, o.start}
					if seen[wk] || !touched[wk] {
						t.Fatalf("commit %d: output %v twice or not updated", c, o)
					}
					seen[wk] = true
					if o.n != count[wk] || o.ms != last[wk] {
						t.Fatalf("commit %d: output %v, want count %d at %d", c, o, count[wk], last[wk])
					}
				}
			}
			final := lastPerWindow(concat(cached))
			if want := lastPerWindow(concat(uncached)); !maps.Equal(final, want) || !maps.Equal(final, count) {
				t.Fatalf("final counts per window differ with the cache: %d windows cached, %d uncached", len(final), len(want))
			}
			t.Logf("%s: %d records, %d window updates: cached %d outputs, %d changelog records; uncached %d outputs, %d changelog records",
				tc.name, len(keys), updates, nCached, cachedLog, nUncached, uncachedLog)
			if nUncached != updates || uncachedLog != int64(updates) || nCached >= updates/5 || cachedLog != int64(logged) {
				t.Fatalf("cached %d outputs, %d changelog records; uncached %d, %d; want one per update uncached, %d cached (one per output of a window within the retention)",
					nCached, cachedLog, nUncached, uncachedLog, logged)
			}
		})
	}
}

func concat(outs [][]windowOutput) []windowOutput {
	var all []windowOutput
	for _, o := range outs {
		all = append(all, o...)
	}
	return all
}

// Before a commit nothing is forwarded or logged, and reads of the store
// see the cached counts.
func TestWindowCacheReadsSeeTheCache(t *testing.T) {
	forwarded := 0
	w := topology.TumblingWindows(time.Second)
	d := cacheDriver(t, windowCountTopology(w, func(topology.Windowed[string], int64) { forwarded++ }, false), testkit.DriverConfig{ManualCommit: true})
	in := testkit.InputTopic(d, "in", serde.String, serde.String)
	for i := range 30 {
		if err := in.PipeAt("a", "v", time.UnixMilli(int64(i))); err != nil {
			t.Fatal(err)
		}
	}
	if forwarded != 0 || d.ChangelogRecords("wcounts") != 0 {
		t.Fatalf("before the commit: %d forwarded, %d changelog records; want none", forwarded, d.ChangelogRecords("wcounts"))
	}
	st, err := testkit.WindowStoreOf[string, int64](d, "wcounts", 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for w, err := range st.Fetch("a", time.UnixMilli(0), time.UnixMilli(0)) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d=%d", w.Start.UnixMilli(), w.Value))
	}
	if strings.Join(got, " ") != "0=30" {
		t.Fatalf("store before the commit: %v, want [0=30] from the cache", got)
	}
	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
	out := testkit.OutputTopic(d, "out", topology.TimeWindowedSerde(serde.String, w.Size()), serde.Int64)
	if got := readWindowCounts(t, out); len(got) != 1 || got[0].String() != "a@0=30@29" {
		t.Fatalf("outputs: %v, want [a@0=30@29]", got)
	}
	if n := d.ChangelogRecords("wcounts"); n != 1 {
		t.Fatalf("changelog records = %d, want 1", n)
	}
}

// With the cache off for the window store, or for the instance, every
// update is written and forwarded; with it on, one per key and window
// (the windows behind the retention at the commit are not written).
func TestWindowCacheOffGivesEveryUpdate(t *testing.T) {
	for _, tc := range []struct {
		name               string
		uncached           bool
		cfg                testkit.DriverConfig
		outputs, changelog int
		first, last        string
	}{
		{"WithoutCache", true, testkit.DriverConfig{}, 10000, 10000, "k-0@0=1@0", "k-99@9000=10@9999"},
		{"CacheMaxBytes<0", false, testkit.DriverConfig{CacheMaxBytes: -1}, 10000, 10000, "k-0@0=1@0", "k-99@9000=10@9999"},
		{"cached", false, testkit.DriverConfig{}, 1000, 200, "k-0@0=10@900", "k-99@9000=10@9999"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			perCommit, changelog := windowRun(t, topology.TumblingWindows(time.Second), tc.uncached, tc.cfg, 10000)
			got := perCommit[0]
			if len(got) != tc.outputs || changelog != int64(tc.changelog) {
				t.Fatalf("%d outputs, %d changelog records; want %d and %d", len(got), changelog, tc.outputs, tc.changelog)
			}
			if got[0].String() != tc.first || got[len(got)-1].String() != tc.last {
				t.Fatalf("first and last outputs %v, %v; want %s, %s", got[0], got[len(got)-1], tc.first, tc.last)
			}
		})
	}
}

// A cache over its bound forwards and writes its least recently used
// windows early, and the final counts are those without the cache.
func TestWindowCacheEvictsEarly(t *testing.T) {
	w := topology.TumblingWindows(time.Second)
	var early []string
	// An entry of a key and window is the key's bytes + 8 + 16 + the
	// overhead (96) bytes: 400 bytes hold three of keys up to 4 bytes.
	d := cacheDriver(t, windowCountTopology(w, func(k topology.Windowed[string], n int64) {
		early = append(early, fmt.Sprintf("%s@%d=%d", k.Key, k.Start.UnixMilli(), n))
	}, false), testkit.DriverConfig{ManualCommit: true, CacheMaxBytes: 400})
	in := testkit.InputTopic(d, "in", serde.String, serde.String)
	out := testkit.OutputTopic(d, "out", topology.TimeWindowedSerde(serde.String, w.Size()), serde.Int64)
	for _, k := range []string{"a", "b", "c", "d"} {
		for range 50 {
			if err := in.PipeAt(k, "v", time.UnixMilli(1)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// d's first update evicted a's window, the least recently used.
	if strings.Join(early, " ") != "a@0=50" {
		t.Fatalf("forwarded before the commit: %v, want [a@0=50]", early)
	}
	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := readWindowCounts(t, out); fmt.Sprint(got) != "[a@0=50@1 b@0=50@1 c@0=50@1 d@0=50@1]" {
		t.Fatalf("outputs: %v", got)
	}
	if n := d.ChangelogRecords("wcounts"); n != 4 {
		t.Fatalf("changelog records = %d, want 4", n)
	}
	// Round robin over 100 keys with room for 3: every update is evicted
	// by the next ones; the final counts are those of a large cache.
	early = nil
	keys, times := windowInputs()
	for i := range keys {
		if err := in.PipeAt(keys[i], "v", time.UnixMilli(times[i])); err != nil {
			t.Fatal(err)
		}
	}
	if len(early) < 9000 {
		t.Fatalf("%d forwarded before the commit by eviction, want nearly every update (room for 3 of 100 keys)", len(early))
	}
	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
	got := readWindowCounts(t, out)
	if n := d.ChangelogRecords("wcounts"); n != 4+int64(len(got)) {
		t.Fatalf("changelog records = %d, want %d (one per output)", n, 4+len(got))
	}
	final := lastPerWindow(got)
	if len(final) != 1000 {
		t.Fatalf("%d windows, want 1000", len(final))
	}
	for wk, n := range final {
		if n != 10 {
			t.Fatalf("final count of %v = %d, want 10", wk, n)
		}
	}
	// The same with room for all: nothing forwarded before the commit.
	perCommit, _ := windowRun(t, w, false, testkit.DriverConfig{}, 10000)
	if !maps.Equal(lastPerWindow(perCommit[0]), final) {
		t.Fatal("final counts differ between a tiny and a large cache")
	}
	t.Logf("tiny cache: %d forwarded early, %d outputs; large cache: %d outputs", len(early), len(got), len(perCommit[0]))
}

// A record for a window that closed is late with the cache as without,
// though the cache holds the window; a cached window that fell behind the
// store's retention before the flush is forwarded but not written to the
// store (its write is dropped, as the store drops it), as Kafka Streams'
// caching window store does.
func TestWindowCacheLateAndExpired(t *testing.T) {
	for _, uncached := range []bool{false, true} {
		t.Run(fmt.Sprintf("uncached=%v", uncached), func(t *testing.T) {
			w := topology.TumblingWindows(10 * time.Millisecond)
			d := cacheDriver(t, windowCountTopology(w, nil, uncached), testkit.DriverConfig{ManualCommit: true})
			in := testkit.InputTopic(d, "in", serde.String, serde.String)
			for _, r := range []struct {
				k  string
				ms int64
			}{{"a", 5}, {"a", 6}, {"b", 100}, {"a", 7}} { // a@7: late, window [0,10) closed at 100
				if err := in.PipeAt(r.k, "v", time.UnixMilli(r.ms)); err != nil {
					t.Fatal(err)
				}
			}
			if err := d.Commit(); err != nil {
				t.Fatal(err)
			}
			if n := d.Dropped(); n != 1 {
				t.Fatalf("dropped %d, want the late record", n)
			}
			got := readWindowCounts(t, testkit.OutputTopic(d, "out", topology.TimeWindowedSerde(serde.String, w.Size()), serde.Int64))
			want := "a@0=2@6 b@100=1@100"
			if uncached {
				want = "a@0=1@5 a@0=2@6 b@100=1@100"
			}
			if fmt.Sprint(got) != "["+want+"]" {
				t.Fatalf("outputs %v, want [%s]", got, want)
			}
			// Cached: a's window was behind the retention (10 ms) of the
			// newest window, 100, at the flush: only b's is written.
			if n, want := d.ChangelogRecords("wcounts"), map[bool]int64{false: 1, true: 3}[uncached]; n != want {
				t.Fatalf("changelog records = %d, want %d", n, want)
			}
		})
	}
}

// A failure in the flush aborts the transaction: the cached window
// updates are dropped with the store's writes and processed again, never
// counted twice.
func TestWindowCacheAbortDropsCachedUpdates(t *testing.T) {
	w := topology.TumblingWindows(time.Second)
	top := topology.New()
	topology.WindowedCount(topology.StreamOf(top, serde.String, serde.String, "in"), w, "wcounts", serde.String).
		FilterErr(func(k topology.Windowed[string], _ int64) (bool, error) {
			if k.Key == "boom" {
				return false, errBoom
			}
			return true, nil
		}).To("out", topology.TimeWindowedSerde(serde.String, w.Size()), serde.Int64)
	d := cacheDriver(t, top, testkit.DriverConfig{ManualCommit: true})
	abortAndRestart(t, d, func() {
		st, err := testkit.WindowStoreOf[string, int64](d, "wcounts", 0)
		if err != nil {
			t.Fatal(err)
		}
		for w, err := range st.Fetch("a", time.UnixMilli(0), time.UnixMilli(0)) {
			if err != nil || w.Value != 5 {
				t.Fatalf("a's window after the abort = %d, %v; want the committed 5", w.Value, err)
			}
		}
	})
	got := readWindowCounts(t, testkit.OutputTopic(d, "out", topology.TimeWindowedSerde(serde.String, w.Size()), serde.Int64))
	if fmt.Sprint(got) != "[a@0=5@5 a@0=6@5]" {
		t.Fatalf("outputs: %v, want a=5 then a=6 (the aborted updates dropped)", got)
	}
	if n := d.ChangelogRecords("wcounts"); n != 2 {
		t.Fatalf("committed changelog records = %d, want 2", n)
	}
}

// Final results (EmitFinal) do not go through the cache: with it on, and
// commits far apart, every window's one result is its final count, as
// with it off, and every update is written to the store (which the same
// windows without EmitFinal collapse).
func TestWindowCacheEmitFinalUnchanged(t *testing.T) {
	w := topology.TumblingWindows(time.Second).EmitFinal()
	results := map[bool][]windowOutput{}
	for _, uncached := range []bool{false, true} {
		perCommit, changelog := windowRun(t, w, uncached, testkit.DriverConfig{}, 2500)
		results[uncached] = concat(perCommit)
		if changelog != 10000 {
			t.Fatalf("uncached=%v: %d changelog records of the window store, want 10000", uncached, changelog)
		}
	}
	if _, changelog := windowRun(t, topology.TumblingWindows(time.Second), false, testkit.DriverConfig{}, 2500); changelog != 800 {
		t.Fatalf("without EmitFinal: %d changelog records, want 800 (cached)", changelog)
	}
	got := results[false]
	if len(got) != 900 { // windows 0..8 closed by the records of window 9
		t.Fatalf("%d final results, want 900", len(got))
	}
	for _, o := range got {
		if o.n != 10 {
			t.Fatalf("final result %v, want a count of 10", o)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(results[true]) {
		t.Fatal("final results differ with the cache on and off")
	}
}
