// Command samsa is the benchmark harness' samsa contender: the stateless
// (MapValues then Filter), count (Count per key), groupby-count (SelectKey
// then Count, through a repartition topic), window-count (WindowedCount
// over 1-minute tumbling windows) or join (LeftJoin with a TableOf)
// topology through samsa's public API, under the guarantee and commit
// interval given, until SIGTERM or SIGINT. At the end of each store's
// restore it prints "bench-restored unixms=<wall clock> records=<n>" to
// stdout (the harness' restore scenario reads it).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/bench/internal/work"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/topology"
)

func main() {
	// SAMSA_BENCH_LOG=debug|info shows samsa's log (warnings only by default).
	level := slog.LevelWarn
	if err := level.UnmarshalText([]byte(os.Getenv("SAMSA_BENCH_LOG"))); err != nil {
		level = slog.LevelWarn
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if err := run(log); err != nil {
		log.Error("samsa contender failed", "err", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	f, err := work.Parse("samsa", os.Args[1:])
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if f.CPUProfile != "" {
		pf, err := os.Create(f.CPUProfile)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	app, err := samsa.New(build(f), config(f, log))
	if err != nil {
		return fmt.Errorf("samsa.New: %w", err)
	}
	if err := app.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("run: %w", err)
	}
	return nil
}

// build returns the topology of f.Topology.
func build(f work.Flags) *topology.Topology {
	top := topology.New()
	in := topology.StreamOf(top, serde.StringView, serde.StringView, f.In)
	if f.Topology == work.Stateless {
		topology.MapValues(in, func(_ string, v string) string { return work.MapString(v) }).
			Filter(func(_ string, v string) bool { return work.KeepString(v) }).
			To(f.Out, serde.StringView, serde.StringView)
		return top
	}
	switch f.Topology {
	case work.GroupByCount:
		topology.Count(topology.SelectKey(in, func(k, _ string) string { return work.GroupKeyString(k) }), "counts", serde.StringView).
			To(f.Out, serde.StringView, serde.Int64)
	case work.WindowCount:
		topology.WindowedCount(in, topology.TumblingWindows(work.Window), "wcounts", serde.StringView).
			To(f.Out, topology.TimeWindowedSerde(serde.StringView, work.Window), serde.Int64)
	case work.Join:
		table := topology.TableOf(top, f.Table, "table", serde.StringView, serde.String)
		topology.LeftJoin(in, table, func(_ string, v, tv string, found bool) string { return work.JoinedString(v, tv, found) }).
			To(f.Out, serde.StringView, serde.StringView)
	default:
		topology.Count(in, "counts", serde.StringView).To(f.Out, serde.StringView, serde.Int64)
	}
	return top
}

// config is samsa's configuration for f: its defaults but for the
// guarantee, the commit interval and the session timeout.
func config(f work.Flags, log *slog.Logger) samsa.Config {
	cfg := samsa.Config{
		ApplicationID:  f.App,
		Bootstrap:      f.Brokers(),
		CommitInterval: f.Commit,
		StateDir:       f.StateDir,
		Logger:         log,
		RestoreListener: func(p samsa.RestoreProgress) {
			if p.Finished {
				fmt.Printf("bench-restored unixms=%d records=%d\n", time.Now().UnixMilli(), p.Done)
			}
		},
	}
	if f.Guarantee == work.ExactlyOnce {
		cfg.Guarantee = samsa.ExactlyOnce
	}
	if f.Session > 0 {
		cfg.SessionTimeout, cfg.HeartbeatInterval = f.Session, f.Session/3
	}
	return cfg
}
