package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/samsa-streams/samsa/bench/internal/work"
)

// Markers around the generated section of the benchmarks document.
const (
	beginMarker = "<!-- bench:begin -->"
	endMarker   = "<!-- bench:end -->"
)

// machineInfo labels the figures.
type machineInfo struct {
	CPUs              int
	CPUModel          string
	GoVersion, Java   string
	OS                string
	BrokerDescription string
}

// machine describes this machine.
func machine() machineInfo {
	m := machineInfo{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH,
		CPUModel: "unknown CPU", Java: "no Java", BrokerDescription: "one Kafka 4.4.0 broker (KRaft, dev/kafka) on the same machine"}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if out, err := exec.Command("java", "-version").CombinedOutput(); err == nil {
		m.Java = javaVersion(string(out))
	}
	return m
}

// javaVersion is the first line of `java -version`'s output, e.g.
// `openjdk version "17.0.15" 2025-04-15` → `OpenJDK 17.0.15`.
func javaVersion(out string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
	if _, rest, ok := strings.Cut(line, `version "`); ok {
		v, _, _ := strings.Cut(rest, `"`)
		vendor := "Java"
		if strings.HasPrefix(line, "openjdk") {
			vendor = "OpenJDK"
		}
		return vendor + " " + v
	}
	return line
}

// report is the figures of one harness invocation.
type report struct {
	Machine   machineInfo
	Quick     bool
	Runs      int
	When      time.Time
	Scenarios []scenarioResult
}

// summary is the medians of one contender in one scenario.
type summary struct {
	Contender, Name         string
	Runs                    int
	PerSec, PerSecFromFirst float64
	First                   time.Duration
	CPU                     float64 // seconds
	RSS                     float64 // MB
	Written                 float64 // output + changelog + repartition records (medians)
	Output, Changelog       float64
	Repartition             float64
	WrittenPerInput         float64 // Written / input records
	StateMB                 float64 // state directory on disk after the run (du)
	StateFilesMB            float64 // the size of its files
	MinPerSec, MaxPerSec    float64
	CPUPerMillion           float64 // CPU seconds per million input records
	// Restore scenario: the second start's time to complete output, to
	// the last store restored, the changelog records restored, and the
	// first start's records/s.
	Total, Restore  time.Duration
	Restored        float64
	Phase1PerSec    float64
	Phase1Changelog float64
	Phase1Committed float64
	Phase1Input     float64
	// Latency scenarios: the medians of the runs' p50 and p99, the
	// highest of their maxima, the medians of the feed rate achieved and
	// of the time from the last record fed to the complete output.
	LatP50, LatP99, LatMax time.Duration
	FedPerSec, LatN        float64
	Drain                  time.Duration
	recordsIn              int
}

// summarize returns the medians of each contender of sr, in the
// scenario's contender order.
func summarize(sr scenarioResult) []summary {
	var out []summary
	for _, c := range sr.Scenario.Contenders {
		s := summary{Contender: c.ID, Name: c.Name, MinPerSec: math.Inf(1), MaxPerSec: math.Inf(-1)}
		var lp50, lp99, fedps, drain, latn []float64
		var ps, pf, first, cpu, rss, outN, cl, rp, st, sf, tot, rest, restd, p1, p1cl, p1c, p1in []float64
		for _, r := range sr.Runs {
			if r.Contender != c.ID {
				continue
			}
			s.Runs++
			s.recordsIn = r.Records
			ps = append(ps, r.perSec())
			pf = append(pf, r.perSecFromFirst())
			first = append(first, float64(r.First))
			cpu = append(cpu, r.CPU.Seconds())
			rss = append(rss, float64(r.MaxRSS)/1e6)
			outN = append(outN, float64(r.Output))
			cl = append(cl, float64(r.Changelog))
			rp = append(rp, float64(r.Repartition))
			st = append(st, float64(r.StateBytes)/1e6)
			sf = append(sf, float64(r.StateSize)/1e6)
			tot = append(tot, float64(r.Total))
			rest = append(rest, float64(r.Restore))
			restd = append(restd, float64(r.Restored))
			p1cl = append(p1cl, float64(r.Phase1Changelog))
			p1c = append(p1c, float64(r.Phase1Committed))
			p1in = append(p1in, float64(r.Phase1Input))
			if r.Phase1 > 0 {
				counted := float64(r.Records) // the crash scenario's first start is killed part-way
				if sr.Scenario.Crash > 0 {
					counted *= sr.Scenario.Crash
				}
				p1 = append(p1, counted/r.Phase1.Seconds())
			}
			lp50 = append(lp50, float64(r.LatP50))
			lp99 = append(lp99, float64(r.LatP99))
			fedps = append(fedps, r.FedPerSec)
			latn = append(latn, float64(r.LatN))
			drain = append(drain, float64(r.Drain))
			s.LatMax = max(s.LatMax, r.LatMax)
			s.MinPerSec = math.Min(s.MinPerSec, r.perSec())
			s.MaxPerSec = math.Max(s.MaxPerSec, r.perSec())
		}
		if s.Runs == 0 {
			continue
		}
		s.PerSec, s.PerSecFromFirst = median(ps), median(pf)
		s.First = time.Duration(median(first))
		s.CPU, s.RSS = median(cpu), median(rss)
		s.Output, s.Changelog, s.Repartition = median(outN), median(cl), median(rp)
		s.Written = s.Output + s.Changelog + s.Repartition
		s.WrittenPerInput = s.Written / float64(s.recordsIn)
		s.StateMB, s.StateFilesMB = median(st), median(sf)
		s.Total, s.Restore = time.Duration(median(tot)), time.Duration(median(rest))
		s.Restored, s.Phase1PerSec, s.Phase1Changelog = median(restd), median(p1), median(p1cl)
		s.Phase1Committed, s.Phase1Input = median(p1c), median(p1in)
		s.CPUPerMillion = s.CPU / float64(s.recordsIn) * 1e6
		s.LatP50, s.LatP99 = time.Duration(median(lp50)), time.Duration(median(lp99))
		s.FedPerSec, s.Drain, s.LatN = median(fedps), time.Duration(median(drain)), median(latn)
		out = append(out, s)
	}
	return out
}

// find returns the summary of contender id.
func find(ss []summary, id string) (summary, bool) {
	for _, s := range ss {
		if s.Contender == id {
			return s, true
		}
	}
	return summary{}, false
}

// markdown renders the generated section, markers included; charts is
// the directory of the charts relative to the document ("" for none).
func (r report) markdown(charts string) string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	cmd, note := "cd bench && go run .", ""
	if r.Quick {
		cmd, note = "cd bench && go run . -quick", " Quick mode: small inputs and one run, indicative only."
	}
	p("%s\n", beginMarker)
	p("## End to end: samsa against the raw loop and Kafka Streams (issue 14)\n\n")
	p("Generated by `%s` on %s; edit the harness (`bench/`), not this section.%s\n\n", cmd, r.When.Format("2006-01-02"), note)
	m := r.Machine
	p("Machine: %d cores (%s), %s, %s, %s; %s. ", m.CPUs, m.CPUModel, m.OS, m.GoVersion, m.Java, m.BrokerDescription)
	p("The broker, the harness' output reader and the contender share those cores%s.\n\n", r.loadNote())
	p("Each contender is its own OS process reading the same pre-loaded input topic (8 partitions, 100-byte values) ")
	p("with a fresh application id and output topic (so every run includes creating the application's internal topics); contenders alternate run by run, %d run(s) each; figures are medians. ", r.Runs)
	p("Records/s are input records over the time from the process' start (JVM or Go binary, group join included) ")
	p("to the last expected output record read with a `read_committed` consumer, and over the time from the first output record. ")
	p("CPU is user+system seconds from the process' rusage, and peak RSS the highest of its resident set high-water mark (VmHWM) sampled every 50 ms while it runs (the rusage's maxrss of a process the harness starts is at least the harness' own size at the start); state on disk is the disk usage (du) of the contender's state directory once it has stopped, and in brackets the size of its files: Pebble preallocates its write-ahead log files (about 18 MB each on disk for a few hundred kB written), which du counts. ")
	p("Records written are the output records read plus the changelog and repartition topics' end offsets (transaction markers included), also per input record. ")
	p("Every run's output is checked and a wrong run fails the harness: stateless, every kept record, upper-cased, none filtered wrongly, no extra; ")
	p("counts (per key, per new key after groupBy, per key and window), the final count of every key (and window) equals the input's and none is above it; ")
	p("join, every stream record joined once, with its key's table value or none when the table lacks the key; ")
	p("restore, every count after the restart is exactly 2 (1 before the state was lost, 1 after); ")
	p("exactly-once crash, every key's final count through the kill and restart is the input's and none is above it.\n\n")
	p("Contenders: **raw loop** (`bench/cmd/raw`): franz-go consume→produce with the same work; at-least-once it flushes then commits every commit interval, exactly-once it ends a `GroupTransactSession` transaction every interval; its counts are a Go map with no changelog and no repartition (one process reads every partition), its join a Go map of the table read to its end before the stream (no fault tolerance: an upper bound, not a peer; not run for the restore, having no state to restore). ")
	p("**samsa** (`bench/cmd/samsa`): `StreamOf`→`MapValues`→`Filter`→`To`, `Count`, `SelectKey`→`Count` (which inserts the repartition topic), `WindowedCount(TumblingWindows(time.Minute))`, or `LeftJoin` with a `TableOf`, with `serde.StringView`, its defaults otherwise. ")
	p("**Kafka Streams** (`bench/streams`): the same DSL topologies (`groupBy(…).count()`, `windowedBy(TimeWindows.ofSizeWithNoGrace(1 min)).count()`, `leftJoin(table)`), its defaults otherwise (one stream thread, 10 MB record cache, RocksDB, JVM default heap). ")
	p("Records/s from the first output overstate a contender whose output appears in bursts: under exactly-once nothing is visible before the first transaction commits (the raw loop's first one holds every record polled in its first interval), and Kafka Streams' record cache holds counts until a commit or until the cache is full (which is also why it writes fewer count updates). ")
	p("Kafka Streams' default commit intervals are samsa's (30 s at-least-once, 100 ms exactly-once): the 30 s and exactly-once scenarios run both at their defaults, the at-least-once 100 ms ones at samsa's shorter interval. ")
	p("goka: not measured (`github.com/lovoo/goka` is not available from the Go module proxy this machine uses).\n\n")

	p("### Summary\n\n")
	var restores, latencies []scenarioResult
	header := false
	for _, sr := range r.Scenarios {
		if sr.Scenario.Restore {
			restores = append(restores, sr)
			continue
		}
		if sr.Scenario.Latency > 0 {
			latencies = append(latencies, sr)
			continue
		}
		if !header {
			header = true
			p("| scenario | samsa records/s | samsa / raw loop | samsa / Kafka Streams | first output: raw / samsa / Streams | records written per input record: samsa / Streams |\n|---|---|---|---|---|---|\n")
		}
		ss := summarize(sr)
		sa, okS := find(ss, "samsa")
		raw, okR := find(ss, "raw")
		ks, okK := find(ss, "streams")
		sPS, rPS, kPS := math.NaN(), math.NaN(), math.NaN()
		if okS {
			sPS = sa.PerSec
		}
		if okR {
			rPS = raw.PerSec
		}
		if okK {
			kPS = ks.PerSec
		}
		p("| %s | %s | %s | %s | %s / %s / %s | %s / %s |\n", sr.Scenario.Title, thousands(sPS), fmtRatio(ratio(sPS, rPS)), fmtRatio(ratio(sPS, kPS)),
			fmtFirst(raw, okR), fmtFirst(sa, okS), fmtFirst(ks, okK), fmtPerInput(sa, okS), fmtPerInput(ks, okK))
	}
	if header {
		p("\nRatios are of the medians of records/s from start. \"First output\" is the time from the process' start to its first output record on a fresh application (median).\n")
	}
	if len(restores) > 0 {
		p("\n| restore | samsa: restored / first output after restart | Kafka Streams: restored / first output after restart |\n|---|---|---|\n")
		for _, sr := range restores {
			ss := summarize(sr)
			sa, okS := find(ss, "samsa")
			ks, okK := find(ss, "streams")
			p("| %s | %s / %s | %s / %s |\n", sr.Scenario.Title, fmtRestore(sa, okS), fmtFirst(sa, okS), fmtRestore(ks, okK), fmtFirst(ks, okK))
		}
	}
	if len(latencies) > 0 {
		p("\n| latency | raw loop: p50 / p99 ms | samsa: p50 / p99 ms | Kafka Streams: p50 / p99 ms |\n|---|---|---|---|\n")
		for _, sr := range latencies {
			ss := summarize(sr)
			raw, okR := find(ss, "raw")
			sa, okS := find(ss, "samsa")
			ks, okK := find(ss, "streams")
			p("| %s | %s | %s | %s |\n", sr.Scenario.Title, fmtLatency(raw, okR, sr.Scenario), fmtLatency(sa, okS, sr.Scenario), fmtLatency(ks, okK, sr.Scenario))
		}
	}

	for _, sr := range r.Scenarios {
		s := sr.Scenario
		p("\n### %s\n\n", s.Title)
		switch {
		case s.Restore:
			restoreSection(p, sr)
		case s.Latency > 0:
			latencySection(p, sr)
		default:
			p("%s records, %s keys", thousands(float64(s.Input.N)), thousands(float64(s.Input.Keys)))
			switch {
			case s.Table != nil:
				p(", joined with a table of %s keys (one key in four of the stream's missing)", thousands(float64(s.Table.N)))
			case s.Input.Kind == timedInput:
				p(", event times spread evenly over %s (%d windows)", s.Input.Span, s.Input.windows())
			case s.Topology == work.GroupByCount:
				p(" re-keyed to %s new keys", thousands(float64((s.Input.Keys+9)/10)))
			}
			p(". `cd bench && go run . -scenarios %s`\n\n", s.ID)
			p("| contender | runs | records/s from start (min–max) | records/s from first output | first output | CPU s | CPU s per 10⁶ records | peak RSS MB | state on disk MB (files) | records written (output + changelog + repartition) | per input record |\n")
			p("|---|---|---|---|---|---|---|---|---|---|---|\n")
			for _, c := range summarize(sr) {
				p("| %s | %d | %s (%s–%s) | %s | %s | %.1f | %.2f | %.0f | %s | %s (%s + %s + %s) | %.2f |\n", c.Name, c.Runs, thousands(c.PerSec),
					thousands(c.MinPerSec), thousands(c.MaxPerSec), thousands(c.PerSecFromFirst), fmtDur(c.First), c.CPU, c.CPUPerMillion, c.RSS,
					fmtState(c), thousands(c.Written), thousands(c.Output), thousands(c.Changelog), thousands(c.Repartition), c.WrittenPerInput)
			}
		}
		if charts != "" {
			p("\n![%s](%s)\n", s.Title, filepath.ToSlash(filepath.Join(charts, s.ID+".png")))
		}
	}
	p("%s\n", endMarker)
	return b.String()
}

// restoreSection writes the table of a restore scenario.
func restoreSection(p func(string, ...any), sr scenarioResult) {
	s := sr.Scenario
	if s.Crash > 0 {
		p("A count per key under exactly-once (%d ms commits) over %s records of %s keys, killed with SIGKILL (no clean shutdown) once its `read_committed` output shows %.0f%% of the input counted; ",
			s.Commit.Milliseconds(), thousands(float64(s.Input.N)), thousands(float64(s.Input.Keys)), s.Crash*100)
		p("%.0f%% of the input is there at the first start, more is fed at %s records/s from its first output (so that the kill finds work in progress), the rest is added after the kill; it starts again on the same state directory and application id, writing on to the same output. ",
			crashLoaded*100, thousands(crashFeed))
		p("Both contenders run with a %g s group session timeout (the broker's minimum; 45 s by default): the restart waits up to that for the killed member to leave the group, which the restore and output times include. ", s.Session.Seconds())
		p("Input committed and changelog before the restart: the input records whose offsets the application had committed at the kill, of those produced by then, and the changelog's end offsets after it (transaction markers and aborted records included). ")
		p("Changelog records restored, and restored: from the second start to the end of the last store's restore, as the contender's restore listener reports them (samsa's `Config.RestoreListener`, Kafka Streams' `StateRestoreListener.onRestoreEnd`): ")
		p("samsa keeps its committed local state and restores the changelog past its checkpoint; Kafka Streams under exactly-once wipes a task's state after an unclean shutdown and restores its whole changelog. ")
		p("First and complete output: from the second start to the first output record past the output's end at the kill, and to every key's final count. First start: input records counted per second until the kill. CPU, peak RSS and state on disk are the second start's. `cd bench && go run . -scenarios %s`\n\n", s.ID)
	} else {
		p("A count over %s keys (one record each; the store and its changelog hold %s keys), run to its complete output, stopped; ", thousands(float64(s.Input.Keys)), thousands(float64(s.Input.Keys)))
		p("then its state directory is deleted, %s records of keys it counted are added, and it starts again with the same application id. ", thousands(float64(s.RestoreKeys)))
		p("Restored: from the second start to the end of the last store's restore, as the contender's restore listener reports it (samsa's `Config.RestoreListener`, Kafka Streams' `StateRestoreListener.onRestoreEnd`); ")
		p("first and complete output: from the second start to the first and the last of the %s new counts. CPU, peak RSS and state on disk are the second start's. `cd bench && go run . -scenarios %s`\n\n", thousands(float64(s.RestoreKeys)), s.ID)
	}
	p("| contender | runs | first start: records/s | input committed before the restart | changelog before the restart | changelog records restored | restored | first output after restart | complete after restart | CPU s | peak RSS MB | state on disk MB (files) |\n")
	p("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, c := range summarize(sr) {
		p("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %.1f | %.0f | %s |\n", c.Name, c.Runs, thousands(c.Phase1PerSec), fmtOf(c.Phase1Committed, c.Phase1Input), fmtCount(c.Phase1Changelog), thousands(c.Restored),
			fmtDur(c.Restore), fmtDur(c.First), fmtDur(c.Total), c.CPU, c.RSS, fmtState(c))
	}
}

// latencySection writes the table of a latency scenario.
func latencySection(p func(string, ...any), sr scenarioResult) {
	s := sr.Scenario
	p("A count per key under %s (%d ms commits) over %s records of %s keys: %s of them loaded before the start, the rest fed at %s records/s (%s every 50 ms) from the contender's first output, each record's timestamp its produce time. ",
		guaranteeName(s.Guarantee), s.Commit.Milliseconds(), thousands(float64(s.Input.N)), thousands(float64(s.Input.Keys)), thousands(latencyWarm), thousands(float64(s.Latency)), thousands(float64(s.Latency/20)))
	p("Every contender's count output keeps the timestamp of the input record counted (the raw loop sets it, as samsa and Kafka Streams do), so the latency of an output record is the time its `read_committed` fetch returned to the harness minus that timestamp: ")
	p("the harness' producer batching (5 ms linger), the contender's fetch, count and produce, its commit, and the output fetch; only the output of records fed from %s after the feed's start on is measured (the first second, the contender settling from its start to the steady feed, is left out). ", latencySettle)
	p("p50 and p99 are the medians of the runs' percentiles (nearest rank), max the highest of all runs. ")
	p("Under exactly-once an output record is readable only once its transaction commits, so the latency includes waiting for the commit (up to the commit interval); samsa's and Kafka Streams' record caches (10 MiB by default in both) also hold a count until the next commit (or until the cache is full), under either guarantee, so their latency includes waiting for the commit too; the raw loop produces each count at once. ")
	p("Fed records/s is the rate the harness achieved; after the last fed is the time from the last record fed to the complete output: a contender that keeps up with the feed finishes within about a commit interval and a fetch, one that does not shows a longer time here and a latency growing with the run (marked *not kept up*: achieved feed below 95%% of the rate, or more than 1 s after the last record fed). ")
	p("Output check: every key's final count is the input's, none above. `cd bench && go run . -scenarios %s`\n\n", s.ID)
	p("| contender | runs | p50 ms | p99 ms | max ms | output records measured | fed records/s | complete after the last fed | kept up | CPU s | peak RSS MB |\n")
	p("|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, c := range summarize(sr) {
		p("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %.1f | %.0f |\n", c.Name, c.Runs, fmtMS(c.LatP50), fmtMS(c.LatP99), fmtMS(c.LatMax),
			thousands(c.LatN), thousands(c.FedPerSec), fmtDur(c.Drain), keptUp(c, s), c.CPU, c.RSS)
	}
}

// guaranteeName is how the text names a work guarantee.
func guaranteeName(g string) string {
	if g == work.ExactlyOnce {
		return "exactly-once"
	}
	return "at-least-once"
}

// keptUp says whether contender c sustained scenario s's feed: the feed
// rate achieved at least 95% of s.Latency and the output complete within
// 1 s of the last record fed.
func keptUp(c summary, s *scenario) string {
	if c.FedPerSec >= 0.95*float64(s.Latency) && c.Drain <= time.Second {
		return "yes"
	}
	return "*not kept up*"
}

// fmtLatency formats "p50 / p99" in ms, marked when the contender did not
// keep up; "–" for none.
func fmtLatency(c summary, ok bool, s *scenario) string {
	if !ok {
		return "–"
	}
	out := fmtMS(c.LatP50) + " / " + fmtMS(c.LatP99)
	if keptUp(c, s) != "yes" {
		out += " (*not kept up*)"
	}
	return out
}

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// fmtMS formats d in milliseconds, "–" for none.
func fmtMS(d time.Duration) string {
	if d <= 0 {
		return "–"
	}
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.1f", ms(d))
	}
	return thousands(ms(d))
}

// fmtCount formats a count, "–" for none (figures of results written
// before it was measured).
func fmtCount(x float64) string {
	if x <= 0 || math.IsNaN(x) {
		return "–"
	}
	return thousands(x)
}

// fmtOf formats "x of n", "–" for none.
func fmtOf(x, n float64) string {
	if n <= 0 || math.IsNaN(n) {
		return "–"
	}
	return thousands(x) + " of " + thousands(n)
}

func fmtRestore(s summary, ok bool) string {
	if !ok {
		return "–"
	}
	return fmtDur(s.Restore)
}

func fmtPerInput(s summary, ok bool) string {
	if !ok {
		return "–"
	}
	return fmt.Sprintf("%.2f", s.WrittenPerInput)
}

// fmtState formats the state on disk and the size of its files, in
// megabytes, "–" for none.
func fmtState(s summary) string {
	if s.StateMB <= 0 || math.IsNaN(s.StateMB) {
		return "–"
	}
	return fmt.Sprintf("%.1f (%.1f)", s.StateMB, s.StateFilesMB)
}

func fmtFirst(s summary, ok bool) string {
	if !ok {
		return "–"
	}
	return fmtDur(s.First)
}

func fmtDur(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func fmtRatio(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	return fmt.Sprintf("%.2f", x)
}

// thousands formats x rounded, with commas: 1234567 → "1,234,567".
func thousands(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "–"
	}
	s := fmt.Sprintf("%d", int64(math.Round(math.Abs(x))))
	var b strings.Builder
	if x < 0 && s != "0" {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// replaceSection returns doc with the text between (and including) the
// markers replaced by section, or section appended when doc has no
// markers.
func replaceSection(doc, section string) (string, error) {
	i := strings.Index(doc, beginMarker)
	j := strings.Index(doc, endMarker)
	switch {
	case i < 0 && j < 0:
		if doc != "" && !strings.HasSuffix(doc, "\n") {
			doc += "\n"
		}
		if doc != "" {
			doc += "\n"
		}
		return doc + section, nil
	case i < 0 || j < 0 || j < i:
		return "", fmt.Errorf("the document has a broken generated section: %q and %q must both appear, in that order", beginMarker, endMarker)
	case strings.Count(doc, beginMarker) > 1 || strings.Count(doc, endMarker) > 1:
		return "", errors.New("the document has more than one generated section")
	}
	section = strings.TrimSuffix(section, "\n")
	return doc[:i] + section + doc[j+len(endMarker):], nil
}

// write replaces the generated section of the markdown file path (made
// if missing) and writes the charts and the results (results.json, which
// -render reads back) to bench/ beside it.
func (r report) write(path string) error {
	doc, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	charts := filepath.Join(filepath.Dir(path), "bench")
	if err := os.MkdirAll(charts, 0o755); err != nil {
		return fmt.Errorf("charts directory: %w", err)
	}
	for _, sr := range r.Scenarios {
		if err := writeChart(filepath.Join(charts, sr.Scenario.ID+".png"), sr); err != nil {
			return err
		}
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("results: %w", err)
	}
	if err := os.WriteFile(filepath.Join(charts, "results.json"), append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("results: %w", err)
	}
	out, err := replaceSection(string(doc), r.markdown("bench"))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// readReport reads a report written by write (bench/results.json).
func readReport(path string) (report, error) {
	var r report
	b, err := os.ReadFile(path)
	if err != nil {
		return r, fmt.Errorf("read results: %w", err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("results %s: %w", path, err)
	}
	return r, nil
}

// loadNote says how busy the machine was: the 1-minute load averages at
// the runs' starts ("" if none was read).
func (r report) loadNote() string {
	var ls []float64
	for _, sr := range r.Scenarios {
		for _, run := range sr.Runs {
			if run.Load1 >= 0 {
				ls = append(ls, run.Load1)
			}
		}
	}
	if len(ls) == 0 {
		return ""
	}
	return fmt.Sprintf(", with whatever else ran on the machine: its 1-minute load average at the runs' starts was %.1f (median; %.1f–%.1f)",
		median(ls), slices.Min(ls), slices.Max(ls))
}
