// Command bench is samsa's end-to-end benchmark harness (issue 14): it runs
// the same topologies as separate OS processes of a raw franz-go
// consume→produce loop, samsa and Kafka Streams, on the same pre-loaded
// input topics of one real Kafka broker, alternating the contenders run by
// run, checks every contender's output, and writes medians, ratios and
// charts into a generated section of docs/benchmarks.md. The scenarios
// (-scenarios takes their ids):
//
//   - stateless, stateless-eos: map+filter, at-least-once 30 s commits and
//     exactly-once 100 ms; every kept record upper-cased, none wrongly
//     filtered, no extra.
//   - count-alos-30s (not in -quick), count-alos-100ms, count-eos-100ms: a
//     count per key; every key's final count is the input's, none above.
//   - groupby-count: the key re-mapped (ten input keys per new key) and
//     counted per new key through a repartition topic; checked as a count.
//   - window-count: a count per key and 1-minute tumbling window (event
//     times spread over 5 minutes, no grace); every (key, window)'s final
//     count is the input's. State on disk and peak RSS are in every table.
//   - join: a stream left-joined with a table pre-loaded before it (one key
//     in four missing); every stream record joined once, with its key's
//     table value or none.
//   - restore (samsa and Kafka Streams only): a count over 1,000,000 keys
//     (100,000 with -quick), stopped, its state directory deleted, started
//     again on more records of its keys: the time to the end of the
//     restore (the contenders' restore listeners) and to the first output,
//     every count after it exactly 2.
//   - eos-crash (samsa and Kafka Streams only): a count per key under
//     exactly-once (100 ms commits) over 1,000,000 records of 100,000 keys
//     (100,000 of 10,000 with -quick), half of them loaded, more fed at
//     20,000 records/s from its first output, killed with SIGKILL once
//     its output shows 60% counted, the rest added, started again on the
//     same state directory and application id (both with a 6 s group
//     session timeout): the changelog records restored (each contender's
//     restore listener), the time to the end of the restore, to the first
//     new output and to the complete output; every key's final count is
//     the input's, none above, read_committed.
//   - latency-alos, latency-eos: the end-to-end latency of a count per key
//     (10,000 keys), at-least-once and exactly-once, 100 ms commits: 1,000
//     records loaded, the rest of 200,000 (30,000 with -quick) fed at
//     10,000 records/s from the first output, each with its produce time
//     as timestamp, which every contender's count output keeps; the
//     read_committed reader records now − timestamp of each output record
//     of the records fed from 1 s after the feed's start: p50 and p99 (medians of runs) and max, the feed
//     rate achieved and the time from the last record fed to the complete
//     output (a contender not keeping up is marked so); checked as a
//     count. Under exactly-once the latency includes waiting for the
//     transaction's commit, and samsa's and Kafka Streams' record caches
//     hold counts until a commit.
//
// The raw loop's counts are Go maps (no changelog, no repartition), its
// join a Go map of the table; it has nothing to restore.
//
//	cd bench && go run . [-quick] [-out docs/benchmarks.md]
//
// Each run's figures are also kept in bench/results.json beside the
// document; `go run . -render ../docs/bench/results.json` writes the
// section and charts again from them (after a change of wording).
//
// It uses the broker at $SAMSA_BOOTSTRAP, or the one dev/kafka/run runs,
// or starts one with dev/kafka/run (and stops it at the end).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := run(log); err != nil {
		fmt.Fprintln(os.Stderr, "bench: FAIL:", err)
		os.Exit(1)
	}
}

// options are the harness' flags.
type options struct {
	quick      bool
	out        string
	runs       int
	only       string
	contenders string
	noStreams  bool
	cpuprofile string
	render     string
}

func run(log *slog.Logger) error {
	var o options
	flag.BoolVar(&o.quick, "quick", false, "about 100k records per input (a 100k-key restore), one run per contender, no 30 s count scenario")
	flag.StringVar(&o.out, "out", "docs/benchmarks.md", "markdown file whose generated section is written, relative to the repository root (charts go to bench/ beside it); empty: print only")
	flag.IntVar(&o.runs, "runs", 0, "runs per contender and scenario (default 3, 1 with -quick)")
	flag.StringVar(&o.only, "scenarios", "", "comma-separated scenario ids to run (default all)")
	flag.StringVar(&o.contenders, "contenders", "", "comma-separated contender ids to run: raw, samsa, streams (default all)")
	flag.BoolVar(&o.noStreams, "no-streams", false, "skip Kafka Streams (no Java or Maven)")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of samsa's first run to this file (choose the scenario with -scenarios)")
	flag.StringVar(&o.render, "render", "", "run nothing: write -out's section and charts again from this results.json (as written beside the charts)")
	flag.Parse()
	root, err := repoRoot()
	if err != nil {
		return err
	}
	if o.out != "" && !filepath.IsAbs(o.out) {
		o.out = filepath.Join(root, o.out)
	}
	if o.render != "" {
		rep, err := readReport(o.render)
		if err != nil {
			return err
		}
		if o.out == "" {
			fmt.Println(rep.markdown(""))
			return nil
		}
		return rep.write(o.out)
	}
	if o.runs == 0 {
		o.runs = 3
		if o.quick {
			o.runs = 1
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	bootstrap, stopBroker, err := broker(ctx, root, log)
	if err != nil {
		return err
	}
	defer stopBroker()

	tmp, err := os.MkdirTemp("", "samsa-bench-")
	if err != nil {
		return fmt.Errorf("temp dir: %w", err)
	}
	if os.Getenv("SAMSA_BENCH_KEEP") == "" {
		defer os.RemoveAll(tmp)
	} else {
		// SAMSA_BENCH_KEEP=1 keeps the contenders' logs and state.
		log.Info("keeping the temp dir (SAMSA_BENCH_KEEP)", "dir", tmp)
	}

	h, err := newHarness(ctx, log, bootstrap, root, tmp, o)
	if err != nil {
		return err
	}
	defer h.close()
	res, err := h.runAll(ctx)
	if err != nil {
		return err
	}
	rep := report{Machine: machine(), Quick: o.quick, Runs: o.runs, When: time.Now().UTC(), Scenarios: res}
	fmt.Println(rep.markdown(""))
	if o.out == "" {
		return nil
	}
	return rep.write(o.out)
}

// repoRoot is the directory holding samsa's go.mod, from the working
// directory up.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/samsa-streams/samsa\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run bench from samsa's repository (no go.mod of github.com/samsa-streams/samsa above the working directory)")
		}
		dir = parent
	}
}

// broker returns $SAMSA_BOOTSTRAP, or the broker dev/kafka/run already
// runs (left running), or starts one with dev/kafka/run and returns it
// with a function stopping it.
func broker(ctx context.Context, root string, log *slog.Logger) (string, func(), error) {
	if bs := os.Getenv("SAMSA_BOOTSTRAP"); bs != "" {
		return bs, func() {}, nil
	}
	script := filepath.Join(root, "dev", "kafka", "run")
	if out, err := exec.CommandContext(ctx, script, "bootstrap").Output(); err == nil && len(strings.TrimSpace(string(out))) > 0 {
		bs := strings.TrimSpace(string(out))
		log.Info("SAMSA_BOOTSTRAP is not set: using the broker dev/kafka/run runs (not stopped at the end)", "bootstrap", bs)
		return bs, func() {}, nil
	}
	log.Info("SAMSA_BOOTSTRAP is not set: starting a broker with dev/kafka/run")
	cmd := exec.CommandContext(ctx, script, "start")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", nil, fmt.Errorf("dev/kafka/run start: %w", err)
	}
	stop := func() {
		c := exec.Command(script, "stop")
		c.Stderr = os.Stderr
		if err := c.Run(); err != nil {
			log.Warn("dev/kafka/run stop failed", "err", err)
		}
	}
	for _, l := range strings.Split(string(out), "\n") {
		if bs, ok := strings.CutPrefix(l, "SAMSA_BOOTSTRAP="); ok {
			return strings.TrimSpace(bs), stop, nil
		}
	}
	stop()
	return "", nil, errors.New("dev/kafka/run start printed no SAMSA_BOOTSTRAP line")
}
