package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// runPlan runs `samsa plan args...` in process and returns its output.
func runPlan(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if err := run(context.Background(), append([]string{"plan"}, args...), &out, &errb); err != nil {
		t.Fatalf("samsa plan %s: %v\nstderr:\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// planRows maps each row label of plan's table to its value (the first
// column after the label).
func planRows(t *testing.T, out string) map[string]string {
	t.Helper()
	rows := map[string]string{}
	for line := range strings.SplitSeq(out, "\n") {
		if !strings.HasPrefix(line, "  ") {
			continue
		}
		// Columns are separated by at least two spaces.
		cols := regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(line), -1)
		if len(cols) < 2 {
			t.Fatalf("plan row %q has no value", line)
		}
		rows[cols[0]] = cols[1]
	}
	return rows
}

func assertRows(t *testing.T, out string, want map[string]string) {
	t.Helper()
	got := planRows(t, out)
	for label, w := range want {
		if got[label] != w {
			t.Errorf("%s = %q, want %q", label, got[label], w)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

// TestPlanClassicExample reproduces the example: 10 billion
// events/day of 1 KB with a 5x peak.
func TestPlanClassicExample(t *testing.T) {
	out := runPlan(t, "--events-per-day", "10e9", "--event-bytes", "1000", "--peak", "5")
	// 10e9 / 86,400 = 115,740.74 events/s; × 5 = 578,703.7 events/s;
	// × 1000 bytes = 115.74 and 578.70 MB/s; ceil(578.70 / 10) = 58.
	assertRows(t, out, map[string]string{
		"events/s average": "115,741",
		"events/s peak":    "578,704",
		"MB/s average":     "115.7",
		"MB/s peak":        "578.7",
		"partitions":       "58",
	})
	if !strings.Contains(out, "1 MB = 10^6 bytes") {
		t.Errorf("the output does not say its units are SI:\n%s", out)
	}
	if !strings.Contains(out, "state: none") {
		t.Errorf("without --keys the output should say there is no state:\n%s", out)
	}

	// 20 % headroom: ceil(578.70 × 1.2 / 10) = ceil(69.44) = 70.
	out = runPlan(t, "--events-per-day", "10e9", "--event-bytes", "1000", "--peak", "5", "--headroom", "20")
	assertRows(t, out, map[string]string{"partitions": "70"})
}

// TestPlanWindowedStateAndRestore checks the state, changelog and restore
// estimates against hand-computed values.
func TestPlanWindowedStateAndRestore(t *testing.T) {
	out := runPlan(t, "--events-per-day", "864e6", "--event-bytes", "500", "--peak", "3",
		"--partition-mbps", "5", "--headroom", "20",
		"--keys", "2e6", "--key-bytes", "12", "--value-bytes", "100",
		"--window", "1h", "--lateness", "30m", "--instances", "5")
	// 864e6 / 86,400 = 10,000 events/s; × 3 = 30,000/s.
	// × 500 bytes = 5.0 MB/s average, 15.0 MB/s peak.
	// partitions = ceil(15 × 1.2 / 5) = ceil(3.6) = 4.
	// windows per key = ceil((60 + 30) / 60) = 2; records = 2e6 × 2 = 4,000,000.
	// stored key = 12 + 20 (window store) = 32; on disk per record
	// 32 + 100 + 69.5 = 201.5 bytes.
	// state = 4e6 × 201.5 = 806,000,000 bytes = 806 MB; / 5 = 161.2 MB → "161 MB".
	// changelog = 4e6 × (32 + 100) = 528,000,000 bytes = 528 MB.
	// records per instance = 800,000; / 970,000/s = 0.825 s → 800ms.
	assertRows(t, out, map[string]string{
		"events/s average":            "10,000",
		"events/s peak":               "30,000",
		"MB/s average":                "5.0",
		"MB/s peak":                   "15.0",
		"partitions":                  "4",
		"windows per key":             "2",
		"state records":               "4,000,000",
		"bytes per record on disk":    "201.5",
		"state on disk, total":        "806 MB",
		"state on disk, per instance": "161 MB",
		"changelog, compacted":        "528 MB",
		"restore time per instance":   "800ms",
	})

	// A key-value store (no window), value size defaulting to the event size,
	// one instance, a given restore rate:
	// records = 3e7; per record 16 (default key) + 250 + 69.5 = 335.5 bytes;
	// state = 3e7 × 335.5 = 10,065,000,000 bytes = 10.1 GB;
	// changelog = 3e7 × 266 = 7,980,000,000 bytes = 7.98 GB;
	// restore = 3e7 / 500,000/s = 60 s.
	out = runPlan(t, "--events-per-day", "1e9", "--event-bytes", "250", "--keys", "3e7", "--restore-rate", "500000")
	assertRows(t, out, map[string]string{
		"windows per key":             "1",
		"state records":               "30,000,000",
		"bytes per record on disk":    "335.5",
		"state on disk, total":        "10.1 GB",
		"state on disk, per instance": "10.1 GB",
		"changelog, compacted":        "7.98 GB",
		"restore time per instance":   "1m0s",
	})

	// Lateness of exactly one window: ceil((10 + 10) / 10) = 2 windows per key;
	// lateness of zero: 1.
	assertRows(t, runPlan(t, "--events-per-day", "1e6", "--keys", "10", "--window", "10m", "--lateness", "10m"),
		map[string]string{"windows per key": "2"})
	assertRows(t, runPlan(t, "--events-per-day", "1e6", "--keys", "10", "--window", "10m"),
		map[string]string{"windows per key": "1"})
}

// planFlags are the flags `samsa plan --help` must document.
var planFlags = []string{"events-per-day", "event-bytes", "peak", "partition-mbps", "headroom", "keys",
	"key-bytes", "value-bytes", "instances", "window", "lateness", "restore-rate"}

func TestPlanHelpListsEveryFlag(t *testing.T) {
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"plan", "--help"}, &out, &errb)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("plan --help = %v, want flag.ErrHelp (exit 0)", err)
	}
	help := errb.String()
	for _, f := range planFlags {
		if !strings.Contains(help, "  -"+f+" ") {
			t.Errorf("plan --help does not list -%s", f)
		}
	}
	for _, want := range []string{"970,000", "docs/benchmarks.md", "181.5", "10^6 bytes", "default 10"} {
		if !strings.Contains(help, want) {
			t.Errorf("plan --help lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("help:\n%s", help)
	}
}

// exitCode runs the binary and returns its exit code, stdout and stderr.
func exitCode(t *testing.T, bin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String(), errb.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String(), errb.String()
	}
	t.Fatalf("samsa %s: %v", strings.Join(args, " "), err)
	return 0, "", ""
}

// TestHelpOfEveryCommandExitsZero runs the built binary as a user would.
func TestHelpOfEveryCommandExitsZero(t *testing.T) {
	bin := buildSamsa(t)
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"demo", "-h"}, {"describe", "--help"},
		{"verify", "-h"}, {"plan", "--help"}, {"reset", "--help"}, {"version", "-h"}} {
		code, out, errb := exitCode(t, bin, args...)
		if code != 0 {
			t.Errorf("samsa %s: exit %d, want 0\nstderr:\n%s", strings.Join(args, " "), code, errb)
		}
		if strings.TrimSpace(out+errb) == "" {
			t.Errorf("samsa %s printed nothing", strings.Join(args, " "))
		}
	}
	_, out, _ := exitCode(t, bin, "--help")
	for _, cmd := range []string{"demo", "describe", "verify", "plan", "reset", "version"} {
		if !regexp.MustCompile(`(?m)^  ` + cmd + ` `).MatchString(out) {
			t.Errorf("samsa --help does not list %s:\n%s", cmd, out)
		}
	}
}

// TestPlanBadFlagsExitWithUsageCode checks that a bad command line exits
// with 2, as the other commands do, and names the flag.
func TestPlanBadFlagsExitWithUsageCode(t *testing.T) {
	bin := buildSamsa(t)
	for _, c := range []struct {
		args []string
		flag string
	}{
		{[]string{"--peak", "abc"}, "peak"},
		{[]string{"--peak", "0.5"}, "--peak"},
		{[]string{"--event-bytes", "0"}, "--event-bytes"},
		{[]string{"--partition-mbps", "-1"}, "--partition-mbps"},
		{[]string{"--headroom", "-5"}, "--headroom"},
		{[]string{"--instances", "0"}, "--instances"},
		{[]string{"--keys", "5", "--value-bytes", "-3"}, "--value-bytes"},
		{[]string{"--value-bytes", "many"}, "value-bytes"},
		{[]string{"--window", "soon"}, "window"},
		{[]string{"--lateness", "5m"}, "--lateness"},
		{[]string{"--restore-rate", "0"}, "--restore-rate"},
		{[]string{"--bogus", "1"}, "bogus"},
	} {
		args := append([]string{"plan", "--events-per-day", "10e9"}, c.args...)
		code, _, errb := exitCode(t, bin, args...)
		if code != 2 {
			t.Errorf("samsa %s: exit %d, want 2", strings.Join(args, " "), code)
		}
		if !strings.Contains(errb, c.flag) {
			t.Errorf("samsa %s: stderr does not name %q:\n%s", strings.Join(args, " "), c.flag, errb)
		}
	}
	code, _, errb := exitCode(t, bin, "plan", "--event-bytes", "1000")
	if code != 2 || !strings.Contains(errb, "--events-per-day is required") {
		t.Errorf("plan without --events-per-day: exit %d, stderr %q; want 2 and a message naming the flag", code, errb)
	}
	code, out, errb := exitCode(t, bin, "plan", "--events-per-day", "10e9", "--event-bytes", "1000", "--peak", "5")
	if code != 0 || !strings.Contains(out, "578,704") {
		t.Errorf("the classic example: exit %d, stdout:\n%s\nstderr:\n%s", code, out, errb)
	}
}

func TestVersion(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"--version"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "samsa ") || !strings.Contains(out.String(), " "+runtime.Version()+" ") {
		t.Errorf("--version printed %q, want samsa <version> %s ...", out.String(), runtime.Version())
	}
	if err := run(context.Background(), []string{"version", "extra"}, &out, &errb); !errors.Is(err, errUsage) {
		t.Errorf("version extra = %v, want a usage error", err)
	}

	// The built binary prints the module version the go command stamped
	// into it, as `go version -m` reads it, and exits 0.
	bin := buildSamsa(t)
	mv, err := exec.Command(goTool(t), "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	m := regexp.MustCompile(`(?m)^\s+mod\s+github.com/samsa-streams/samsa\s+(\S+)`).FindSubmatch(mv)
	goVer := regexp.MustCompile(`^\S+: (\S+)`).FindSubmatch(mv)
	if m == nil || goVer == nil {
		t.Fatalf("go version -m %s: no module or go version in\n%s", bin, mv)
	}
	want := "samsa " + string(m[1]) + " " + string(goVer[1]) + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	for _, args := range [][]string{{"--version"}, {"version"}} {
		code, got, errb := exitCode(t, bin, args...)
		if code != 0 || got != want {
			t.Errorf("samsa %s: exit %d, stdout %q, want exit 0 and %q (stderr %q)", args[0], code, got, want, errb)
		}
	}
}
