package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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

// input is a pre-loaded input topic.
type input struct {
	Name  string // part of the topic's name
	Topic string
	N     int // records
	Keys  int
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
	App, Out, StateDir, CPUProfile string
}

// scenario is one topology under one guarantee and commit interval.
type scenario struct {
	ID, Title  string
	Topology   string // work.Stateless or work.Count
	Guarantee  string // work.AtLeastOnce or work.ExactlyOnce
	Commit     time.Duration
	Input      *input
	Contenders []contender
}

// runResult is the measure of one run of one contender.
type runResult struct {
	Contender string
	Run       int
	First     time.Duration // start to first output record
	Total     time.Duration // start to complete output
	CPU       time.Duration // user + system
	MaxRSS    int64         // bytes
	Output    int64         // output records read until complete
	Changelog int64         // changelog topics' end offsets
	Records   int           // input records
	Load1     float64       // the machine's 1-minute load average at the start (-1 if unknown)
}

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
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(bootstrap, ",")...), kgo.MaxBufferedRecords(200000), kgo.ProducerLinger(5*time.Millisecond))
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
	stateless := &input{Name: "stateless", N: 2_000_000, Keys: 10_000}
	count := &input{Name: "count", N: 1_000_000, Keys: 100_000}
	if h.opts.quick {
		stateless = &input{Name: "stateless", N: 100_000, Keys: 10_000}
		count = &input{Name: "count", N: 100_000, Keys: 10_000}
	}
	h.inputs = []*input{stateless, count}

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
		s.Contenders = all
	}
	return nil
}

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
	return []string{"-bootstrap", bootstrap, "-in", s.Input.Topic, "-out", rs.Out, "-app", rs.App,
		"-topology", s.Topology, "-guarantee", s.Guarantee, "-commit", s.Commit.String()}
}

// runAll pre-loads the inputs and runs every scenario.
func (h *harness) runAll(ctx context.Context) ([]scenarioResult, error) {
	var out []scenarioResult
	for _, s := range h.scenarios {
		if s.Input.Topic == "" {
			if err := h.preload(ctx, s.Input); err != nil {
				return nil, err
			}
		}
		sr := scenarioResult{Scenario: s}
		for run := range h.opts.runs {
			// Alternate: each run starts with the next contender.
			for i := range s.Contenders {
				c := s.Contenders[(run+i)%len(s.Contenders)]
				r, err := h.runOnce(ctx, s, c, run)
				if err != nil {
					return nil, fmt.Errorf("scenario %s, %s, run %d: %w", s.ID, c.Name, run+1, err)
				}
				h.log.Info("run", "scenario", s.ID, "contender", c.ID, "run", run+1,
					"records/s", int(r.perSec()), "first_output", r.First.Round(time.Millisecond),
					"total", r.Total.Round(time.Millisecond), "cpu", r.CPU.Round(time.Millisecond),
					"rss_mb", r.MaxRSS>>20, "written", r.Output+r.Changelog)
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

// preload creates the input topic and produces its records.
func (h *harness) preload(ctx context.Context, in *input) error {
	in.Topic = fmt.Sprintf("bench-in-%s-%s-%d-%d", h.stamp, in.Name, in.N, in.Keys)
	if err := h.createTopic(ctx, in.Topic); err != nil {
		return err
	}
	start := time.Now()
	vs := values()
	var perr work.FirstErr
	for i := range in.N {
		h.cl.Produce(ctx, &kgo.Record{Topic: in.Topic, Key: []byte(keyName(i, in.Keys)), Value: vs[i%len(vs)]}, perr.Set)
	}
	if err := h.cl.Flush(ctx); err != nil {
		return fmt.Errorf("preload %s: %w", in.Topic, err)
	}
	if err := perr.Get(); err != nil {
		return fmt.Errorf("preload %s: %w", in.Topic, err)
	}
	h.log.Info("pre-loaded", "topic", in.Topic, "records", in.N, "keys", in.Keys, "took", time.Since(start).Round(time.Millisecond))
	return nil
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

// newChecker returns the output check of s.
func newChecker(s *scenario) checker {
	if s.Topology == work.Stateless {
		return &statelessChecker{want: statelessExpected(s.Input.N)}
	}
	return newCountChecker(s.Input.N, s.Input.Keys)
}

// stallTimeout is how long a run may go without output before it fails.
const stallTimeout = 90 * time.Second

// runOnce runs contender c once on scenario s: a fresh application id and
// output topic, the process started while a read_committed consumer reads
// the output, stopped when the output is complete.
func (h *harness) runOnce(ctx context.Context, s *scenario, c contender, run int) (runResult, error) {
	res := runResult{Contender: c.ID, Run: run, Records: s.Input.N, Load1: loadAverage()}
	app := fmt.Sprintf("bench-%s-%s-%s-%d", h.stamp, s.ID, c.ID, run)
	rs := runSpec{App: app, Out: app + "-out", StateDir: filepath.Join(h.tmp, app)}
	if h.opts.cpuprofile != "" && !h.profiled && c.ID == "samsa" {
		rs.CPUProfile, _ = filepath.Abs(h.opts.cpuprofile)
		h.profiled = true
	}
	if err := h.createTopic(ctx, rs.Out); err != nil {
		return res, err
	}
	defer h.cleanup(app, rs.StateDir)

	cons, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(h.bootstrap, ",")...), kgo.ConsumeTopics(rs.Out),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.MetadataMinAge(100*time.Millisecond), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		return res, fmt.Errorf("output consumer: %w", err)
	}
	defer cons.Close()
	logPath := filepath.Join(h.tmp, app+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return res, fmt.Errorf("contender log: %w", err)
	}
	defer logf.Close()

	cmd := c.Cmd(s, rs)
	cmd.Stdout, cmd.Stderr = logf, logf
	chk := newChecker(s)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
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
			return res, ctx.Err()
		}
		var cerr error
		fs.EachError(func(t string, p int32, err error) {
			if cerr == nil && !errors.Is(err, context.DeadlineExceeded) {
				cerr = fmt.Errorf("reading output %s[%d]: %w", t, p, err)
			}
		})
		if cerr != nil {
			return res, cerr
		}
		now := time.Now()
		it := fs.RecordIter()
		for !it.Done() && cerr == nil {
			r := it.Next()
			if res.Output == 0 {
				res.First = now.Sub(start)
			}
			res.Output++
			lastProgress = now
			cerr = chk.add(r.Key, r.Value)
		}
		if cerr != nil {
			return res, fmt.Errorf("WRONG OUTPUT from %s: %w", c.Name, cerr)
		}
		select {
		case err := <-exited:
			stopped = true
			return res, fmt.Errorf("%s exited before its output was complete (%s): %v\n%s", c.Name, chk.progress(), err, tail(logPath))
		default:
		}
		if now.Sub(lastProgress) > stallTimeout {
			return res, fmt.Errorf("%s: no output for %s, output incomplete: %s\n%s", c.Name, stallTimeout, chk.progress(), tail(logPath))
		}
	}
	res.Total = time.Since(start)

	// Stop: SIGTERM, then SIGKILL after 20 s.
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		h.log.Warn("contender did not stop in 20s after SIGTERM: killing it", "contender", c.ID)
		_ = cmd.Process.Kill()
		<-exited
	}
	stopped = true
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		res.MaxRSS = ru.Maxrss * 1024 // kilobytes on Linux
	}
	res.Changelog, err = h.changelogOffsets(ctx, app)
	return res, err
}

// changelogOffsets sums the end offsets of the changelog topics of app.
func (h *harness) changelogOffsets(ctx context.Context, app string) (int64, error) {
	topics, err := h.appTopics(ctx, app)
	if err != nil {
		return 0, err
	}
	topics = slices.DeleteFunc(topics, func(t string) bool { return !strings.HasSuffix(t, "-changelog") })
	if len(topics) == 0 {
		return 0, nil
	}
	ends, err := h.adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return 0, fmt.Errorf("changelog end offsets: %w", err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n, nil
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
