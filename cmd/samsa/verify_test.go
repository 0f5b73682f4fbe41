package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streams/samsa/testkit"
)

// buildSamsa builds the CLI: the verifier runs its instances as separate
// processes of this binary.
func buildSamsa(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "samsa")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

var summaryRE = regexp.MustCompile(`verify: inputs=(\d+) echo=(\d+) agg-updates=(\d+) group-updates=(\d+) duplicates=(\d+) lost=(\d+) .* kills=(\d+) broker-restarts=(\d+) .* self-exits=(\d+) expected-exits=(\d+) ticks=(\d+) .* poison-failures=(\d+) .*verdict=(\w+)`)

type summary struct {
	inputs, duplicates, lost, kills, restarts int
	selfExits, expectedExits, ticks, poison   int
	verdict                                   string
}

func runVerifier(t *testing.T, bin string, args ...string) (summary, error) {
	t.Helper()
	c := testkit.RealCluster(t)
	restart, err := filepath.Abs("../../dev/kafka/run")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	args = append([]string{"verify", "--bootstrap", strings.Join(c.Bootstrap, ","), "--restart-broker", restart + " restart-node 0", "--dir", t.TempDir()}, args...)
	cmd := exec.CommandContext(ctx, bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	t.Logf("samsa %s:\n%s", strings.Join(args, " "), out.String())
	m := summaryRE.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no summary line in the verifier's output (err %v)", runErr)
	}
	n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
	return summary{inputs: n(1), duplicates: n(5), lost: n(6), kills: n(7), restarts: n(8),
		selfExits: n(9), expectedExits: n(10), ticks: n(11), poison: n(12), verdict: m[13]}, runErr
}

// TestCrashVerifier is the proof of the exactly-once promise: three
// instances as separate processes, ten SIGKILLs, an instance added and
// removed, a broker restart; every input counted exactly once, every
// stream-time punctuation ticked exactly once, no instance exiting by
// itself. The same run under at-least-once must show duplicates, or the
// verifier proves nothing.
func TestCrashVerifier(t *testing.T) {
	testkit.RealCluster(t)
	if _, err := os.Stat("../../dev/kafka/.run/bootstrap"); err != nil {
		t.Fatalf("the crash verifier restarts the broker through dev/kafka/run, which did not start it: %v", err)
	}
	bin := buildSamsa(t)
	t.Run("exactly_once", func(t *testing.T) {
		s, err := runVerifier(t, bin, "--guarantee", "exactly_once", "--kills", "10", "--duration", "30s")
		if err != nil || s.verdict != "PASS" {
			t.Fatalf("exactly-once verdict %s (err %v)", s.verdict, err)
		}
		if s.ticks == 0 || s.selfExits != 0 {
			t.Fatalf("the punctuator did not run or an instance exited by itself: %+v", s)
		}
		if s.kills < 10 || s.restarts != 1 || s.inputs < 8000 {
			t.Fatalf("too gentle a run: %+v", s)
		}
	})
	t.Run("at_least_once_shows_duplicates", func(t *testing.T) {
		s, err := runVerifier(t, bin, "--guarantee", "at_least_once", "--kills", "10", "--duration", "30s", "--expect-duplicates")
		if err != nil {
			t.Fatalf("the verifier did not catch at-least-once duplicates: %v", err)
		}
		if s.duplicates == 0 || s.verdict != "FAIL" || s.lost != 0 {
			t.Fatalf("under at-least-once want duplicates, no loss and verdict FAIL: %+v", s)
		}
	})
}

// TestVerifierOversize feeds one record whose 50 KB output is larger than
// the output topic's max.message.bytes. Under Fail the instances must stop
// without committing past it and, once the limit is raised, count it
// exactly once; under DeadLetter it must land in the dead-letter topic once
// with its headers. Everything else must be exact in both.
func TestVerifierOversize(t *testing.T) {
	testkit.RealCluster(t)
	bin := buildSamsa(t)
	t.Run("fail", func(t *testing.T) {
		s, err := runVerifier(t, bin, "--scenario", "oversize-fail", "--guarantee", "exactly_once", "--rate", "200", "--duration", "20s")
		if err != nil || s.verdict != "PASS" {
			t.Fatalf("oversize-fail verdict %s (err %v): %+v", s.verdict, err, s)
		}
		if s.expectedExits == 0 || s.selfExits != 0 || s.poison != 0 {
			t.Fatalf("the poison must stop instances before the limit is raised, and none after: %+v", s)
		}
	})
	t.Run("dead_letter", func(t *testing.T) {
		g := "exactly_once"
		s, err := runVerifier(t, bin, "--scenario", "oversize-dead-letter", "--guarantee", g, "--rate", "200", "--duration", "15s")
		if err != nil || s.verdict != "PASS" {
			t.Fatalf("oversize-dead-letter under %s: verdict %s (err %v): %+v", g, s.verdict, err, s)
		}
		if s.selfExits != 0 || s.expectedExits != 0 || s.poison != 0 {
			t.Fatalf("no instance may exit under DeadLetter: %+v", s)
		}
	})
}
