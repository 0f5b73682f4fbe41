// Command samsa is samsa's command-line tool.
//
//	samsa demo [--bootstrap host:port] [--records N]
//	samsa describe [--mermaid]
//	samsa verify [--guarantee exactly_once|at_least_once] [--kills N] [--duration D]
//	samsa plan --events-per-day N [--event-bytes B] [--peak F] [--keys K] ...
//	samsa reset --application-id ID --bootstrap host:port [--to-earliest|--to-latest|--to-datetime T|--by-duration D|--shift-by N] [--dry-run]
//	samsa version (or samsa --version)
//
// demo starts an in-process Kafka cluster (or uses --bootstrap), produces
// sample events, runs a sample topology and prints what flows.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: samsa <command> [flags]

commands:
  demo       run a sample topology on an embedded cluster (or --bootstrap)
  describe   print the demo topology as Kafka Streams' describe() does
  verify     the exactly-once crash verifier (needs a real broker)
  plan       capacity planning: rates, partitions, state, changelog, restore time
  reset      reset an application: rewind its input offsets, delete its internal topics and local state
  version    print samsa's version and the Go version (also --version)

run "samsa <command> -h" for the flags of a command.
`

// errUsage marks an error caused by the command line.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "samsa:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "samsa:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: no command given", errUsage)
	}
	switch args[0] {
	case "demo":
		return demo(ctx, args[1:], stdout, stderr)
	case "describe":
		return describe(args[1:], stdout, stderr)
	case "verify":
		return verifyCmd(ctx, args[1:], stdout, stderr)
	case "plan":
		return plan(args[1:], stdout, stderr)
	case "reset":
		return reset(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-version":
		return version(args[1:], stdout, stderr)
	case "verify-worker":
		return verifyWorker(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("%w: unknown command %q", errUsage, args[0])
}

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("samsa "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}
