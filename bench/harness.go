package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa/bench/internal/work"
)

// partitions is the partition count of every input and output topic.
const partitions = 8

// Kinds of input.
const (
	plainInput = ""      // record i: key keyName(i, Keys), value values()[i%260], timestamp at produce
	timedInput = "timed" // as plain, with event times spread evenly over Span from Base
	tableInput = "table" // one record per key in the table (tableHas), value tableValue
)

// input is a pre-loaded input topic.
type input struct {
	Name  string // part of the topic's name
	Topic string
	N     int // records
	Keys  int
	Kind  string
	// Timed inputs: record i's timestamp is Base + i·Span/N, Base (Unix
	// milliseconds) a whole minute.
	Base int64
	Span time.Duration
}

// timestamp is the event time of record i of a timed input, Unix ms.
func (in *input) timestamp(i int) int64 {
	return in.Base + int64(i)*in.Span.Milliseconds()/int64(in.N)
}

// windows is the number of work.Window windows a timed input spans.
func (in *input) windows() int {
	return int((in.timestamp(in.N-1)-in.Base)/work.Window.Milliseconds()) + 1
}

// contender is one program under test.
type contender struct {
	ID   string // raw, samsa, streams
	Name string // as shown in the tables
	// Cmd returns the process running the scenario's topology.
	Cmd func(s *scenario, rs runSpec) *exec.Cmd `json:"-"`
}

// runSpec is what one run of a contender gets.
type runSpec struct {
	App, In, Table, Out, StateDir, CPUProfile string
}

// scenario is one topology under one guarantee and commit interval.
type scenario struct {
	ID, Title string
	Topology  string // a work topology
	Guarantee string // work.AtLeastOnce or work.ExactlyOnce
	Commit    time.Duration
	Input     *input
	// Table is the join's table topic, pre-loaded before Input.
	Table *input `json:",omitempty"`
	// Restore: each run counts a fresh input of Input.Keys keys (one
	// record each), is stopped, loses its state directory and starts
	// again on RestoreKeys more records (keys 0…RestoreKeys-1 again):
	// the figures of interest are the second start's.
	Restore     bool `json:",omitempty"`
	RestoreKeys int  `json:",omitempty"`
	// Crash, with Restore: the first start counts Input.N records over
	// Input.Keys keys, crashLoaded of them loaded before it and more fed
	// at crashFeed records/s while it runs, and is killed (SIGKILL) once
	// its output shows this fraction of Input.N counted; its state
	// directory is kept, the rest of the input is added and the second
	// start writes on to the same output, whose every final count must be
	// the input's.
	Crash float64 `json:",omitempty"`
	// Session is the contenders' group session timeout (0: their
	// defaults).
	Session time.Duration `json:",omitempty"`
	// Latency: each run counts a fresh input of Input.N records over
	// Input.Keys keys, latencyWarm of them loaded before the start, the
	// rest fed at Latency records/s from the first output, each stamped
	// with its produce time; the reader records now − timestamp of every
	// output record of the fed ones.
	Latency int `json:",omitempty"`
	// Skip are the contenders that do not run the scenario.
	Skip       []string `json:",omitempty"`
	Contenders []contender
}

// runResult is the measure of one run of one contender.
type runResult struct {
	Contender   string
	Run         int
	First       time.Duration // start to first output record
	Total       time.Duration // start to complete output
	CPU         time.Duration // user + system
	MaxRSS      int64         // bytes
	Output      int64         // output records read until complete
	Changelog   int64         // changelog topics' end offsets
	Repartition int64         // repartition topics' end offsets
	StateBytes  int64         // disk usage of the state directory after the run (du)
	StateSize   int64         // the size of its files (less than du when preallocated)
	Records     int           // input records
	Load1       float64       // the machine's 1-minute load average at the start (-1 if unknown)
	// Restore scenario: the first start's time to complete output, and
	// the second's (the one measured above) time to the end of the last
	// store's restore and changelog records restored, as the contender
	// reports them.
	Phase1 time.Duration `json:",omitempty"`
	// Phase1Changelog is the changelog topics' end offsets before the
	// second start, Phase1Committed the input records whose offsets the
	// group had committed then, of the Phase1Input there.
	Phase1Changelog int64 `json:",omitempty"`
	Phase1Committed int64 `json:",omitempty"`
	Phase1Input     int64 `json:",omitempty"`
	// Stop is the time from SIGTERM to the process' exit.
	Stop     time.Duration `json:",omitempty"`
	Restore  time.Duration `json:",omitempty"`
	Restored int64         `json:",omitempty"`
	// Latency scenarios: the percentiles of now − timestamp of the output
	// records of the fed input (LatN of them), the feed rate achieved and
	// the time from the last record fed to the complete output.
	LatP50    time.Duration `json:",omitempty"`
	LatP99    time.Duration `json:",omitempty"`
	LatMax    time.Duration `json:",omitempty"`
	LatN      int           `json:",omitempty"`
	FedPerSec float64       `json:",omitempty"`
	Drain     time.Duration `json:",omitempty"`
}

// written is the records written: output, changelog and repartition.
func (r runResult) written() int64 { return r.Output + r.Changelog + r.Repartition }

// perSec is the input records per second from the start.
func (r runResult) perSec() float64 { return float64(r.Records) / r.Total.Seconds() }

// perSecFromFirst is the input records per second from the first output.
func (r runResult) perSecFromFirst() float64 {
	return float64(r.Records) / (r.Total - r.First).Seconds()
}

// scenarioResult is every run of a scenario.
type scenarioResult struct {
	Scenario *scenario
	Runs     []runResult
}

// harness holds the clients and built programs of one invocation.
type harness struct {
	log       *slog.Logger
	bootstrap string
	root, tmp string
	opts      options
	cl        *kgo.Client
	adm       *kadm.Client
	stamp     string
	inputs    []*input
	scenarios []*scenario
	profiled  bool
}

func newHarness(ctx context.Context, log *slog.Logger, bootstrap, root, tmp string, o options) (*harness, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(bootstrap, ",")...), kgo.MaxBufferedRecords(200000), kgo.ProducerLinger(5*time.Millisecond),
		kgo.MetadataMinAge(100*time.Millisecond)) // a new input topic is produced to at once
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	h := &harness{log: log, bootstrap: bootstrap, root: root, tmp: tmp, opts: o, cl: cl, adm: kadm.NewClient(cl),
		stamp: strconv.FormatInt(time.Now().Unix()%1e6, 36)}
	if err := h.setup(ctx); err != nil {
		h.close()
		return nil, err
	}
	return h, nil
}

func (h *harness) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, in := range h.inputs {
		if in.Topic != "" {
			if _, err := h.adm.DeleteTopics(ctx, in.Topic); err != nil {
				h.log.Warn("deleting an input topic", "topic", in.Topic, "err", err)
			}
		}
	}
	h.cl.Close()
}

// setup builds the contenders and defines the scenarios.
func (h *harness) setup(ctx context.Context) error {
	// Timed records: 5 minutes of event time ending 5 minutes ago.
	base := time.Now().Add(-10 * time.Minute).Truncate(time.Minute).UnixMilli()
	stateless := &input{Name: "stateless", N: 2_000_000, Keys: 10_000}
	count := &input{Name: "count", N: 1_000_000, Keys: 100_000}
	windowed := &input{Name: "window", N: 1_000_000, Keys: 100_000, Kind: timedInput, Base: base, Span: 5 * time.Minute}
	table := &input{Name: "table", Keys: 100_000, Kind: tableInput}
	joined := &input{Name: "join", N: 1_000_000, Keys: 100_000}
	restore := &input{Name: "restore", N: 1_000_000, Keys: 1_000_000} // one per run
	restoreKeys := 10_000
	crash := &input{Name: "crash", N: 1_000_000, Keys: 100_000}  // one per run
	latency := &input{Name: "latency", N: 200_000, Keys: 10_000} // one per run
	if h.opts.quick {
		stateless = &input{Name: "stateless", N: 100_000, Keys: 10_000}
		count = &input{Name: "count", N: 100_000, Keys: 10_000}
		windowed = &input{Name: "window", N: 100_000, Keys: 10_000, Kind: timedInput, Base: base, Span: 5 * time.Minute}
		table = &input{Name: "table", Keys: 10_000, Kind: tableInput}
		joined = &input{Name: "join", N: 100_000, Keys: 10_000}
		restore = &input{Name: "restore", N: 100_000, Keys: 100_000}
		restoreKeys = 1_000
		crash = &input{Name: "crash", N: 100_000, Keys: 10_000}
		latency = &input{Name: "latency", N: 30_000, Keys: 10_000}
	}
	table.N = tableSize(table.Keys)
	h.inputs = []*input{stateless, count, windowed, table, joined}

	bin := filepath.Join(h.tmp, "bin")
	var all []contender
	for _, c := range []struct{ id, name, pkg string }{
		{"raw", "raw loop", "./cmd/raw"},
		{"samsa", "samsa", "./cmd/samsa"},
	} {
		exe := filepath.Join(bin, c.id)
		h.log.Info("building", "package", c.pkg)
		b := exec.CommandContext(ctx, "go", "build", "-o", exe, c.pkg)
		b.Dir = filepath.Join(h.root, "bench") // a module of its own
		if out, err := b.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %w\n%s", c.pkg, err, out)
		}
		all = append(all, contender{ID: c.id, Name: c.name, Cmd: goCmd(exe, h.bootstrap)})
	}
	if !h.opts.noStreams {
		jar, err := buildStreams(ctx, h.root, h.log)
		if err != nil {
			return err
		}
		all = append(all, contender{ID: "streams", Name: "Kafka Streams 4.4.0", Cmd: javaCmd(jar, h.bootstrap)})
	}
	if h.opts.contenders != "" {
		want := strings.Split(h.opts.contenders, ",")
		all = slices.DeleteFunc(all, func(c contender) bool { return !slices.Contains(want, c.ID) })
	}
	h.scenarios = []*scenario{
		{ID: "stateless", Title: "Stateless map+filter, at-least-once, 30 s commits", Topology: work.Stateless, Guarantee: work.AtLeastOnce, Commit: 30 * time.Second, Input: stateless},
		{ID: "stateless-eos", Title: "Stateless map+filter, exactly-once, 100 ms commits", Topology: work.Stateless, Guarantee: work.ExactlyOnce, Commit: 100 * time.Millisecond, Input: stateless},
		{ID: "count-alos-30s", Title: "Count per key, at-least-once, 30 s commits", Topology: work.Count, Guarantee: work.AtLeastOnce, Commit: 30 * time.Second, Input: count},
		{ID: "count-alos-100ms", Title: "Count per key, at-least-once, 100 ms commits", Topology: work.Count, Guarantee: work.AtLeastOnce, Commit: 100 * time.Millisecond, Input: count},
		{ID: "count-eos-100ms", Title: "Count per key, exactly-once, 100 ms commits", Topology: work.Count, Guarantee: work.ExactlyOnce, Commit: 100 * time.Millisecond, Input: count},
		{ID: "groupby-count", Title: "groupBy (new key) + count through a repartition topic, at-least-once, 100 ms commits", Topology: work.GroupByCount, Guarantee: work.AtLeastOnce, Commit: 100 * time.Millisecond, Input: count},
		{ID: "window-count", Title: "Tumbling 1-minute window count, at-least-once, 100 ms commits", Topology: work.WindowCount, Guarantee: work.AtLeastOnce, Commit: 100 * time.Millisecond, Input: windowed},
		{ID: "join", Title: "Stream–table left join, at-least-once, 100 ms commits", Topology: work.Join, Guarantee: work.AtLeastOnce, Commit: 100 * time.Millisecond, Input: joined, Table: table},
		{ID: "restore", Title: fmt.Sprintf("Restore of a %s-key count store after losing the state directory", thousands(float64(restore.Keys))), Topology: work.Count, Guarantee: work.AtLeastOnce, Commit: 100 * time.Millisecond,
			Input: restore, Restore: true, RestoreKeys: restoreKeys, Skip: []string{"raw"}},
		{ID: "eos-crash", Title: fmt.Sprintf("Restart of an exactly-once count (%s keys) killed at 60%% of its input", thousands(float64(crash.Keys))), Topology: work.Count,
			Guarantee: work.ExactlyOnce, Commit: 100 * time.Millisecond, Input: crash, Restore: true, Crash: 0.6,
			Session: crashSession, Skip: []string{"raw"}},
		{ID: "latency-alos", Title: fmt.Sprintf("End-to-end latency of a count per key at %s records/s, at-least-once, 100 ms commits", thousands(latencyRate)), Topology: work.Count,
			Guarantee: work.AtLeastOnce, Commit: 100 * time.Millisecond, Input: latency, Latency: latencyRate},
		{ID: "latency-eos", Title: fmt.Sprintf("End-to-end latency of a count per key at %s records/s, exactly-once, 100 ms commits", thousands(latencyRate)), Topology: work.Count,
			Guarantee: work.ExactlyOnce, Commit: 100 * time.Millisecond, Input: latency, Latency: latencyRate},
	}
	if h.opts.quick && h.opts.only == "" {
		// The 30 s at-least-once count mostly measures Kafka Streams'
		// record cache waiting out the 30 s commit on a small input.
		h.scenarios = slices.DeleteFunc(h.scenarios, func(s *scenario) bool { return s.ID == "count-alos-30s" })
	}
	if h.opts.only != "" {
		want := strings.Split(h.opts.only, ",")
		h.scenarios = slices.DeleteFunc(h.scenarios, func(s *scenario) bool { return !slices.Contains(want, s.ID) })
	}
	if len(h.scenarios) == 0 || len(all) == 0 {
		return errors.New("no scenario or no contender left to run")
	}
	for _, s := range h.scenarios {
		s.Contenders = slices.DeleteFunc(slices.Clone(all), func(c contender) bool { return slices.Contains(s.Skip, c.ID) })
	}
	return nil
}

// The crash scenario's input: crashLoaded of it there before the first
// start, more fed while it runs (crashChunk records every 50 ms: a live
// input, so that the kill finds work in progress), the rest added after
// the kill.
const (
	crashLoaded = 0.5
	crashChunk  = 1000
	crashFeed   = crashChunk * 20 // records/s
)

// crashSession is the session timeout of the crash scenario's contenders:
// the broker's minimum, so that the restart does not wait out 45 s for the
// killed member to leave the group.
const crashSession = 6 * time.Second

// goCmd runs a Go contender built at exe.
func goCmd(exe, bootstrap string) func(*scenario, runSpec) *exec.Cmd {
	return func(s *scenario, rs runSpec) *exec.Cmd {
		args := append(contenderArgs(s, rs, bootstrap), "-state", rs.StateDir)
		if rs.CPUProfile != "" {
			args = append(args, "-cpuprofile", rs.CPUProfile)
		}
		return exec.Command(exe, args...)
	}
}

// contenderArgs are the flags every contender takes.
func contenderArgs(s *scenario, rs runSpec, bootstrap string) []string {
	args := []string{"-bootstrap", bootstrap, "-in", rs.In, "-out", rs.Out, "-app", rs.App,
		"-topology", s.Topology, "-guarantee", s.Guarantee, "-commit", s.Commit.String()}
	if rs.Table != "" {
		args = append(args, "-table", rs.Table)
	}
	if s.Session > 0 {
		args = append(args, "-session", s.Session.String())
	}
	return args
}

// runAll pre-loads the inputs and runs every scenario.
func (h *harness) runAll(ctx context.Context) ([]scenarioResult, error) {
	var out []scenarioResult
	for _, s := range h.scenarios {
		// The table first: its records are older than the stream's.
		for _, in := range []*input{s.Table, s.Input} {
			if in != nil && in.Topic == "" && !s.Restore && s.Latency == 0 {
				if err := h.preload(ctx, in); err != nil {
					return nil, err
				}
			}
		}
		sr := scenarioResult{Scenario: s}
		for run := range h.opts.runs {
			// Alternate: each run starts with the next contender.
			for i := range s.Contenders {
				c := s.Contenders[(run+i)%len(s.Contenders)]
				run1 := h.runOnce
				if s.Restore {
					run1 = h.runRestore
				}
				if s.Latency > 0 {
					run1 = h.runLatency
				}
				r, err := run1(ctx, s, c, run)
				if err != nil {
					return nil, fmt.Errorf("scenario %s, %s, run %d: %w", s.ID, c.Name, run+1, err)
				}
				h.log.Info("run", "scenario", s.ID, "contender", c.ID, "run", run+1,
					"records/s", int(r.perSec()), "first_output", r.First.Round(time.Millisecond),
					"total", r.Total.Round(time.Millisecond), "cpu", r.CPU.Round(time.Millisecond),
					"rss_mb", r.MaxRSS>>20, "written", r.written(), "state_mb", r.StateBytes>>20, "state_files_mb", r.StateSize>>20,
					"restore", r.Restore.Round(time.Millisecond), "restored", r.Restored, "stop", r.Stop.Round(time.Millisecond))
				sr.Runs = append(sr.Runs, r)
			}
		}
		out = append(out, sr)
	}
	return out, nil
}

// values returns the template values of the input: value t starts with the
// digit t%10 and goes on in lower-case letters.
func values() [][]byte {
	vs := make([][]byte, 260)
	for t := range vs {
		v := make([]byte, valueLen)
		v[0] = byte('0' + t%10)
		for j := 1; j < valueLen; j++ {
			v[j] = byte('a' + (t+j)%26)
		}
		vs[t] = v
	}
	return vs
}

// tableHas reports whether the join's table holds key index k: three keys
// in four (k%4 != 3), so that the left join sees both cases.
func tableHas(k int) bool { return k%4 != 3 }

// tableSize is the number of records of a table over keys keys.
func tableSize(keys int) int { return keys - (keys+1)/4 }

// tableValue is the table's value of key index k.
func tableValue(k int) string { return fmt.Sprintf("t%07d", k) }

// preload creates the input topic and produces its records.
func (h *harness) preload(ctx context.Context, in *input) error {
	in.Topic = fmt.Sprintf("bench-in-%s-%s-%d-%d", h.stamp, in.Name, in.N, in.Keys)
	if err := h.createTopic(ctx, in.Topic); err != nil {
		return err
	}
	start := time.Now()
	if err := h.produceRange(ctx, in, 0, in.N); err != nil {
		return fmt.Errorf("preload %s: %w", in.Topic, err)
	}
	h.log.Info("pre-loaded", "topic", in.Topic, "records", in.N, "keys", in.Keys, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// feedResult is where feed stopped: the next record to produce, and when
// the feed began and ended.
type feedResult struct {
	next       int
	err        error
	start, end time.Time
}

// feed produces the records from… of in, chunk every 50 ms from when
// begin is closed, until in.N or until stop is closed (never within a
// chunk).
func (h *harness) feed(ctx context.Context, in *input, from, chunk int, begin, stop <-chan struct{}) (fr feedResult) {
	select {
	case <-begin:
	case <-stop:
		return feedResult{next: from}
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	fr.start = time.Now()
	defer func() { fr.end = time.Now() }()
	for from < in.N {
		select {
		case <-stop:
			return feedResult{next: from, start: fr.start}
		case <-ctx.Done():
			return feedResult{next: from, err: ctx.Err(), start: fr.start}
		case <-tick.C:
		}
		to := min(from+chunk, in.N)
		if err := h.produceRange(ctx, in, from, to); err != nil {
			return feedResult{next: from, err: err, start: fr.start}
		}
		from = to
	}
	return feedResult{next: from, start: fr.start}
}

// produceRange produces the records from…to-1 of in to in.Topic (a
// table's whole, whatever the range) and flushes them.
func (h *harness) produceRange(ctx context.Context, in *input, from, to int) error {
	vs := values()
	var perr work.FirstErr
	switch in.Kind {
	case tableInput:
		for k := range in.Keys {
			if tableHas(k) {
				h.cl.Produce(ctx, &kgo.Record{Topic: in.Topic, Key: []byte(keyName(k, in.Keys)), Value: []byte(tableValue(k))}, perr.Set)
			}
		}
	default:
		for i := from; i < to; i++ {
			r := &kgo.Record{Topic: in.Topic, Key: []byte(keyName(i, in.Keys)), Value: vs[i%len(vs)]}
			if in.Kind == timedInput {
				r.Timestamp = time.UnixMilli(in.timestamp(i))
			}
			h.cl.Produce(ctx, r, perr.Set)
		}
	}
	if err := h.cl.Flush(ctx); err != nil {
		return err
	}
	return perr.Get()
}

func (h *harness) createTopic(ctx context.Context, topic string) error {
	resp, err := h.adm.CreateTopic(ctx, partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	// Wait until the metadata shows a leader for every partition, so that
	// no client sees the topic half made (and waits out a metadata refresh).
	deadline := time.Now().Add(30 * time.Second)
	for {
		td, err := h.adm.ListTopics(ctx, topic)
		if err == nil {
			if t, ok := td[topic]; ok && t.Err == nil && len(t.Partitions) == partitions {
				ready := true
				for _, p := range t.Partitions {
					ready = ready && p.Err == nil && p.Leader >= 0
				}
				if ready {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("topic %s: no leader for every partition after 30s", topic)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// newChecker returns the output check of s (the first start's, for the
// restore scenario).
func newChecker(s *scenario) checker {
	switch s.Topology {
	case work.Stateless:
		return &statelessChecker{want: statelessExpected(s.Input.N)}
	case work.GroupByCount:
		return newGroupCountChecker(s.Input.N, s.Input.Keys)
	case work.WindowCount:
		return newWindowCountChecker(s.Input)
	case work.Join:
		return newJoinChecker(s.Input.N, s.Input.Keys, s.Table.Keys)
	}
	return newCountChecker(s.Input.N, s.Input.Keys)
}

// stallTimeout is how long a run may go without output before it fails.
const stallTimeout = 90 * time.Second

// runOnce runs contender c once on scenario s: a fresh application id and
// output topic (the application creates its internal topics), the process
// started while a read_committed consumer reads the output, stopped when
// the output is complete.
func (h *harness) runOnce(ctx context.Context, s *scenario, c contender, run int) (runResult, error) {
	app := fmt.Sprintf("bench-%s-%s-%s-%d", h.stamp, s.ID, c.ID, run)
	rs := runSpec{App: app, In: s.Input.Topic, Out: app + "-out", StateDir: filepath.Join(h.tmp, app)}
	if s.Table != nil {
		rs.Table = s.Table.Topic
	}
	if h.opts.cpuprofile != "" && !h.profiled && c.ID == "samsa" {
		rs.CPUProfile, _ = filepath.Abs(h.opts.cpuprofile)
		h.profiled = true
	}
	defer h.cleanup(app, rs.StateDir)
	res, _, err := h.runProcess(ctx, s, c, rs, newChecker(s), filepath.Join(h.tmp, app+".log"), phase{})
	res.Run = run
	if err != nil {
		return res, err
	}
	err = h.measureTopics(ctx, app, &res)
	return res, err
}

// runRestore runs contender c once on a restore scenario s: a fresh input
// over s.Input.Keys keys, counted, then more records added to it and the
// process started again with the same application id. The restore
// scenario counts its s.Input.N records to the end, stops the process and
// deletes its state directory, adds s.RestoreKeys records (keys
// 0…RestoreKeys-1 again); the second start writes to a second output
// topic whose every count must be 2 (a store not restored writes 1). The
// crash scenario (s.Crash) loads crashLoaded of s.Input.N records, kills
// the process (SIGKILL) once its output shows s.Crash of them counted,
// keeps its state directory and adds the rest of the input; the second
// start writes on to the same output, whose every final count must be the
// input's (none above), its first output the first record past the
// output's end at the kill. The result is the second start's, with the
// first's time in Phase1 and the changelogs' end offsets between the two
// in Phase1Changelog.
func (h *harness) runRestore(ctx context.Context, s *scenario, c contender, run int) (runResult, error) {
	app := fmt.Sprintf("bench-%s-%s-%s-%d", h.stamp, s.ID, c.ID, run)
	in := &input{Name: fmt.Sprintf("%s-%s-%d", s.ID, c.ID, run), N: s.Input.N, Keys: s.Input.Keys}
	// The records added after the first start: RestoreKeys more, or the
	// rest of the crash scenario's input.
	more := &input{N: s.RestoreKeys, Keys: s.Input.Keys}
	if s.Crash > 0 {
		in.N = int(crashLoaded * float64(s.Input.N))
		more.N = s.Input.N
	}
	from := 0 // of more
	rs := runSpec{App: app, Out: app + "-out", StateDir: filepath.Join(h.tmp, app)}
	defer h.cleanup(app, rs.StateDir)
	defer h.deleteInput(in)
	if err := h.preload(ctx, in); err != nil {
		return runResult{Contender: c.ID, Run: run}, err
	}
	rs.In, more.Topic = in.Topic, in.Topic
	var chk checker = newCountChecker(in.N, in.Keys)
	var fed chan feedResult
	stopFeed := make(chan struct{})
	if s.Crash > 0 {
		begin := make(chan struct{})
		chk = &untilChecker{countChecker: newCountChecker(s.Input.N, s.Input.Keys), atLeast: int64(s.Crash * float64(s.Input.N)), begin: begin}
		fed = make(chan feedResult, 1)
		go func() { fed <- h.feed(ctx, more, in.N, crashChunk, begin, stopFeed) }()
	}
	first, _, err := h.runProcess(ctx, s, c, rs, chk, filepath.Join(h.tmp, app+"-1.log"), phase{kill: s.Crash > 0})
	close(stopFeed)
	if fed != nil {
		f := <-fed
		if err == nil && f.err != nil {
			err = fmt.Errorf("feeding the input: %w", f.err)
		}
		from = f.next
	}
	if err != nil {
		return first, fmt.Errorf("first start: %w", err)
	}
	second := phase{}
	if s.Crash > 0 {
		if second.newFrom, err = h.endOffsets(ctx, rs.Out); err != nil {
			return first, err
		}
	} else if err := os.RemoveAll(rs.StateDir); err != nil {
		return first, fmt.Errorf("deleting the state directory: %w", err)
	}
	if err := h.measureTopics(ctx, app, &first); err != nil {
		return first, err
	}
	committed, err := h.committed(ctx, app, in.Topic)
	if err != nil {
		return first, err
	}
	h.log.Info("first start stopped", "scenario", s.ID, "contender", c.ID, "killed", s.Crash > 0, "input", max(in.N, from),
		"input_committed", committed, "changelog_end_offsets", first.Changelog)
	if err := h.produceRange(ctx, more, from, more.N); err != nil {
		return first, fmt.Errorf("adding records: %w", err)
	}
	what := "second start, state directory deleted"
	if s.Crash > 0 {
		what, chk = "second start after the kill", newCountChecker(s.Input.N, s.Input.Keys)
	} else {
		rs.Out, chk = app+"-out2", newRestoreChecker(in.Keys, s.RestoreKeys)
	}
	logPath := filepath.Join(h.tmp, app+"-2.log")
	res, start, err := h.runProcess(ctx, s, c, rs, chk, logPath, second)
	res.Run, res.Records, res.Phase1, res.Phase1Changelog, res.Phase1Committed = run, s.Input.N, first.Total, first.Changelog, committed
	res.Phase1Input = int64(max(in.N, from))
	if err != nil {
		return res, fmt.Errorf("%s: %w", what, err)
	}
	end, n, err := restoreEnd(logPath)
	if err != nil {
		return res, fmt.Errorf("%s: %w", c.Name, err)
	}
	res.Restore, res.Restored = end.Sub(start), n
	err = h.measureTopics(ctx, app, &res)
	return res, err
}

// committed is the sum of group's committed offsets on topic: the input
// records it has processed and committed.
func (h *harness) committed(ctx context.Context, group, topic string) (int64, error) {
	os, err := h.adm.FetchOffsets(ctx, group)
	if err == nil {
		err = os.Error()
	}
	if err != nil {
		return 0, fmt.Errorf("committed offsets of %s: %w", group, err)
	}
	var n int64
	os.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic {
			n += o.At
		}
	})
	return n, nil
}

// endOffsets lists the end offsets (high watermarks) of topic's
// partitions.
func (h *harness) endOffsets(ctx context.Context, topic string) (map[int32]int64, error) {
	ends, err := h.adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	out := make(map[int32]int64)
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out, nil
}

// restoreEnd reads the "bench-restored unixms=… records=…" lines of a
// contender's log: the latest time and the records in all.
func restoreEnd(logPath string) (time.Time, int64, error) {
	b, err := os.ReadFile(logPath)
	if err != nil {
		return time.Time{}, 0, err
	}
	var last, n int64
	for _, l := range strings.Split(string(b), "\n") {
		var ms, recs int64
		if _, err := fmt.Sscanf(l, "bench-restored unixms=%d records=%d", &ms, &recs); err == nil {
			last = max(last, ms)
			n += recs
		}
	}
	if last == 0 {
		return time.Time{}, 0, errors.New("no bench-restored line in its log: no store was restored")
	}
	return time.UnixMilli(last), n, nil
}

// phase is how runProcess runs one start of a contender.
type phase struct {
	// kill stops the process with SIGKILL (no clean shutdown) rather
	// than SIGTERM.
	kill bool
	// newFrom, when set, is the output's end offset per partition before
	// the start: the output topic exists already, and the first output is
	// the first record at or past those offsets.
	newFrom map[int32]int64
	// onRecord, when set, is called with every output record read and
	// the time its fetch returned.
	onRecord func(r *kgo.Record, now time.Time)
}

// runProcess starts contender c with rs and reads rs.Out (created here
// unless ph.newFrom is set) with chk until the output is complete, then
// stops the process; it returns the result (output, times, CPU, peak RSS)
// and the start time.
func (h *harness) runProcess(ctx context.Context, s *scenario, c contender, rs runSpec, chk checker, logPath string, ph phase) (runResult, time.Time, error) {
	res := runResult{Contender: c.ID, Records: s.Input.N, Load1: loadAverage()}
	if ph.newFrom == nil {
		if err := h.createTopic(ctx, rs.Out); err != nil {
			return res, time.Time{}, err
		}
	}
	seenNew := false
	cons, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(h.bootstrap, ",")...), kgo.ConsumeTopics(rs.Out),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.MetadataMinAge(100*time.Millisecond), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		return res, time.Time{}, fmt.Errorf("output consumer: %w", err)
	}
	defer cons.Close()
	logf, err := os.Create(logPath)
	if err != nil {
		return res, time.Time{}, fmt.Errorf("contender log: %w", err)
	}
	defer logf.Close()

	cmd := c.Cmd(s, rs)
	cmd.Stdout, cmd.Stderr = logf, logf
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return res, start, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	// The peak RSS is sampled while the process runs (rss.go): the
	// highest sample before it exited, set before exited is sent.
	stopRSS := peakRSS(cmd.Process.Pid, 50*time.Millisecond)
	var sampledRSS int64
	exited := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		sampledRSS = stopRSS()
		exited <- err
	}()
	stopped := false
	defer func() {
		if !stopped {
			_ = cmd.Process.Kill()
			<-exited
		}
	}()

	lastProgress := start
	for !chk.done() {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := cons.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return res, start, ctx.Err()
		}
		var cerr error
		fs.EachError(func(t string, p int32, err error) {
			if cerr == nil && !errors.Is(err, context.DeadlineExceeded) {
				cerr = fmt.Errorf("reading output %s[%d]: %w", t, p, err)
			}
		})
		if cerr != nil {
			return res, start, cerr
		}
		now := time.Now()
		it := fs.RecordIter()
		for !it.Done() && cerr == nil {
			r := it.Next()
			if !seenNew && (ph.newFrom == nil || r.Offset >= ph.newFrom[r.Partition]) {
				res.First, seenNew = now.Sub(start), true
			}
			res.Output++
			lastProgress = now
			if ph.onRecord != nil {
				ph.onRecord(r, now)
			}
			cerr = chk.add(r.Key, r.Value)
		}
		if cerr != nil {
			return res, start, fmt.Errorf("WRONG OUTPUT from %s: %w", c.Name, cerr)
		}
		select {
		case err := <-exited:
			stopped = true
			return res, start, fmt.Errorf("%s exited before its output was complete (%s): %v\n%s", c.Name, chk.progress(), err, tail(logPath))
		default:
		}
		if now.Sub(lastProgress) > stallTimeout {
			return res, start, fmt.Errorf("%s: no output for %s, output incomplete: %s\n%s", c.Name, stallTimeout, chk.progress(), tail(logPath))
		}
	}
	res.Total = time.Since(start)
	if ph.newFrom != nil && !seenNew {
		return res, start, fmt.Errorf("%s: the output was complete with no new record after the restart", c.Name)
	}

	// Stop: SIGTERM, then SIGKILL after 20 s (or SIGKILL at once).
	term := time.Now()
	if ph.kill {
		_ = cmd.Process.Kill()
	} else {
		_ = cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		h.log.Warn("contender did not stop in 20s after SIGTERM: killing it", "contender", c.ID)
		_ = cmd.Process.Kill()
		<-exited
	}
	stopped = true
	res.Stop = time.Since(term)
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		res.MaxRSS = ru.Maxrss * 1024 // kilobytes on Linux; the harness' own size when the process was smaller (rss.go)
	}
	if sampledRSS > 0 {
		res.MaxRSS = sampledRSS
	}
	res.StateBytes, res.StateSize = diskUsage(rs.StateDir)
	return res, start, nil
}

// measureTopics sets the changelog and repartition records of app's run:
// the end offsets of its topics named so (transaction markers included).
func (h *harness) measureTopics(ctx context.Context, app string, res *runResult) error {
	topics, err := h.appTopics(ctx, app)
	if err != nil {
		return err
	}
	topics = slices.DeleteFunc(topics, func(t string) bool {
		return !strings.HasSuffix(t, "-changelog") && !strings.HasSuffix(t, "-repartition")
	})
	if len(topics) == 0 {
		return nil
	}
	ends, err := h.adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return fmt.Errorf("internal topics' end offsets: %w", err)
	}
	if err := ends.Error(); err != nil {
		return fmt.Errorf("internal topics' end offsets: %w", err)
	}
	ends.Each(func(o kadm.ListedOffset) {
		if strings.HasSuffix(o.Topic, "-changelog") {
			res.Changelog += o.Offset
		} else {
			res.Repartition += o.Offset
		}
	})
	return nil
}

// diskUsage is the disk space the files under dir take (du's figure, with
// the space files reserve: Pebble preallocates its write-ahead logs) and
// the sum of their sizes, 0 if there are none.
func diskUsage(dir string) (du, size int64) {
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if info, err := d.Info(); err == nil {
			size += info.Size()
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				du += st.Blocks * 512
			}
		}
		return nil
	})
	return du, size
}

// appTopics lists the topics whose name starts with app.
func (h *harness) appTopics(ctx context.Context, app string) ([]string, error) {
	td, err := h.adm.ListTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	var out []string
	for _, t := range td.Names() {
		if strings.HasPrefix(t, app) {
			out = append(out, t)
		}
	}
	return out, nil
}

// cleanup deletes the topics, group and state directory of a run.
func (h *harness) cleanup(app, stateDir string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topics, err := h.appTopics(ctx, app)
	if err == nil && len(topics) > 0 {
		_, err = h.adm.DeleteTopics(ctx, topics...)
	}
	if err != nil {
		h.log.Warn("deleting a run's topics", "app", app, "err", err)
	}
	_, _ = h.adm.DeleteGroups(ctx, app)
	_ = os.RemoveAll(stateDir)
}

// tail is the end of a contender's log.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return "last lines of its log:\n" + string(bytes.TrimSpace(b))
}

// loadAverage is the 1-minute load average from /proc/loadavg, -1 if
// unknown.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f, _, _ := strings.Cut(string(b), " ")
	x, err := strconv.ParseFloat(f, 64)
	if err != nil {
		return -1
	}
	return x
}

// deleteInput deletes the input topic a run pre-loaded (none if in was not
// loaded), logging a failure.
func (h *harness) deleteInput(in *input) {
	if in.Topic == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := h.adm.DeleteTopics(ctx, in.Topic); err != nil {
		h.log.Warn("deleting an input topic", "topic", in.Topic, "err", err)
	}
}
