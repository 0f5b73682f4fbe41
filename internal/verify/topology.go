// Package verify is samsa's crash verifier: app instances as separate
// processes run a topology with an echo, a stateful aggregation and a
// repartition, while a driver produces a known input, kills instances with
// SIGKILL, adds and removes instances and restarts the broker; afterwards it
// reads every output with read_committed and checks each input was counted
// exactly once.
package verify

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/topology"
)

// Topics are the topics of one verifier run.
type Topics struct {
	Input, Echo, Agg, GroupAgg string
}

// Names derives the topic names of a run from its id.
func Names(run string) Topics {
	return Topics{Input: run + "-input", Echo: run + "-echo", Agg: run + "-agg", GroupAgg: run + "-group-agg"}
}

// CountSum is the aggregate: how many values and their sum.
type CountSum struct {
	Count int64 `json:"c"`
	Sum   int64 `json:"s"`
}

// Group derives the repartition key of an input key "k<n>": "g<n mod 7>".
func Group(key string) string {
	n, _ := strconv.Atoi(strings.TrimPrefix(key, "k"))
	return "g" + strconv.Itoa(n%7)
}

func add(_ string, v string, a CountSum) CountSum {
	n, _ := strconv.ParseInt(v, 10, 64)
	return CountSum{Count: a.Count + 1, Sum: a.Sum + n}
}

// Topology is the verified topology: echo, count and sum per key, and count
// and sum per derived key after a repartition.
func Topology(t Topics) *topology.Topology {
	top := topology.New()
	in := topology.StreamOf(top, serde.String, serde.String, t.Input)
	in.To(t.Echo, serde.String, serde.String)
	topology.Aggregate(in, "per-key", func() CountSum { return CountSum{} }, add, serde.String, serde.JSON[CountSum]()).
		To(t.Agg, serde.String, serde.JSON[CountSum]())
	grouped := topology.GroupBy(in, "by-group", func(k, _ string) string { return Group(k) }, serde.String, serde.String)
	topology.Aggregate(grouped, "per-group", func() CountSum { return CountSum{} }, add, serde.String, serde.JSON[CountSum]()).
		To(t.GroupAgg, serde.String, serde.JSON[CountSum]())
	return top
}

// WorkerConfig configures one app instance.
type WorkerConfig struct {
	Bootstrap []string
	AppID     string
	Run       string
	Guarantee samsa.Guarantee
	StateDir  string
	Instance  string
}

// RunWorker runs one app instance until ctx ends.
func RunWorker(ctx context.Context, cfg WorkerConfig) error {
	commit := 100 * time.Millisecond
	if cfg.Guarantee == samsa.AtLeastOnce {
		commit = time.Second
	}
	app, err := samsa.New(Topology(Names(cfg.Run)), samsa.Config{
		ApplicationID:  cfg.AppID,
		Bootstrap:      cfg.Bootstrap,
		Guarantee:      cfg.Guarantee,
		CommitInterval: commit,
		StateDir:       cfg.StateDir,
		InstanceID:     cfg.Instance,
		Logger:         slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("instance", cfg.Instance),
		ClientOptions: []kgo.Opt{
			kgo.SessionTimeout(6 * time.Second),
			kgo.HeartbeatInterval(time.Second),
			kgo.RebalanceTimeout(20 * time.Second),
		},
	})
	if err != nil {
		return fmt.Errorf("verify worker: %w", err)
	}
	return app.Run(ctx)
}
