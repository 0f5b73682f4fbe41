package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit/cluster"
	"github.com/samsa-streams/samsa/topology"
)

// The demo's data: clicks keyed by user id, a users table keyed by user id,
// and what the topology makes of them.
type (
	click struct {
		Page string `json:"page"`
	}
	user struct {
		Name    string `json:"name"`
		Country string `json:"country"`
	}
	view struct {
		User    string `json:"user"`
		Name    string `json:"name"`
		Country string `json:"country"`
		Page    string `json:"page"`
	}
)

// demoTopics names the demo's topics.
type demoTopics struct {
	Clicks, Users, Enriched, PerMinute, DeadLetters string
}

// newDemoTopicsOf returns the topics of the demo run cfg belongs to.
func newDemoTopicsOf(cfg samsa.Config) demoTopics {
	return newDemoTopics(strings.TrimPrefix(cfg.ApplicationID, "samsa-demo"))
}

func newDemoTopics(suffix string) demoTopics {
	return demoTopics{
		Clicks: "demo-clicks" + suffix, Users: "demo-users" + suffix, Enriched: "demo-clicks-enriched" + suffix,
		PerMinute: "demo-clicks-per-minute" + suffix, DeadLetters: "demo-dead-letters" + suffix,
	}
}

// demoWindows are the per-minute windows of the demo: a click up to 10 s
// out of order still counts; a later one is late and dropped.
var demoWindows = topology.TumblingWindows(time.Minute).WithGrace(10 * time.Second)

// demoTopology is an enrichment service and a metrics pipeline in one:
// every click is joined with its user (a table read from the users topic;
// unknown users kept as "unknown"), written enriched, and counted per user
// and minute of event time. Malformed clicks go to the dead-letter topic
// (Config.Errors), late clicks are dropped by the window and counted.
func demoTopology(tp demoTopics) *topology.Topology {
	t := topology.New()
	clicks := topology.StreamOf(t, serde.String, serde.JSON[click](), tp.Clicks)
	users := topology.TableOf(t, tp.Users, "users", serde.String, serde.JSON[user]())
	views := topology.LeftJoin(clicks, users, func(id string, c click, u user, found bool) view {
		if !found {
			u = user{Name: "unknown", Country: "?"}
		}
		return view{User: id, Name: u.Name, Country: u.Country, Page: c.Page}
	})
	views.To(tp.Enriched, serde.String, serde.JSON[view]())
	topology.WindowedCount(views, demoWindows, "clicks-per-minute", serde.String).
		To(tp.PerMinute, topology.TimeWindowedSerde(serde.String, demoWindows.Size()), serde.Int64)
	return t
}

// demoInput is what the demo produces, and what it must find afterwards.
type demoInput struct {
	users, clicks      []*kgo.Record
	valid, malformed   int
	late, unknownUsers int
}

// demoBase is the event time of the first click.
var demoBase = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// makeDemoInput makes 40 users and n clicks from 45 users (5 unknown), one
// every 250 ms of event time; every 97th click is malformed JSON, every
// 89th is two minutes late (dropped by the window), every 13th is 5 s out
// of order (within the grace, counted).
func makeDemoInput(tp demoTopics, n int) demoInput {
	var in demoInput
	names := []string{"Ada", "Grace", "Linus", "Ken", "Barbara", "Edsger", "Margaret", "Dennis"}
	countries := []string{"FR", "US", "FI", "NL", "DE", "JP"}
	for i := range 40 {
		v, _ := json.Marshal(user{Name: fmt.Sprintf("%s %d", names[i%len(names)], i), Country: countries[i%len(countries)]})
		in.users = append(in.users, &kgo.Record{Topic: tp.Users, Key: []byte(fmt.Sprintf("u%02d", i)), Value: v, Timestamp: demoBase.Add(-time.Minute)})
	}
	pages := []string{"/", "/pricing", "/docs", "/blog", "/signup", "/docs/windows"}
	for i := range n {
		ts := demoBase.Add(time.Duration(i) * 250 * time.Millisecond)
		id := fmt.Sprintf("u%02d", (i*7)%45)
		v, _ := json.Marshal(click{Page: pages[(i*5)%len(pages)]})
		switch {
		case i%97 == 96:
			v = []byte(`{"page": "/pricing"`) // malformed: dead-lettered
			in.malformed++
		case i%89 == 88 && i > 600:
			ts = ts.Add(-2 * time.Minute) // beyond the grace: dropped by the window
			in.late++
			in.valid++
		case i%13 == 12:
			ts = ts.Add(-5 * time.Second) // out of order, within the grace
			in.valid++
		default:
			in.valid++
		}
		if v[len(v)-1] == '}' && (i*7)%45 >= 40 {
			in.unknownUsers++
		}
		in.clicks = append(in.clicks, &kgo.Record{Topic: tp.Clicks, Key: []byte(id), Value: v, Timestamp: ts})
	}
	return in
}

func demo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", stderr)
	bootstrap := fs.String("bootstrap", "", "use the Kafka cluster at host:port instead of the embedded one")
	records := fs.Int("records", 5000, "number of sample clicks to produce")
	timeout := fs.Duration("timeout", 60*time.Second, "give up after this long")
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
	tp := newDemoTopics(suffix)
	for _, topic := range []string{tp.Clicks, tp.Users, tp.Enriched, tp.PerMinute, tp.DeadLetters} {
		if err := c.CreateTopic(ctx, topic, 3, nil); err != nil {
			return err
		}
	}
	in := makeDemoInput(tp, *records)
	if err := c.Produce(ctx, false, in.users...); err != nil {
		return err
	}
	if err := c.Produce(ctx, false, in.clicks...); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "produced %d users to %s and %d clicks to %s (3 partitions each): %d malformed, %d two minutes late\n",
		len(in.users), tp.Users, len(in.clicks), tp.Clicks, in.malformed, in.late)

	logLevel := slog.LevelError // the dead letters are expected: not one warning each
	if *verbose {
		logLevel = slog.LevelInfo
	}
	cfg := samsa.Config{
		ApplicationID:   "samsa-demo" + suffix,
		Bootstrap:       c.Bootstrap,
		Guarantee:       samsa.ExactlyOnce,
		CommitInterval:  100 * time.Millisecond,
		Errors:          samsa.ErrorPolicies{Deserialization: samsa.DeadLetter},
		DeadLetterTopic: tp.DeadLetters,
		Logger:          slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevel})),
	}
	app, err := samsa.New(demoTopology(tp), cfg)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "running under exactly-once: clicks ⋈ users → enriched clicks; clicks per user and minute (1-minute windows, 10 s grace); malformed clicks → dead letters")
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()

	// Done when every user and every click was processed (the join and
	// the window run in one task per partition) and every malformed click
	// was dead-lettered.
	want := int64(len(in.users) + len(in.clicks))
	progress := newProgress(stdout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
wait:
	for app.Processed() < want || app.DeadLettered() < int64(in.malformed) {
		select {
		case err := <-done:
			progress.end()
			return fmt.Errorf("the app stopped early: %w", err)
		case <-ctx.Done():
			break wait
		case <-tick.C:
			progress.show(fmt.Sprintf("%s  processed %d/%d  dead letters %d/%d  state %s",
				time.Since(start).Round(100*time.Millisecond), app.Processed(), want, app.DeadLettered(), in.malformed, app.State()))
		}
	}
	progress.end()
	if err := app.Close(); err != nil {
		return err
	}
	if err := <-done; err != nil {
		return err
	}
	if app.Processed() < want || app.DeadLettered() < int64(in.malformed) {
		return fmt.Errorf("timed out after %s: processed %d of %d records", *timeout, app.Processed(), want)
	}
	if err := demoReport(c, tp, in, app, time.Since(start), stdout); err != nil {
		return err
	}
	return demoRestore(ctx, c, cfg, stdout)
}

// demoRestore starts the application again as a new instance with an empty
// state directory: its stores (the users table, the per-minute counts) are
// rebuilt from their changelog topics before it processes anything, with a
// progress bar.
func demoRestore(ctx context.Context, c *cluster.Cluster, cfg samsa.Config, stdout io.Writer) error {
	dir, err := os.MkdirTemp("", "samsa-demo-restore-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg.StateDir = dir
	var mu sync.Mutex
	done, toGo := map[string]int64{}, map[string]int64{}
	finished := map[string]bool{}
	bar := newProgress(stdout)
	cfg.RestoreListener = func(p samsa.RestoreProgress) {
		mu.Lock()
		defer mu.Unlock()
		k := p.Task.String() + "/" + p.Store
		done[k], toGo[k], finished[k] = p.Done, p.ToGo, p.Finished
		var d, g int64
		for k := range done {
			d, g = d+done[k], g+toGo[k]
		}
		bar.show(fmt.Sprintf("restoring %s", progressBar(d, d+g, 30)))
	}
	app, err := samsa.New(demoTopology(newDemoTopicsOf(cfg)), cfg)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "\nrestarting as a new instance with an empty state directory: the stores are restored from their changelogs")
	began := time.Now()
	runDone := make(chan error, 1)
	go func() { runDone <- app.Run(ctx) }()
	for app.State() != samsa.StateRunning {
		select {
		case err := <-runDone:
			bar.end()
			return fmt.Errorf("the restarted app stopped: %w", err)
		case <-ctx.Done():
			bar.end()
			return fmt.Errorf("restore: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	bar.end()
	if err := app.Close(); err != nil {
		return err
	}
	if err := <-runDone; err != nil {
		return err
	}
	mu.Lock()
	stores := len(done)
	mu.Unlock()
	fmt.Fprintf(stdout, "restored %d changelog records into %d stores in %s\n", app.Restored(), stores, time.Since(began).Round(time.Millisecond))
	if app.Restored() == 0 {
		return fmt.Errorf("the restarted instance restored nothing")
	}
	fmt.Fprintln(stdout, "demo ok")
	return nil
}

// progressBar draws done of total as a bar of width cells with the figures.
func progressBar(done, total int64, width int) string {
	filled := width
	if total > 0 {
		filled = int(int64(width) * done / total)
	}
	return fmt.Sprintf("[%s%s] %d/%d records", strings.Repeat("#", filled), strings.Repeat(".", width-filled), done, total)
}

// demoReport reads the outputs back (read_committed), prints the final
// table and checks it against the input.
func demoReport(c *cluster.Cluster, tp demoTopics, in demoInput, app *samsa.App, took time.Duration, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	read := func(topic string) ([]*kgo.Record, error) {
		byPart, err := c.ReadTopic(ctx, topic)
		var out []*kgo.Record
		for _, rs := range byPart {
			out = append(out, rs...)
		}
		return out, err
	}
	enriched, err := read(tp.Enriched)
	if err != nil {
		return err
	}
	unknown := 0
	for _, r := range enriched {
		var v view
		if err := json.Unmarshal(r.Value, &v); err != nil {
			return fmt.Errorf("enriched click at %s[%d]@%d: %w", r.Topic, r.Partition, r.Offset, err)
		}
		if v.Name == "unknown" {
			unknown++
		}
	}
	dead, err := read(tp.DeadLetters)
	if err != nil {
		return err
	}
	counts, err := read(tp.PerMinute)
	if err != nil {
		return err
	}
	// The last count of each (user, window) is its result; sum them per
	// minute.
	wk := topology.TimeWindowedSerde(serde.String, demoWindows.Size())
	last := map[string]int64{}
	perMinute := map[time.Time]int64{}
	for _, r := range counts {
		k, err := wk.Deserialize(r.Topic, r.Key)
		if err != nil {
			return err
		}
		n, err := serde.Int64.Deserialize(r.Topic, r.Value)
		if err != nil {
			return err
		}
		id := k.String()
		perMinute[k.Start] += n - last[id]
		last[id] = n
	}
	var counted int64
	minutes := make([]time.Time, 0, len(perMinute))
	for m, n := range perMinute {
		minutes = append(minutes, m)
		counted += n
	}
	sort.Slice(minutes, func(i, j int) bool { return minutes[i].Before(minutes[j]) })

	fmt.Fprintf(stdout, "\nclicks per minute of event time (%s):\n", tp.PerMinute)
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "minute (UTC)\tclicks\tusers\t")
	users := map[time.Time]int{}
	for id := range last {
		for _, m := range minutes {
			if strings.Contains(id, fmt.Sprintf("@[%d,", m.UnixMilli())) {
				users[m]++
			}
		}
	}
	for i, m := range minutes {
		if len(minutes) > 8 && i == 4 {
			fmt.Fprintln(w, "…\t\t\t")
		}
		if len(minutes) > 8 && i >= 4 && i < len(minutes)-3 {
			continue
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t\n", m.UTC().Format("15:04"), perMinute[m], users[m])
	}
	_ = w.Flush()
	fmt.Fprintf(stdout, "\n%d clicks in %s: %d enriched (%d from unknown users) to %s, %d counted in %d windows, %d late dropped, %d malformed dead-lettered to %s\n",
		len(in.clicks), took.Round(time.Millisecond), len(enriched), unknown, tp.Enriched, counted, len(last), int64(in.valid)-counted, len(dead), tp.DeadLetters)

	var problems []string
	if len(enriched) != in.valid {
		problems = append(problems, fmt.Sprintf("%d enriched clicks, want %d", len(enriched), in.valid))
	}
	if unknown != in.unknownUsers {
		problems = append(problems, fmt.Sprintf("%d clicks of unknown users, want %d", unknown, in.unknownUsers))
	}
	if len(dead) != in.malformed || app.DeadLettered() != int64(in.malformed) {
		problems = append(problems, fmt.Sprintf("%d dead letters (%d counted), want %d", len(dead), app.DeadLettered(), in.malformed))
	}
	if counted != int64(in.valid-in.late) {
		problems = append(problems, fmt.Sprintf("%d clicks counted in windows, want %d (%d valid, %d late)", counted, in.valid-in.late, in.valid, in.late))
	}
	if len(problems) > 0 {
		return fmt.Errorf("output mismatch: %s", strings.Join(problems, "; "))
	}
	return nil
}

// progress prints a live one-line progress: rewritten in place on a
// terminal, one line a second otherwise.
type progress struct {
	w        io.Writer
	terminal bool
	last     time.Time
	shown    bool
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.terminal = true
		}
	}
	return p
}

func (p *progress) show(line string) {
	if p.terminal {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.shown = true
		return
	}
	if time.Since(p.last) >= time.Second {
		fmt.Fprintln(p.w, line)
		p.last = time.Now()
	}
}

func (p *progress) end() {
	if p.terminal && p.shown {
		fmt.Fprintln(p.w)
	}
}
