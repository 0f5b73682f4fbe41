package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit/cluster"
	"github.com/samsa-streams/samsa/topology"
)

// logLine is the demo's input: a structured log record.
type logLine struct {
	Service string `json:"service"`
	Level   string `json:"level"`
	Msg     string `json:"msg"`
	Seq     int    `json:"seq"`
}

var emailRE = regexp.MustCompile(`[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-z]{2,}`)

// demoTopology is a logging pipeline: drop debug lines, redact e-mail
// addresses, send errors to an alerts topic and the rest to a clean topic.
func demoTopology(in, clean, alerts string, seen *atomic.Int64, show func(string)) *topology.Topology {
	t := topology.New()
	logs := topology.StreamOf(t, serde.String, serde.JSON[logLine](), in)
	kept := logs.Peek(func(string, logLine) { seen.Add(1) }).
		Filter(func(_ string, l logLine) bool { return l.Level != "debug" })
	redacted := topology.MapValues(kept, func(_ string, l logLine) logLine {
		l.Msg = emailRE.ReplaceAllString(l.Msg, "<redacted>")
		return l
	})
	branches := redacted.Branch(
		func(_ string, l logLine) bool { return l.Level == "error" },
		func(string, logLine) bool { return true },
	)
	branches[0].Peek(func(k string, l logLine) {
		show(fmt.Sprintf("  alert  %-8s #%-5d %s", k, l.Seq, l.Msg))
	}).To(alerts, serde.String, serde.JSON[logLine]())
	branches[1].To(clean, serde.String, serde.JSON[logLine]())
	return t
}

func demoInput(i int) (string, logLine) {
	services := []string{"checkout", "search", "auth", "billing"}
	levels := []string{"info", "debug", "info", "warn", "info", "error", "debug", "info"}
	msgs := []string{
		"user %d signed in as user%d@example.com",
		"cart %d updated",
		"payment %d declined for jane.doe%d@example.org",
		"query %d took 41ms",
	}
	l := logLine{Service: services[i%len(services)], Level: levels[i%len(levels)], Seq: i}
	m := msgs[(i/3)%len(msgs)]
	if strings.Count(m, "%d") == 2 {
		l.Msg = fmt.Sprintf(m, i, i)
	} else {
		l.Msg = fmt.Sprintf(m, i)
	}
	return l.Service, l
}

func demo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", stderr)
	bootstrap := fs.String("bootstrap", "", "use the Kafka cluster at host:port instead of the embedded one")
	records := fs.Int("records", 5000, "number of sample log records to produce")
	timeout := fs.Duration("timeout", 50*time.Second, "give up after this long")
	verbose := fs.Bool("v", false, "log the runtime's own messages")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *records <= 0 {
		return fmt.Errorf("%w: --records must be positive, got %d", errUsage, *records)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	start := time.Now()

	var c *cluster.Cluster
	var err error
	if *bootstrap != "" {
		c, err = cluster.Connect(strings.Split(*bootstrap, ",")...)
		if err == nil {
			err = c.Ping(ctx, 5*time.Second)
		}
		if err != nil {
			return fmt.Errorf("cannot use --bootstrap %s: %w", *bootstrap, err)
		}
		fmt.Fprintf(stdout, "using the Kafka cluster at %s\n", *bootstrap)
	} else {
		c, err = cluster.Embedded(1)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "started an embedded Kafka cluster at %s\n", strings.Join(c.Bootstrap, ","))
	}
	defer c.Close()

	suffix := cluster.UniqueName("")
	in, clean, alerts := "demo-logs"+suffix, "demo-logs-clean"+suffix, "demo-alerts"+suffix
	for _, topic := range []string{in, clean, alerts} {
		if err := c.CreateTopic(ctx, topic, 3, nil); err != nil {
			return err
		}
	}
	recs := make([]*kgo.Record, *records)
	wantAlerts, wantClean := 0, 0
	for i := range recs {
		k, l := demoInput(i)
		v, _ := json.Marshal(l)
		recs[i] = &kgo.Record{Topic: in, Key: []byte(k), Value: v}
		switch l.Level {
		case "error":
			wantAlerts++
		case "debug":
		default:
			wantClean++
		}
	}
	if err := c.Produce(ctx, false, recs...); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "produced %d log records to %s (3 partitions)\n", *records, in)

	var seen atomic.Int64
	var shown atomic.Int64
	show := func(s string) {
		if shown.Add(1) <= 8 {
			fmt.Fprintln(stdout, s)
		}
	}
	top := demoTopology(in, clean, alerts, &seen, show)
	logLevel := slog.LevelWarn
	if *verbose {
		logLevel = slog.LevelInfo
	}
	app, err := samsa.New(top, samsa.Config{
		ApplicationID:  "samsa-demo" + suffix,
		Bootstrap:      c.Bootstrap,
		CommitInterval: 200 * time.Millisecond,
		Logger:         slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevel})),
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "running the log pipeline: drop debug, redact e-mails, errors → alerts, rest → clean; first alerts:")
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
wait:
	for app.Processed() < int64(*records) {
		select {
		case err := <-done:
			return fmt.Errorf("the app stopped early: %w", err)
		case <-ctx.Done():
			break wait
		case <-tick.C:
		}
	}
	if err := app.Close(); err != nil {
		return err
	}
	if err := <-done; err != nil {
		return err
	}
	if app.Processed() < int64(*records) {
		return fmt.Errorf("timed out after %s: processed %d of %d records", *timeout, app.Processed(), *records)
	}

	readCtx, cancelRead := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancelRead()
	gotClean, err := countRecords(readCtx, c, clean)
	if err != nil {
		return err
	}
	gotAlerts, err := countRecords(readCtx, c, alerts)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "processed %d records in %s: %d to %s, %d to %s, %d debug lines dropped\n",
		app.Processed(), time.Since(start).Round(time.Millisecond), gotClean, clean, gotAlerts, alerts, *records-wantClean-wantAlerts)
	if gotClean != wantClean || gotAlerts != wantAlerts {
		return fmt.Errorf("output mismatch: clean %d (want %d), alerts %d (want %d)", gotClean, wantClean, gotAlerts, wantAlerts)
	}
	fmt.Fprintln(stdout, "demo ok")
	return nil
}

func countRecords(ctx context.Context, c *cluster.Cluster, topic string) (int, error) {
	byPart, err := c.ReadTopic(ctx, topic)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, rs := range byPart {
		for _, r := range rs {
			if strings.Contains(string(r.Value), "@example.") {
				return 0, fmt.Errorf("record at %s[%d]@%d was not redacted: %s", topic, r.Partition, r.Offset, r.Value)
			}
		}
		n += len(rs)
	}
	return n, nil
}
