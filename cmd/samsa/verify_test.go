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

var summaryRE = regexp.MustCompile(`verify: inputs=(\d+) echo=(\d+) agg-updates=(\d+) group-updates=(\d+) duplicates=(\d+) lost=(\d+) .* kills=(\d+) broker-restarts=(\d+) .*verdict=(\w+)`)

type summary struct {
	inputs, duplicates, lost, kills, restarts int
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
	return summary{inputs: n(1), duplicates: n(5), lost: n(6), kills: n(7), restarts: n(8), verdict: m[9]}, runErr
}

// TestCrashVerifier is the proof of the exactly-once promise: three
// instances as separate processes, ten SIGKILLs, an instance added and
// removed, a broker restart; every input counted exactly once. The same run
// under at-least-once must show duplicates, or the verifier proves nothing.
func TestCrashVerifier(t *testing.T) {
	testkit.RealCluster(t)
	if _, err := os.Stat("../../dev/kafka/.run/bootstrap"); err != nil {
		t.Fatalf("the crash verifier restarts the broker through dev/kafka/run, which did not start it: %v", err)
	}
	bin := buildSamsa(t)
	t.Run("exactly_once", func(t *testing.T) {
		s, err := runVerifier(t, bin, "--guarantee", "exactly_once", "--kills", "10", "--duration", "40s")
		if err != nil || s.verdict != "PASS" {
			t.Fatalf("exactly-once verdict %s (err %v)", s.verdict, err)
		}
		if s.kills < 10 || s.restarts != 1 || s.inputs < 10000 {
			t.Fatalf("too gentle a run: %+v", s)
		}
	})
	t.Run("at_least_once_shows_duplicates", func(t *testing.T) {
		s, err := runVerifier(t, bin, "--guarantee", "at_least_once", "--kills", "10", "--duration", "40s", "--expect-duplicates")
		if err != nil {
			t.Fatalf("the verifier did not catch at-least-once duplicates: %v", err)
		}
		if s.duplicates == 0 || s.verdict != "FAIL" || s.lost != 0 {
			t.Fatalf("under at-least-once want duplicates, no loss and verdict FAIL: %+v", s)
		}
	})
}
