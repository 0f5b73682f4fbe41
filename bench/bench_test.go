package main

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streams/samsa/bench/internal/work"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{2, 2, 9}, 2},
	} {
		in := append([]float64(nil), c.in...)
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
		for i := range in {
			if in[i] != c.in[i] {
				t.Fatalf("median sorted its argument: %v", c.in)
			}
		}
	}
	if !math.IsNaN(median(nil)) {
		t.Error("median(nil) is not NaN")
	}
}

func TestRatio(t *testing.T) {
	if got := ratio(300, 400); got != 0.75 {
		t.Errorf("ratio(300, 400) = %v", got)
	}
	for _, c := range [][2]float64{{1, 0}, {math.NaN(), 1}, {1, math.NaN()}} {
		if !math.IsNaN(ratio(c[0], c[1])) {
			t.Errorf("ratio(%v, %v) is not NaN", c[0], c[1])
		}
	}
	if got := fmtRatio(math.NaN()); got != "–" {
		t.Errorf("fmtRatio(NaN) = %q", got)
	}
}

func TestThousands(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 1234567.6: "1,234,568", -42000: "-42,000", math.NaN(): "–"} {
		if got := thousands(in); got != want {
			t.Errorf("thousands(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestReplaceSection(t *testing.T) {
	section := beginMarker + "\nnew\n" + endMarker + "\n"
	doc := "# Benchmarks\n\nbefore\n\n" + beginMarker + "\nold\nolder\n" + endMarker + "\n\nafter\n"
	got, err := replaceSection(doc, section)
	if err != nil {
		t.Fatal(err)
	}
	want := "# Benchmarks\n\nbefore\n\n" + beginMarker + "\nnew\n" + endMarker + "\n\nafter\n"
	if got != want {
		t.Errorf("replaced:\n%s\nwant:\n%s", got, want)
	}
	// Again: idempotent.
	if again, _ := replaceSection(got, section); again != got {
		t.Errorf("second replacement changed the document:\n%s", again)
	}

	got, err = replaceSection("# Benchmarks\ntext", section)
	if err != nil {
		t.Fatal(err)
	}
	if got != "# Benchmarks\ntext\n\n"+section {
		t.Errorf("appended:\n%q", got)
	}
	if got, _ := replaceSection("", section); got != section {
		t.Errorf("into an empty document: %q", got)
	}

	for _, bad := range []string{
		"x " + beginMarker + " y",
		"x " + endMarker + " y",
		endMarker + "\n" + beginMarker,
		beginMarker + endMarker + beginMarker + endMarker,
	} {
		if _, err := replaceSection(bad, section); err == nil {
			t.Errorf("replaceSection(%q) did not fail", bad)
		}
	}
}

func upper(s string) []byte { return []byte(strings.ToUpper(s)) }

func TestStatelessChecker(t *testing.T) {
	if got := statelessExpected(100); got != 90 {
		t.Errorf("statelessExpected(100) = %d", got)
	}
	if got := statelessExpected(101); got != 90 {
		t.Errorf("statelessExpected(101) = %d (record 100 starts with '0')", got)
	}
	vs := values()
	c := &statelessChecker{want: statelessExpected(30)}
	for i := range 30 {
		v := vs[i%len(vs)]
		if v[0] == '0' {
			continue
		}
		if c.done() {
			t.Fatal("done before every record")
		}
		if err := c.add(nil, upper(string(v))); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	if !c.done() {
		t.Fatalf("not done: %s", c.progress())
	}
	if err := c.add(nil, upper(string(vs[1]))); err == nil {
		t.Error("an extra record was accepted")
	}

	for name, v := range map[string][]byte{
		"not upper-cased": vs[1],
		"filtered":        upper(string(vs[0])),
		"short":           []byte("1ABC"),
	} {
		c := &statelessChecker{want: 10}
		if err := c.add(nil, v); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func count(n int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(n)) }

func TestCountChecker(t *testing.T) {
	// 7 records over 3 keys: k0 ×3, k1 ×2, k2 ×2.
	c := newCountChecker(7, 3)
	k := func(i int) []byte { return []byte(keyName(i, 3)) }
	steps := []struct {
		key  int
		n    int64
		done bool
	}{
		{0, 1, false}, {1, 2, false}, {0, 3, false}, {1, 1, false}, // an old count after a newer one is harmless
		{2, 2, true},
	}
	for _, s := range steps {
		if err := c.add(k(s.key), count(s.n)); err != nil {
			t.Fatalf("key %d count %d: %v", s.key, s.n, err)
		}
		if c.done() != s.done {
			t.Fatalf("after key %d count %d: done %v, want %v (%s)", s.key, s.n, c.done(), s.done, c.progress())
		}
	}
	if err := c.add(k(0), count(4)); err == nil {
		t.Error("a count above the input's was accepted")
	}
	if err := c.add([]byte("nope"), count(1)); err == nil {
		t.Error("an unknown key was accepted")
	}
	if err := c.add(k(1), []byte("1")); err == nil {
		t.Error("a value that is not an int64 was accepted")
	}
	// Keys with no record are complete from the start.
	if c := newCountChecker(1, 3); c.matched != 2 {
		t.Errorf("newCountChecker(1, 3): %d keys complete at start, want 2", c.matched)
	}
}

func TestSummarize(t *testing.T) {
	s := &scenario{ID: "x", Title: "X", Input: &input{N: 1000, Keys: 10},
		Contenders: []contender{{ID: "raw", Name: "raw loop"}, {ID: "samsa", Name: "samsa"}}}
	sr := scenarioResult{Scenario: s}
	for i, d := range []time.Duration{1, 3, 2} {
		sr.Runs = append(sr.Runs,
			runResult{Contender: "raw", Run: i, Records: 1000, First: 0, Total: d * time.Second, CPU: time.Second, MaxRSS: 100e6, Load1: float64(d)},
			runResult{Contender: "samsa", Run: i, Records: 1000, First: 500 * time.Millisecond, Total: 2 * d * time.Second, CPU: 2 * time.Second, MaxRSS: 50e6})
	}
	ss := summarize(sr)
	raw, _ := find(ss, "raw")
	sa, _ := find(ss, "samsa")
	if raw.PerSec != 500 || sa.PerSec != 250 {
		t.Errorf("records/s medians: raw %v, samsa %v; want 500, 250", raw.PerSec, sa.PerSec)
	}
	if raw.MinPerSec < 333 || raw.MinPerSec > 334 || raw.MaxPerSec != 1000 {
		t.Errorf("raw min–max %v–%v", raw.MinPerSec, raw.MaxPerSec)
	}
	if sa.First != 500*time.Millisecond || sa.CPUPerMillion != 2000 || sa.RSS != 50 {
		t.Errorf("samsa summary %+v", sa)
	}
	md := report{Runs: 3, Scenarios: []scenarioResult{sr}}.markdown("bench")
	for _, want := range []string{beginMarker, endMarker, "| X | 250 | 0.50 | – |", "![X](bench/x.png)", "load average at the runs' starts was 0.5 (median; 0.0–3.0)"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestJavaVersion(t *testing.T) {
	out := "openjdk version \"17.0.15\" 2025-04-15\nOpenJDK Runtime Environment (build 17.0.15+6)\n"
	if got := javaVersion(out); got != "OpenJDK 17.0.15" {
		t.Errorf("javaVersion = %q", got)
	}
}

func TestWriteChart(t *testing.T) {
	s := &scenario{ID: "x", Title: "X", Input: &input{N: 1000, Keys: 10},
		Contenders: []contender{{ID: "raw", Name: "raw loop"}, {ID: "samsa", Name: "samsa"}}}
	sr := scenarioResult{Scenario: s, Runs: []runResult{
		{Contender: "raw", Records: 1000, First: time.Second, Total: 2 * time.Second},
		{Contender: "samsa", Records: 1000, First: time.Second, Total: 3 * time.Second},
	}}
	path := t.TempDir() + "/x.png"
	if err := writeChart(path, sr); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) || len(b) < 1000 {
		t.Errorf("not a PNG chart: %d bytes starting %q", len(b), b[:min(8, len(b))])
	}
	sr.Scenario.Restore = true
	sr.Runs[0].Restore, sr.Runs[1].Restore = time.Second, 2*time.Second
	if err := writeChart(path, sr); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Errorf("restore chart: %v", err)
	}
}

func TestReportWrite(t *testing.T) {
	s := &scenario{ID: "x", Title: "X", Input: &input{N: 1000, Keys: 10}, Contenders: []contender{{ID: "samsa", Name: "samsa"}}}
	sr := scenarioResult{Scenario: s, Runs: []runResult{{Contender: "samsa", Records: 1000, Total: time.Second}}}
	dir := t.TempDir()
	path := dir + "/b.md"
	if err := os.WriteFile(path, []byte("# B\n\nkept\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := report{Runs: 1, Scenarios: []scenarioResult{sr}}
	for range 2 {
		if err := r.write(path); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(b), "# B\n\nkept\n\n"+beginMarker) || strings.Count(string(b), beginMarker) != 1 {
		t.Errorf("document:\n%s", b)
	}
	if _, err := os.Stat(dir + "/bench/x.png"); err != nil {
		t.Errorf("chart: %v", err)
	}
	back, err := readReport(dir + "/bench/results.json")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := back.markdown("bench"), r.markdown("bench"); got != want {
		t.Errorf("markdown from results.json:\n%s\nwant:\n%s", got, want)
	}
}

func TestGroupCountChecker(t *testing.T) {
	// 25 records over 25 keys (one each): new keys g000000 (keys 0–9, 10
	// records), g000001 (10–19, 10) and g000002 (20–24, 5).
	c := newGroupCountChecker(25, 25)
	if len(c.want) != 3 || c.want[0] != 10 || c.want[2] != 5 {
		t.Fatalf("want %v", c.want)
	}
	for _, s := range []struct {
		key string
		n   int64
	}{{"g000000", 3}, {"g000000", 10}, {"g000001", 10}, {"g000002", 4}} {
		if err := c.add([]byte(s.key), count(s.n)); err != nil {
			t.Fatalf("%s %d: %v", s.key, s.n, err)
		}
	}
	if c.done() {
		t.Fatal("done with g000002 at 4 of 5")
	}
	if err := c.add([]byte("g000002"), count(5)); err != nil || !c.done() {
		t.Fatalf("not done: %v, %s", err, c.progress())
	}
	for name, kv := range map[string][2][]byte{
		"count above the input's":     {[]byte("g000001"), count(11)},
		"an input key, not a new key": {[]byte("k0000001"), count(1)},
		"a new key out of range":      {[]byte("g000003"), count(1)},
		"a value not an int64":        {[]byte("g000000"), []byte("10")},
	} {
		if err := newGroupCountChecker(25, 25).add(kv[0], kv[1]); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// windowed is a windowed count's output key: key, then the window start.
func windowed(key string, start int64) []byte {
	return binary.BigEndian.AppendUint64([]byte(key), uint64(start))
}

func TestWindowCountChecker(t *testing.T) {
	base := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC).UnixMilli()
	// 6 records over 2 keys, 3 minutes: records 0–1 in window 0, 2–3 in
	// window 1, 4–5 in window 2; key 0 has records 0, 2, 4.
	in := &input{N: 6, Keys: 2, Kind: timedInput, Base: base, Span: 3 * time.Minute}
	if in.windows() != 3 {
		t.Fatalf("windows() = %d", in.windows())
	}
	c := newWindowCountChecker(in)
	minute := time.Minute.Milliseconds()
	for w := range int64(3) {
		for _, k := range []string{"k0000000", "k0000001"} {
			if c.done() {
				t.Fatal("done early")
			}
			if err := c.add(windowed(k, base+w*minute), count(1)); err != nil {
				t.Fatalf("%s window %d: %v", k, w, err)
			}
		}
	}
	if !c.done() {
		t.Fatalf("not done: %s", c.progress())
	}
	for name, key := range map[string][]byte{
		"a window before the input's": windowed("k0000000", base-minute),
		"a window after the input's":  windowed("k0000000", base+3*minute),
		"a start not on a minute":     windowed("k0000000", base+1000),
		"a key out of range":          windowed("k0000002", base),
		"no window":                   []byte("k0000000"),
	} {
		if err := newWindowCountChecker(in).add(key, count(1)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := newWindowCountChecker(in).add(windowed("k0000000", base), count(2)); err == nil {
		t.Error("a count above the window's was accepted")
	}
}

func TestJoinChecker(t *testing.T) {
	// 8 records over 4 keys, the table over 4 keys: key 3 is not in it.
	if tableHas(3) || !tableHas(2) || tableSize(4) != 3 || tableSize(8) != 6 {
		t.Fatal("tableHas or tableSize")
	}
	vs := values()
	joined := func(i int) []byte {
		k := i % 4
		tv := []byte(tableValue(k))
		return work.Joined(vs[i%len(vs)], tv, tableHas(k))
	}
	c := newJoinChecker(8, 4, 4)
	for i := range 8 {
		if c.done() {
			t.Fatal("done early")
		}
		if err := c.add([]byte(keyName(i, 4)), joined(i)); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	if !c.done() {
		t.Fatalf("not done: %s", c.progress())
	}
	if err := c.add([]byte(keyName(0, 4)), joined(0)); err == nil {
		t.Error("an extra join was accepted")
	}
	for name, kv := range map[string][2]string{
		"another key's table value":             {keyName(1, 4), tableValue(2) + "|1bcdefghij"},
		"no table value for a key in the table": {keyName(1, 4), "-|1bcdefghij"},
		"a table value for a key not in it":     {keyName(3, 4), tableValue(3) + "|1bcdefghij"},
		"no stream value":                       {keyName(0, 4), tableValue(0) + "|"},
		"a stream value not an input's":         {keyName(0, 4), tableValue(0) + "|1BCDEFGHIJ"},
		"no separator":                          {keyName(0, 4), tableValue(0)},
		"an unknown key":                        {"k0000004", "-|1bcdefghij"},
	} {
		if err := newJoinChecker(8, 4, 4).add([]byte(kv[0]), []byte(kv[1])); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestRestoreChecker(t *testing.T) {
	// 10 keys, the first 3 counted again after the restore.
	c := newRestoreChecker(10, 3)
	for k := range 3 {
		if c.done() {
			t.Fatal("done early")
		}
		if err := c.add([]byte(keyName(k, 10)), count(2)); err != nil {
			t.Fatal(err)
		}
	}
	if !c.done() {
		t.Fatalf("not done: %s", c.progress())
	}
	for name, kv := range map[string][2][]byte{
		"a count of 1 (the state was not restored)": {[]byte(keyName(0, 10)), count(1)},
		"a count of 3":            {[]byte(keyName(0, 10)), count(3)},
		"a key not counted again": {[]byte(keyName(5, 10)), count(1)},
	} {
		if err := newRestoreChecker(10, 3).add(kv[0], kv[1]); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestCrashCheckers: the crash scenario's first start is done once its
// output shows enough input records counted (a key's count rising counts
// the rise, not the record); the second start's check, from the output's
// beginning, rejects a count above the input's (a record counted twice
// through the kill) and is complete only when every key has its final
// count.
func TestCrashCheckers(t *testing.T) {
	// 10 records over 2 keys: 5 each.
	u := &untilChecker{countChecker: newCountChecker(10, 2), atLeast: 6}
	for _, kv := range []struct {
		k string
		n int64
	}{{"k0000000", 1}, {"k0000000", 3}, {"k0000001", 2}, {"k0000000", 2}} { // an older count read late adds nothing
		if err := u.add([]byte(kv.k), count(kv.n)); err != nil {
			t.Fatal(err)
		}
	}
	if u.done() || u.counted != 5 {
		t.Fatalf("done after %d of 6 records counted", u.counted)
	}
	if err := u.add([]byte("k0000001"), count(3)); err != nil || !u.done() {
		t.Fatalf("not done at 6 records counted: %v, %s", err, u.progress())
	}
	if err := u.add([]byte("k0000001"), count(6)); err == nil {
		t.Error("the first start's count above the input's was accepted")
	}

	c := newCountChecker(10, 2)
	for _, kv := range []struct {
		k string
		n int64
	}{{"k0000000", 3}, {"k0000001", 2}, {"k0000000", 5}, {"k0000000", 4}} {
		if err := c.add([]byte(kv.k), count(kv.n)); err != nil {
			t.Fatal(err)
		}
	}
	if c.done() {
		t.Fatal("complete with a key below its final count")
	}
	if err := c.add([]byte("k0000001"), count(5)); err != nil || !c.done() {
		t.Fatalf("not complete with every key at its final count: %v", err)
	}
	dup := newCountChecker(10, 2)
	if err := dup.add([]byte("k0000000"), count(6)); err == nil {
		t.Error("a count above the input's (a record counted twice through the kill) was accepted")
	}
}

func TestRestoreEnd(t *testing.T) {
	path := t.TempDir() + "/log"
	log := "noise\nbench-restored unixms=1000 records=5\n[x] warn\nbench-restored unixms=3000 records=7\nbench-restored unixms=2000 records=1\n"
	if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	end, n, err := restoreEnd(path)
	if err != nil || end.UnixMilli() != 3000 || n != 13 {
		t.Errorf("restoreEnd = %v, %d, %v; want 3000 ms, 13", end.UnixMilli(), n, err)
	}
	if err := os.WriteFile(path, []byte("nothing restored\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := restoreEnd(path); err == nil {
		t.Error("a log with no restore was accepted")
	}
}

func TestRestoreAndWrittenMarkdown(t *testing.T) {
	cs := []contender{{ID: "samsa", Name: "samsa"}, {ID: "streams", Name: "Kafka Streams 4.4.0"}}
	count := scenarioResult{Scenario: &scenario{ID: "c", Title: "C", Topology: work.GroupByCount, Input: &input{N: 1000, Keys: 10}, Contenders: cs},
		Runs: []runResult{
			{Contender: "samsa", Records: 1000, Total: time.Second, Output: 10, Changelog: 10, Repartition: 1000, StateBytes: 2e6, StateSize: 1e6},
			{Contender: "streams", Records: 1000, Total: 2 * time.Second, Output: 500, Changelog: 500, Repartition: 1000},
		}}
	restore := scenarioResult{Scenario: &scenario{ID: "r", Title: "R", Topology: work.Count, Input: &input{N: 1000, Keys: 1000}, Restore: true, RestoreKeys: 10, Contenders: cs},
		Runs: []runResult{
			{Contender: "samsa", Records: 1000, Phase1: time.Second, Restore: 1500 * time.Millisecond, First: 2 * time.Second, Total: 3 * time.Second, Restored: 1000},
			{Contender: "streams", Records: 1000, Phase1: 4 * time.Second, Restore: 5 * time.Second, First: 6 * time.Second, Total: 7 * time.Second, Restored: 1000},
		}}
	crash := scenarioResult{Scenario: &scenario{ID: "x", Title: "X", Topology: work.Count, Input: &input{N: 1000, Keys: 100}, Restore: true, Crash: 0.6,
		Session: 6 * time.Second, Commit: 100 * time.Millisecond, Contenders: cs},
		Runs: []runResult{
			{Contender: "samsa", Records: 1000, Phase1: time.Second, Phase1Changelog: 700, Phase1Committed: 650, Phase1Input: 700, Restore: time.Second, First: 2 * time.Second, Total: 3 * time.Second, Restored: 20},
			{Contender: "streams", Records: 1000, Phase1: 2 * time.Second, Phase1Changelog: 400, Phase1Committed: 600, Phase1Input: 800, Restore: 5 * time.Second, First: 6 * time.Second, Total: 7 * time.Second, Restored: 380},
		}}
	md := report{Runs: 1, Scenarios: []scenarioResult{restore, crash, count}}.markdown("")
	for _, want := range []string{
		"| C | 1,000 | – | 2.00 | – / 0.00 s / 0.00 s | 1.02 / 2.00 |",
		"| R | 1.50 s / 2.00 s | 5.00 s / 6.00 s |",
		"| samsa | 1 | 1,000 | – | – | 1,000 | 1.50 s | 2.00 s | 3.00 s |",
		// The crash's first start counted 60% of the input.
		"| samsa | 1 | 600 | 650 of 700 | 700 | 20 | 1.00 s | 2.00 s | 3.00 s |",
		"| Kafka Streams 4.4.0 | 1 | 300 | 600 of 800 | 400 | 380 | 5.00 s | 6.00 s | 7.00 s |",
		"| X | 1.00 s / 2.00 s | 5.00 s / 6.00 s |",
		"killed with SIGKILL",
		"exactly-once (100 ms commits) over 1,000 records of 100 keys",
		"a 6 s group session timeout",
		"| 2.0 (1.0) | 1,020 (10 + 10 + 1,000) | 1.02 |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Count(md, "| scenario | samsa records/s") != 1 {
		t.Errorf("markdown has not one summary table header:\n%s", md)
	}
}

func TestPercentile(t *testing.T) {
	ms := func(xs ...int) []time.Duration {
		var out []time.Duration
		for _, x := range xs {
			out = append(out, time.Duration(x)*time.Millisecond)
		}
		return out
	}
	var hundred []time.Duration
	for i := 100; i >= 1; i-- { // unsorted
		hundred = append(hundred, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{hundred, 50, 50 * time.Millisecond},
		{hundred, 99, 99 * time.Millisecond},
		{hundred, 100, 100 * time.Millisecond},
		{ms(7), 50, 7 * time.Millisecond},
		{ms(7), 99, 7 * time.Millisecond},
		{ms(3, 1, 2), 50, 2 * time.Millisecond},
		{ms(4, 1, 3, 2), 50, 2 * time.Millisecond},
		{ms(4, 1, 3, 2), 99, 4 * time.Millisecond},
		{nil, 50, 0},
	} {
		if got := percentile(slices.Clone(c.in), c.p); got != c.want {
			t.Errorf("percentile(%v, %v) = %v, want %v", c.in, c.p, got, c.want)
		}
	}
}

func TestLatencyMarkdown(t *testing.T) {
	cs := []contender{{ID: "raw", Name: "raw loop"}, {ID: "samsa", Name: "samsa"}, {ID: "streams", Name: "Kafka Streams 4.4.0"}}
	s := &scenario{ID: "latency-eos", Title: "L", Topology: work.Count, Guarantee: work.ExactlyOnce, Commit: 100 * time.Millisecond,
		Input: &input{N: 30000, Keys: 10000}, Latency: 10000, Contenders: cs}
	sr := scenarioResult{Scenario: s}
	for i, d := range []time.Duration{1, 3, 2} {
		sr.Runs = append(sr.Runs,
			runResult{Contender: "raw", Run: i, Records: 30000, Total: time.Second, LatP50: d * 10 * time.Millisecond, LatP99: d * 100 * time.Millisecond, LatMax: d * time.Second, FedPerSec: 9900, Drain: 200 * time.Millisecond, LatN: 29000},
			runResult{Contender: "samsa", Run: i, Records: 30000, Total: time.Second, LatP50: 5 * time.Millisecond, LatP99: 60 * time.Millisecond, LatMax: 70 * time.Millisecond, FedPerSec: 10000, Drain: 300 * time.Millisecond, LatN: 29000},
			// Kafka Streams falls behind.
			runResult{Contender: "streams", Run: i, Records: 30000, Total: time.Second, LatP50: 2 * time.Second, LatP99: 4 * time.Second, LatMax: 5 * time.Second, FedPerSec: 10000, Drain: 3 * time.Second, LatN: 20000})
	}
	ss := summarize(sr)
	raw, _ := find(ss, "raw")
	if raw.LatP50 != 20*time.Millisecond || raw.LatP99 != 200*time.Millisecond || raw.LatMax != 3*time.Second {
		t.Errorf("raw latency p50 %v p99 %v max %v, want 20ms 200ms 3s", raw.LatP50, raw.LatP99, raw.LatMax)
	}
	md := report{Runs: 3, Scenarios: []scenarioResult{sr}}.markdown("")
	for _, want := range []string{
		"| latency | raw loop: p50 / p99 ms | samsa: p50 / p99 ms | Kafka Streams: p50 / p99 ms |",
		"| L | 20 / 200 | 5.0 / 60 | 2,000 / 4,000 (*not kept up*) |",
		"| raw loop | 3 | 20 | 200 | 3,000 | 29,000 | 9,900 | 0.20 s | yes |",
		"| samsa | 3 | 5.0 | 60 | 70 | 29,000 | 10,000 | 0.30 s | yes |",
		"| Kafka Streams 4.4.0 | 3 | 2,000 | 4,000 | 5,000 | 20,000 | 10,000 | 3.00 s | *not kept up* |",
		"exactly-once (100 ms commits) over 30,000 records of 10,000 keys",
		"waiting for the commit",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "| scenario | samsa records/s") {
		t.Errorf("a latency scenario in the throughput summary:\n%s", md)
	}
}
