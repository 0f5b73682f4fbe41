package main

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"strings"
	"testing"
	"time"
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
