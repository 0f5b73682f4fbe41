package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/cmd/samsa/internal/verify"
	"github.com/samsa-streams/samsa/testkit/cluster"
)

func parseGuarantee(s string) (samsa.Guarantee, error) {
	switch s {
	case "exactly_once", "exactly_once_v2", "eos":
		return samsa.ExactlyOnce, nil
	case "at_least_once", "alos":
		return samsa.AtLeastOnce, nil
	}
	return 0, fmt.Errorf("%w: --guarantee must be exactly_once or at_least_once, got %q", errUsage, s)
}

// verifyCmd runs the crash verifier against a real broker.
func verifyCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("verify", stderr)
	bootstrap := fs.String("bootstrap", os.Getenv(cluster.EnvBootstrap), "the Kafka cluster (default $SAMSA_BOOTSTRAP)")
	guarantee := fs.String("guarantee", "exactly_once", "exactly_once or at_least_once")
	duration := fs.Duration("duration", 40*time.Second, "how long input flows")
	kills := fs.Int("kills", 10, "how many SIGKILLs")
	rate := fs.Int("rate", 1000, "input records per second")
	restart := fs.String("restart-broker", "", "command that restarts the broker once, e.g. \"dev/kafka/run restart-node 0\"")
	dir := fs.String("dir", "", "where instances keep state and logs (default: a new temporary directory)")
	scenario := fs.String("scenario", "chaos", "chaos (kills, rebalances, a zombie, a broker restart), oversize-fail or oversize-dead-letter (one record whose output the broker rejects as too large, under the Fail or DeadLetter production policy)")
	expectDup := fs.Bool("expect-duplicates", false, "succeed only if duplicates are found (to show that the verifier can fail under at_least_once)")
	if err := parse(fs, args); err != nil {
		return err
	}
	g, err := parseGuarantee(*guarantee)
	if err != nil {
		return err
	}
	sc, err := verify.ParseScenario(*scenario)
	if err != nil {
		return fmt.Errorf("%w: --scenario: %w", errUsage, err)
	}
	if *bootstrap == "" {
		return fmt.Errorf("%w: no broker: give --bootstrap or set SAMSA_BOOTSTRAP (dev/kafka/run start prints it)", errUsage)
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "samsa-verify-")
		if err != nil {
			return err
		}
		*dir = d
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cfg := verify.Config{
		Bootstrap: strings.Split(*bootstrap, ","), Guarantee: g, Duration: *duration, Kills: *kills, Rate: *rate,
		Dir: *dir, Out: stdout, Seed: uint64(time.Now().UnixNano()), Scenario: sc,
		Worker: func(_ int, w verify.WorkerConfig) *exec.Cmd {
			return exec.Command(self, "verify-worker", "--bootstrap", strings.Join(w.Bootstrap, ","), "--app", w.AppID,
				"--run", w.Run, "--guarantee", *guarantee, "--state-dir", w.StateDir, "--instance", w.Instance,
				"--production-errors", w.ProductionErrors.String())
		},
	}
	if *restart != "" && sc == verify.Chaos {
		cfg.RestartBroker = strings.Fields(*restart)
	}
	res, err := verify.Run(ctx, cfg)
	if *expectDup {
		if res.Duplicates > 0 && res.Lost == 0 {
			fmt.Fprintf(stdout, "verify: the verifier caught %d duplicates under %s, as expected\n", res.Duplicates, g)
			return nil
		}
		return fmt.Errorf("verify: expected duplicates under %s, found %d (lost %d); logs in %s", g, res.Duplicates, res.Lost, *dir)
	}
	if err != nil {
		return fmt.Errorf("%w; instance logs in %s", err, *dir)
	}
	return nil
}

// verifyWorker is one app instance of the verifier, as its own process.
func verifyWorker(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := newFlags("verify-worker", stderr)
	bootstrap := fs.String("bootstrap", "", "")
	app := fs.String("app", "", "")
	run := fs.String("run", "", "")
	guarantee := fs.String("guarantee", "exactly_once", "")
	stateDir := fs.String("state-dir", "", "")
	instance := fs.String("instance", "", "")
	production := fs.String("production-errors", "fail", "fail or dead-letter")
	if err := parse(fs, args); err != nil {
		return err
	}
	g, err := parseGuarantee(*guarantee)
	if err != nil {
		return err
	}
	var pol samsa.ErrorPolicy
	switch *production {
	case samsa.Fail.String():
		pol = samsa.Fail
	case samsa.DeadLetter.String():
		pol = samsa.DeadLetter
	default:
		return fmt.Errorf("%w: --production-errors must be fail or dead-letter, got %q", errUsage, *production)
	}
	return verify.RunWorker(ctx, verify.WorkerConfig{Bootstrap: strings.Split(*bootstrap, ","), AppID: *app, Run: *run,
		Guarantee: g, StateDir: *stateDir, Instance: *instance, ProductionErrors: pol})
}
