// Package run runs an example's topology on an embedded Kafka cluster (or
// the one named by -bootstrap): it creates the topics, produces the
// example's input, runs the App until its outputs are complete, and prints
// them. The examples' own code is their topology.go: what a user copies.
package run

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/testkit/cluster"
	"github.com/samsa-streams/samsa/topology"
)

// Example describes one example program.
type Example struct {
	// Name is the application id's prefix.
	Name string
	// Topics are created with 3 partitions before anything runs.
	Topics []string
	// Topology builds the topology; topic gives the name of each topic in
	// this run (a unique suffix, so that runs on a shared cluster never
	// collide).
	Topology func(topic func(string) string) *topology.Topology
	// Config adjusts the App's configuration (ApplicationID, Bootstrap
	// and Logger are set).
	Config func(*samsa.Config)
	// Input is produced before the App starts.
	Input []*kgo.Record
	// Outputs are the topics printed at the end, with a function that
	// formats one record; Done says when they are complete.
	Outputs []string
	Format  func(r *kgo.Record) string
	Done    func(outputs map[string][]*kgo.Record) bool
}

// Main runs the example as a command: flags -bootstrap and -timeout.
func Main(e Example) {
	bootstrap := flag.String("bootstrap", "", "use the Kafka cluster at host:port instead of an embedded one")
	timeout := flag.Duration("timeout", 60*time.Second, "give up after this long")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := Run(ctx, e, *bootstrap, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, e.Name+":", err)
		os.Exit(1)
	}
}

// Run runs the example and prints its outputs to w.
func Run(ctx context.Context, e Example, bootstrap string, w io.Writer) error {
	var c *cluster.Cluster
	var err error
	if bootstrap != "" {
		c, err = cluster.Connect(strings.Split(bootstrap, ",")...)
	} else {
		c, err = cluster.Embedded(1)
	}
	if err != nil {
		return err
	}
	defer c.Close()
	suffix := cluster.UniqueName("")
	rename := map[string]string{}
	for _, t := range e.Topics {
		rename[t] = t + suffix
		if err := c.CreateTopic(ctx, t+suffix, 3, nil); err != nil {
			return err
		}
	}
	recs := make([]*kgo.Record, len(e.Input))
	for i, r := range e.Input {
		cp := *r
		cp.Topic = rename[r.Topic]
		recs[i] = &cp
	}
	if err := c.Produce(ctx, false, recs...); err != nil {
		return err
	}
	fmt.Fprintf(w, "%s: produced %d records on %s\n", e.Name, len(recs), strings.Join(c.Bootstrap, ","))

	cfg := samsa.Config{
		ApplicationID:  e.Name + suffix,
		Bootstrap:      c.Bootstrap,
		CommitInterval: 100 * time.Millisecond,
		Logger:         slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	}
	if e.Config != nil {
		e.Config(&cfg)
	}
	if cfg.DeadLetterTopic != "" {
		cfg.DeadLetterTopic = rename[cfg.DeadLetterTopic]
	}
	app, err := samsa.New(e.Topology(func(t string) string { return t + suffix }), cfg)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	outputs := map[string][]*kgo.Record{}
	for {
		for _, t := range e.Outputs {
			byPart, err := c.ReadTopic(ctx, rename[t])
			if err != nil {
				return err
			}
			var all []*kgo.Record
			for _, rs := range byPart {
				all = append(all, rs...)
			}
			sort.SliceStable(all, func(i, j int) bool { return all[i].Timestamp.Before(all[j].Timestamp) })
			outputs[t] = all
		}
		if e.Done(outputs) {
			break
		}
		select {
		case err := <-done:
			return fmt.Errorf("the app stopped: %w", err)
		case <-ctx.Done():
			return fmt.Errorf("outputs incomplete: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	if err := app.Close(); err != nil {
		return err
	}
	if err := <-done; err != nil {
		return err
	}
	for _, t := range e.Outputs {
		fmt.Fprintf(w, "\n%s (%d records):\n", t, len(outputs[t]))
		for _, r := range outputs[t] {
			fmt.Fprintln(w, "  "+e.Format(r))
		}
	}
	return nil
}
