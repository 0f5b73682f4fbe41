package topology_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// countTopology counts the records of "in" per key into the store
// "counts" and writes the counts to "out"; seen, if set, is told every
// count the aggregation forwards, when it forwards it.
func countTopology(seen func(k string, n int64), uncached bool) *topology.Topology {
	top := topology.New()
	counts := topology.Count(topology.StreamOf(top, serde.String, serde.String, "in"), "counts", serde.String)
	if seen != nil {
		counts = counts.Peek(seen)
	}
	counts.To("out", serde.String, serde.Int64)
	if uncached {
		top.WithoutCache("counts")
	}
	return top
}

// countOutputs are the handles that readCounts reads "out" with.
var countOutputs = map[*testkit.Driver]*testkit.Output[string, int64]{}

// randomInputs returns n records' keys (5 of them) and times (ms): rising
// from 100 by 0 to step-1, each up to 30 earlier (out of order), from a
// seeded generator.
func randomInputs(seed1, seed2 uint64, n int, step int64) (keys []string, times []int64) {
	rng := rand.New(rand.NewPCG(seed1, seed2))
	now := int64(100)
	for range n {
		now += rng.Int64N(step)
		times = append(times, max(0, now-rng.Int64N(31)))
		keys = append(keys, fmt.Sprintf("k%d", rng.IntN(5)))
	}
	return keys, times
}

// pipeCommitting pipes records of keys and times (ms) into the topic "in"
// of d, which commits by hand, committing every commitEvery records and
// calling committed after each commit.
func pipeCommitting(t *testing.T, d *testkit.Driver, keys []string, times []int64, commitEvery int, committed func()) {
	t.Helper()
	in := testkit.InputTopic(d, "in", serde.String, serde.String)
	for i := range keys {
		if err := in.PipeAt(keys[i], "v", time.UnixMilli(times[i])); err != nil {
			t.Fatal(err)
		}
		if (i+1)%commitEvery == 0 {
			if err := d.Commit(); err != nil {
				t.Fatal(err)
			}
			committed()
		}
	}
}

func cacheDriver(t *testing.T, top *topology.Topology, cfg testkit.DriverConfig) *testkit.Driver {
	t.Helper()
	d, err := testkit.NewDriver(top, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// pipeRounds pipes rounds × keys records, key k-i of round r at time
// 1000*r + i, round-robin over the keys.
func pipeRounds(t *testing.T, in *testkit.Input[string, string], keys, rounds int) {
	t.Helper()
	for r := range rounds {
		for i := range keys {
			if err := in.PipeAt(fmt.Sprintf("k-%d", i), "v", time.UnixMilli(int64(1000*r+i))); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// readCounts reads the counts written to "out" since the last call.
func readCounts(t *testing.T, d *testkit.Driver) []string {
	t.Helper()
	o := countOutputs[d]
	if o == nil {
		o = testkit.OutputTopic(d, "out", serde.String, serde.Int64)
		countOutputs[d] = o
	}
	var out []string
	for !o.IsEmpty() {
		r, err := o.ReadRecord()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s=%d@%d", r.Key, r.Value, r.Timestamp.UnixMilli()))
	}
	return out
}

// 1,000 updates of 10 keys between two commits: one output and one
// changelog record per key, with the last count and time.
func TestCacheCollapsesUpdatesBetweenCommits(t *testing.T) {
	forwarded := 0
	d := cacheDriver(t, countTopology(func(string, int64) { forwarded++ }, false), testkit.DriverConfig{ManualCommit: true})
	in := testkit.InputTopic(d, "in", serde.String, serde.String)
	pipeRounds(t, in, 10, 100)
	if forwarded != 0 || d.ChangelogRecords("counts") != 0 || len(readCounts(t, d)) != 0 {
		t.Fatalf("before the commit: %d forwarded, %d changelog records: want none", forwarded, d.ChangelogRecords("counts"))
	}
	// Reads see the cache.
	st, err := testkit.KeyValueStoreOf[string, int64](d, "counts", 0)
	if err != nil {
		t.Fatal(err)
	}
	if n, ok, err := st.Get("k-3"); err != nil || !ok || n != 100 {
		t.Fatalf("store k-3 before the commit = %d, %v, %v; want 100 from the cache", n, ok, err)
	}
	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 10 {
		want = append(want, fmt.Sprintf("k-%d=100@%d", i, 99*1000+i))
	}
	if got := readCounts(t, d); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("outputs after 1,000 updates and a commit:\n got %v\nwant %v", got, want)
	}
	if n := d.ChangelogRecords("counts"); n != 10 {
		t.Fatalf("changelog records = %d, want 10 (one per key)", n)
	}
	// The next interval counts on from the committed counts.
	pipeRounds(t, in, 10, 1)
	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
	got := readCounts(t, d)
	if len(got) != 10 || got[0] != "k-0=101@99000" || got[9] != "k-9=101@99009" {
		t.Fatalf("second interval: %v", got)
	}
	if n := d.ChangelogRecords("counts"); n != 20 {
		t.Fatalf("changelog records = %d, want 20", n)
	}
}

// With the cache off for the store, or the driver's commit after every
// record, every update is written and forwarded.
func TestCacheOffGivesEveryUpdate(t *testing.T) {
	for _, tc := range []struct {
		name     string
		uncached bool
		cfg      testkit.DriverConfig
	}{
		{"WithoutCache", true, testkit.DriverConfig{ManualCommit: true}},
		{"CacheMaxBytes<0", false, testkit.DriverConfig{ManualCommit: true, CacheMaxBytes: -1}},
		{"commit per record", false, testkit.DriverConfig{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := cacheDriver(t, countTopology(nil, tc.uncached), tc.cfg)
			pipeRounds(t, testkit.InputTopic(d, "in", serde.String, serde.String), 10, 100)
			if err := d.Commit(); err != nil {
				t.Fatal(err)
			}
			got := readCounts(t, d)
			if len(got) != 1000 || d.ChangelogRecords("counts") != 1000 {
				t.Fatalf("%d outputs, %d changelog records; want 1000 of each", len(got), d.ChangelogRecords("counts"))
			}
			if got[0] != "k-0=1@0" || got[999] != "k-9=100@99009" {
				t.Fatalf("first and last outputs %s, %s", got[0], got[999])
			}
		})
	}
}

// A cache over its bound forwards and writes its least recently used
// keys early, and loses no update.
func TestCacheEvictsEarlyAndLosesNothing(t *testing.T) {
	var seen []string
	// An entry of Count with a one-byte key is 1 + 16 + the overhead
	// (96) bytes: 250 bytes hold two.
	d := cacheDriver(t, countTopology(func(k string, n int64) { seen = append(seen, fmt.Sprintf("%s=%d", k, n)) }, false),
		testkit.DriverConfig{ManualCommit: true, CacheMaxBytes: 250})
	in := testkit.InputTopic(d, "in", serde.String, serde.String)
	for _, k := range []string{"a", "b", "c"} {
		for range 50 {
			if err := in.PipeAt(k, "v", time.UnixMilli(1)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// c's first update evicted a, the least recently used.
	if strings.Join(seen, " ") != "a=50" {
		t.Fatalf("forwarded before the commit: %v, want [a=50]", seen)
	}
	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := readCounts(t, d); strings.Join(got, " ") != "a=50@1 b=50@1 c=50@1" {
		t.Fatalf("outputs: %v", got)
	}
	if n := d.ChangelogRecords("counts"); n != 3 {
		t.Fatalf("changelog records = %d, want 3", n)
	}
	// Round robin over 10 keys with room for 2: every update is evicted
	// by the next ones; nothing is lost.
	pipeRounds(t, in, 10, 30)
	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
	last := map[string]string{}
	got := readCounts(t, d)
	for _, s := range got {
		k, v, _ := strings.Cut(s, "=")
		last[k] = v
	}
	if len(got) < 290 {
		t.Fatalf("%d outputs for 300 updates of 10 keys with room for 2: want about one each", len(got))
	}
	for i := range 10 {
		if k := fmt.Sprintf("k-%d", i); last[k] != fmt.Sprintf("30@%d", 29000+i) {
			t.Fatalf("last output of %s = %s, want 30@%d", k, last[k], 29000+i)
		}
	}
	if n := d.ChangelogRecords("counts"); n != 3+int64(len(got)) {
		t.Fatalf("changelog records = %d, want %d (one per output)", n, 3+len(got))
	}
}

var errBoom = errors.New("boom")

// failTopology counts per key and fails downstream on the key "boom".
func failTopology() *topology.Topology {
	top := topology.New()
	counts := topology.Count(topology.StreamOf(top, serde.String, serde.String, "in"), "counts", serde.String)
	counts.FilterErr(func(k string, _ int64) (bool, error) {
		if k == "boom" {
			return false, errBoom
		}
		return true, nil
	}).To("out", serde.String, serde.Int64)
	return top
}

// abortAndRestart runs the abort scenario of the cache tests on a driver
// of a topology that counts "in" and fails downstream on the key "boom":
// five "a" committed, three more and a "boom" aborted by the flush, a
// restart, then check (the store after it) and one more "a" committed.
func abortAndRestart(t *testing.T, d *testkit.Driver, check func()) {
	t.Helper()
	in := testkit.InputTopic(d, "in", serde.String, serde.String)
	pipe := func(keys ...string) {
		t.Helper()
		for _, k := range keys {
			if err := in.PipeAt(k, "v", time.UnixMilli(5)); err != nil {
				t.Fatal(err)
			}
		}
	}
	pipe("a", "a", "a", "a", "a")
	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
	pipe("a", "a", "a", "boom")
	if err := d.Commit(); !errors.Is(err, errBoom) {
		t.Fatalf("commit = %v, want the downstream error", err)
	}
	if err := d.Restart(); err != nil {
		t.Fatal(err)
	}
	check()
	pipe("a")
	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
}

// A failure in the flush aborts the transaction: the cached updates are
// dropped with the stores' writes and processed again, never counted twice.
func TestCacheAbortDropsCachedUpdates(t *testing.T) {
	d := cacheDriver(t, failTopology(), testkit.DriverConfig{ManualCommit: true})
	abortAndRestart(t, d, func() {
		st, err := testkit.KeyValueStoreOf[string, int64](d, "counts", 0)
		if err != nil {
			t.Fatal(err)
		}
		if n, _, err := st.Get("a"); err != nil || n != 5 {
			t.Fatalf("a after the abort = %d, %v; want the committed 5", n, err)
		}
	})
	if got := readCounts(t, d); strings.Join(got, " ") != "a=5@5 a=6@5" {
		t.Fatalf("outputs: %v, want a=5 then a=6 (the aborted updates dropped)", got)
	}
	if n := d.ChangelogRecords("counts"); n != 2 {
		t.Fatalf("committed changelog records = %d, want 2", n)
	}
}

// Under a skipping policy a failing flushed update is skipped alone, as a
// failing record is: the other keys of the flush are forwarded.
func TestCacheFlushErrorSkipped(t *testing.T) {
	d := cacheDriver(t, failTopology(), testkit.DriverConfig{ManualCommit: true, Errors: samsa.ErrorPolicies{Processing: samsa.Skip}})
	in := testkit.InputTopic(d, "in", serde.String, serde.String)
	for _, k := range []string{"a", "boom", "b", "a"} {
		if err := in.PipeAt(k, "v", time.UnixMilli(5)); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := readCounts(t, d); strings.Join(got, " ") != "a=2@5 b=1@5" {
		t.Fatalf("outputs: %v", got)
	}
	if d.Skipped() != 1 {
		t.Fatalf("skipped %d, want 1", d.Skipped())
	}
}

// Grouped-table aggregations cache too: one update per group and commit,
// whose old value is the group's aggregate at the last commit, so that a
// table aggregated from it (counts of counts) subtracts the right values.
func TestCacheTableAggregation(t *testing.T) {
	for _, cached := range []bool{true, false} {
		t.Run(fmt.Sprintf("cached=%v", cached), func(t *testing.T) {
			top := topology.New()
			users := topology.TableOf(top, "users", "users", serde.String, serde.String)
			perCountry := topology.TableCount(topology.GroupTable(users, "by-country", func(_, c string) (string, string) { return c, c }, serde.String, serde.String), "per-country")
			perCountry.ToStream().To("counts", serde.String, serde.Int64)
			// How many countries have each number of users.
			topology.TableCount(topology.GroupTable(perCountry, "by-count", func(_ string, n int64) (string, string) { return fmt.Sprint(n), "" }, serde.String, serde.String), "count-of-counts").
				ToStream().To("sizes", serde.String, serde.Int64)
			if !cached {
				top.WithoutCache("per-country", "count-of-counts")
			}
			d := cacheDriver(t, top, testkit.DriverConfig{ManualCommit: true, DefaultPartitions: 2})
			in := testkit.InputTopic(d, "users", serde.String, serde.String)
			counts := testkit.OutputTopic(d, "counts", serde.String, serde.Int64)
			sizes := testkit.OutputTopic(d, "sizes", serde.String, serde.Int64)
			move := func(moves ...string) {
				t.Helper()
				for i := 0; i < len(moves); i += 2 {
					if err := in.Pipe(moves[i], moves[i+1]); err != nil {
						t.Fatal(err)
					}
				}
				if err := d.Commit(); err != nil {
					t.Fatal(err)
				}
			}
			// FR: u1 u2 u3 (3), US: u4 (1).
			move("u1", "FR", "u2", "FR", "u3", "US", "u4", "US", "u3", "FR")
			// FR: u2 u3 (2), US: u4 u1 (2).
			move("u1", "US")
			nCounts := counts.QueueSize()
			got, err := testkit.ReadKeyValuesToMap(counts)
			if err != nil {
				t.Fatal(err)
			}
			gotSizes, err := testkit.ReadKeyValuesToMap(sizes)
			if err != nil {
				t.Fatal(err)
			}
			if got["FR"] != 2 || got["US"] != 2 {
				t.Fatalf("counts %v, want FR=2 US=2", got)
			}
			if gotSizes["1"] != 0 || gotSizes["2"] != 2 || gotSizes["3"] != 0 {
				t.Fatalf("countries per size %v, want 1→0, 2→2, 3→0", gotSizes)
			}
			// Cached: one update per country and commit (4); uncached: one
			// per user move, two for a move between countries (8).
			if want := map[bool]int{true: 4, false: 8}[cached]; nCounts != want {
				t.Fatalf("%d updates of the counts, want %d", nCounts, want)
			}
		})
	}
}

// A restart drops the work not committed, cached updates included, as a
// crash does; the committed counts go on.
func TestCacheRestartDropsUncommitted(t *testing.T) {
	for _, uncached := range []bool{false, true} {
		t.Run(fmt.Sprintf("uncached=%v", uncached), func(t *testing.T) { testRestartDropsUncommitted(t, uncached) })
	}
}

func testRestartDropsUncommitted(t *testing.T, uncached bool) {
	d := cacheDriver(t, countTopology(nil, uncached), testkit.DriverConfig{ManualCommit: true})
	in := testkit.InputTopic(d, "in", serde.String, serde.String)
	pipe := func(n int) {
		t.Helper()
		for range n {
			if err := in.PipeAt("a", "v", time.UnixMilli(5)); err != nil {
				t.Fatal(err)
			}
		}
	}
	pipe(3)
	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
	pipe(2)
	if err := d.Restart(); err != nil {
		t.Fatal(err)
	}
	pipe(1)
	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
	want, changelog := "a=3@5 a=4@5", int64(2)
	if uncached {
		want, changelog = "a=1@5 a=2@5 a=3@5 a=4@5", 4
	}
	if got := readCounts(t, d); strings.Join(got, " ") != want {
		t.Fatalf("outputs %v, want %s", got, want)
	}
	if n := d.ChangelogRecords("counts"); n != changelog {
		t.Fatalf("changelog records = %d, want %d", n, changelog)
	}
}

// Caches flush upstream first: an aggregation of an aggregation in one
// sub-topology gets the upstream's flushed updates and flushes them in the
// same commit.
func TestCacheFlushesUpstreamFirst(t *testing.T) {
	top := topology.New()
	c1 := topology.Count(topology.StreamOf(top, serde.String, serde.String, "in"), "c1", serde.String)
	// How many updates c1 emitted per key.
	topology.Count(c1, "c2", serde.String).To("out", serde.String, serde.Int64)
	d := cacheDriver(t, top, testkit.DriverConfig{ManualCommit: true})
	pipeRounds(t, testkit.InputTopic(d, "in", serde.String, serde.String), 3, 50)
	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := readCounts(t, d); strings.Join(got, " ") != "k-0=1@49000 k-1=1@49001 k-2=1@49002" {
		t.Fatalf("outputs after one commit: %v, want one c1 update per key counted", got)
	}
}
