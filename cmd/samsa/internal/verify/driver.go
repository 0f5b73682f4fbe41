package verify

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/testkit/cluster"
)

// Scenario chooses what a verifier run does.
type Scenario int

const (
	// Chaos kills, adds, removes and pauses instances and restarts the
	// broker while input flows.
	Chaos Scenario = iota
	// OversizeFail feeds one record whose echo is larger than the echo
	// topic accepts, under the Fail policy: the instances must stop
	// without committing past it; the verifier then raises the topic's
	// limit, restarts them and expects every input exactly once.
	OversizeFail
	// OversizeDeadLetter feeds the same record under the DeadLetter
	// policy: it must land in the dead-letter topic once, the rest exact.
	OversizeDeadLetter
)

// String names the scenario as the command line spells it.
func (s Scenario) String() string {
	switch s {
	case Chaos:
		return "chaos"
	case OversizeFail:
		return "oversize-fail"
	case OversizeDeadLetter:
		return "oversize-dead-letter"
	}
	return "Scenario(" + strconv.Itoa(int(s)) + ")"
}

// ParseScenario parses a scenario name.
func ParseScenario(s string) (Scenario, error) {
	for _, sc := range []Scenario{Chaos, OversizeFail, OversizeDeadLetter} {
		if sc.String() == s {
			return sc, nil
		}
	}
	return 0, fmt.Errorf("unknown scenario %q (chaos, oversize-fail or oversize-dead-letter)", s)
}

// SmallMessageBytes is the echo topic's max.message.bytes in the oversize
// scenarios: far below PoisonSize, far above a batch of ordinary echoes.
const SmallMessageBytes = 4096

// Config configures a verifier run.
type Config struct {
	Bootstrap []string
	Guarantee samsa.Guarantee
	// Scenario is Chaos unless set.
	Scenario Scenario
	// Duration is how long input flows; kills are spread over it.
	Duration time.Duration
	// Kills is how many times an instance is killed with SIGKILL.
	Kills int
	// Rate is the input rate in records per second.
	Rate int
	// Partitions of the input topic.
	Partitions int32
	// RestartBroker, if set, is run once halfway through to restart the
	// broker (e.g. dev/kafka/run restart-node 0).
	RestartBroker []string
	// Worker returns the command that runs instance slot as a separate
	// process (the CLI runs itself: samsa verify-worker …).
	Worker func(slot int, w WorkerConfig) *exec.Cmd
	// Dir keeps the instances' state directories and logs.
	Dir string
	// Out receives progress lines and the summary.
	Out io.Writer
	// Seed makes the kill schedule reproducible.
	Seed uint64
}

// Result is what the verifier found.
type Result struct {
	Scenario       Scenario
	Inputs         int
	Echo           int
	AggUpdates     int
	GroupUpdates   int
	Duplicates     int
	Lost           int
	WrongEcho      int // partitions whose echo differs from the input
	WrongAggs      int // keys or groups whose final aggregate is wrong
	Kills          int
	BrokerRestarts int
	Rebalances     int // instances added or removed on purpose
	Pauses         int // instances stopped (SIGSTOP) past the session timeout: zombies
	// SelfExits counts instances that exited without the verifier causing
	// it: an error returned by Run, a panic. Each one is a failure.
	SelfExits int
	// Hangs counts instances that did not stop within 15 s of being told
	// to (their goroutines are dumped to their logs). Each one is a
	// failure: Close must return within 10 s.
	Hangs int
	// ExpectedExits counts the exits the oversize-fail scenario expects
	// before it raises the topic's limit.
	ExpectedExits int
	Ticks         int // punctuator outputs
	TickDups      int // ticks emitted twice
	TickLost      int // punctuations that should have ticked and did not
	WrongTicks    int // ticks whose values do not match the input
	// Scenario failures: for oversize-fail, the poison did not stop the
	// app, the group committed past it, or its echo is not there once;
	// for oversize-dead-letter, the dead-letter topic does not hold it
	// exactly once with the right headers.
	PoisonFailures int
	// Problems says in words what went wrong, a few lines per check.
	Problems []string
}

// OK reports whether every input was counted exactly once and nothing
// else went wrong.
func (r Result) OK() bool {
	want := r.Inputs
	if r.Scenario == OversizeDeadLetter {
		want-- // the poison's echo went to the dead-letter topic
	}
	return r.Duplicates == 0 && r.Lost == 0 && r.WrongEcho == 0 && r.WrongAggs == 0 &&
		r.Echo == want && r.AggUpdates == r.Inputs && r.GroupUpdates == r.Inputs &&
		r.SelfExits == 0 && r.Hangs == 0 && r.Ticks > 0 && r.TickDups == 0 && r.TickLost == 0 && r.WrongTicks == 0 &&
		r.PoisonFailures == 0
}

// String is the summary line.
func (r Result) String() string {
	verdict := "PASS"
	if !r.OK() {
		verdict = "FAIL"
	}
	return fmt.Sprintf("verify: inputs=%d echo=%d agg-updates=%d group-updates=%d duplicates=%d lost=%d wrong-echo-partitions=%d wrong-aggregates=%d kills=%d broker-restarts=%d rebalances=%d zombie-pauses=%d self-exits=%d expected-exits=%d ticks=%d tick-duplicates=%d tick-lost=%d wrong-ticks=%d poison-failures=%d hangs=%d scenario=%s verdict=%s",
		r.Inputs, r.Echo, r.AggUpdates, r.GroupUpdates, r.Duplicates, r.Lost, r.WrongEcho, r.WrongAggs, r.Kills, r.BrokerRestarts, r.Rebalances, r.Pauses,
		r.SelfExits, r.ExpectedExits, r.Ticks, r.TickDups, r.TickLost, r.WrongTicks, r.PoisonFailures, r.Hangs, r.Scenario, verdict)
}

type worker struct {
	slot     int
	cmd      *exec.Cmd
	done     chan struct{}
	stopping atomic.Bool // the verifier signalled it: its exit is no surprise
}

// ExitInfo describes an instance that exited by itself.
type ExitInfo struct {
	Slot     int
	Status   string
	LogTail  []string
	Expected bool
}

// tailLines is how many log lines a self-exit reports.
const tailLines = 8

// maxSelfRestarts bounds the restarts of instances that exited by
// themselves, so that a crash loop ends.
const maxSelfRestarts = 6

type driver struct {
	cfg   Config
	run   string
	appID string
	t     Topics
	c     *cluster.Cluster
	res   *Result

	outMu   sync.Mutex // serializes writes to cfg.Out
	mu      sync.Mutex
	workers map[int]*worker
	exits   []ExitInfo
	// expectExits marks self-exits as expected (oversize-fail before the
	// limit is raised); restartSelf restarts unexpected ones.
	expectExits  bool
	restartSelf  bool
	selfRestarts int
	closed       bool
}

func (d *driver) logf(format string, args ...any) {
	d.outMu.Lock()
	defer d.outMu.Unlock()
	fmt.Fprintf(d.cfg.Out, "verify: "+format+"\n", args...)
}

func (d *driver) logPath(slot int) string {
	return filepath.Join(d.cfg.Dir, "worker-"+strconv.Itoa(slot)+".log")
}

func (d *driver) start(slot int) error {
	wc := WorkerConfig{Bootstrap: d.cfg.Bootstrap, AppID: d.appID, Run: d.run, Guarantee: d.cfg.Guarantee,
		StateDir: filepath.Join(d.cfg.Dir, "state-"+strconv.Itoa(slot)), Instance: "w" + strconv.Itoa(slot)}
	if d.cfg.Scenario == OversizeDeadLetter {
		wc.ProductionErrors = samsa.DeadLetter
	}
	cmd := d.cfg.Worker(slot, wc)
	logFile, err := os.OpenFile(d.logPath(slot), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start worker %d: %w", slot, err)
	}
	w := &worker{slot: slot, cmd: cmd, done: make(chan struct{})}
	d.mu.Lock()
	if old := d.workers[slot]; old != nil {
		// Started already (a kill's restart raced a self-exit's).
		d.mu.Unlock()
		w.stopping.Store(true)
		_ = cmd.Process.Kill()
		go func() { _ = cmd.Wait(); logFile.Close() }()
		return nil
	}
	d.workers[slot] = w
	d.mu.Unlock()
	go func() {
		err := cmd.Wait()
		logFile.Close()
		if !w.stopping.Load() {
			d.selfExit(w, err)
		}
		close(w.done)
	}()
	return nil
}

// selfExit records an exit the verifier did not cause and, unless exits
// are expected, restarts the instance a bounded number of times.
func (d *driver) selfExit(w *worker, err error) {
	status := "exit status 0"
	if err != nil {
		status = err.Error()
	}
	info := ExitInfo{Slot: w.slot, Status: status, LogTail: tail(d.logPath(w.slot), tailLines)}
	d.mu.Lock()
	if d.workers[w.slot] == w {
		delete(d.workers, w.slot)
	}
	info.Expected = d.expectExits
	d.exits = append(d.exits, info)
	restart := !info.Expected && d.restartSelf && !d.closed && d.selfRestarts < maxSelfRestarts
	if restart {
		d.selfRestarts++
	}
	d.mu.Unlock()
	what := "UNEXPECTEDLY"
	if info.Expected {
		what = "as expected"
	}
	d.logf("instance %d exited by itself %s (%s); last lines of its log:\n\t%s", w.slot, what, status, strings.Join(info.LogTail, "\n\t"))
	if restart {
		time.Sleep(time.Second)
		if err := d.start(w.slot); err != nil {
			d.logf("restarting instance %d: %v", w.slot, err)
		} else {
			d.logf("restarted instance %d after its exit", w.slot)
		}
	}
}

// tail returns the last n lines of a file.
func tail(path string, n int) []string {
	f, err := os.Open(path)
	if err != nil {
		return []string{"(no log: " + err.Error() + ")"}
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return lines
}

func (d *driver) stop(slot int, sig syscall.Signal) {
	d.mu.Lock()
	w := d.workers[slot]
	delete(d.workers, slot)
	d.mu.Unlock()
	if w == nil {
		return
	}
	w.stopping.Store(true)
	_ = w.cmd.Process.Signal(sig)
	select {
	case <-w.done:
		return
	case <-time.After(stopTimeout):
	}
	// A graceful stop that takes this long is a hang: SIGQUIT makes the
	// Go runtime write every goroutine's stack to the instance's log.
	d.logf("instance %d did not stop within %s: SIGQUIT (goroutine dump in its log), then SIGKILL", slot, stopTimeout)
	d.mu.Lock()
	d.res.Hangs++
	d.mu.Unlock()
	_ = w.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-w.done:
	case <-time.After(5 * time.Second):
		_ = w.cmd.Process.Kill()
		<-w.done
	}
}

// stopTimeout bounds a graceful stop of an instance: Close must return
// within 10 s, whatever the instance is doing.
const stopTimeout = 15 * time.Second

func (d *driver) stopAll(sig syscall.Signal) {
	d.mu.Lock()
	var slots []int
	for s := range d.workers {
		slots = append(slots, s)
	}
	d.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range slots {
		wg.Go(func() { d.stop(s, sig) })
	}
	wg.Wait()
}

func (d *driver) alive() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.workers)
}

func (d *driver) exitInfos() []ExitInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]ExitInfo(nil), d.exits...)
}

// Run performs one verifier run.
func Run(ctx context.Context, cfg Config) (Result, error) {
	res := Result{Scenario: cfg.Scenario}
	if cfg.Partitions == 0 {
		cfg.Partitions = 6
	}
	if cfg.Rate == 0 {
		cfg.Rate = 1000
	}
	c, err := cluster.Connect(cfg.Bootstrap...)
	if err != nil {
		return res, err
	}
	defer c.Close()
	if err := c.Ping(ctx, 10*time.Second); err != nil {
		return res, err
	}
	run := cluster.UniqueName("verify")
	d := &driver{cfg: cfg, run: run, appID: run + "-app", t: Names(run), c: c, res: &res,
		workers: map[int]*worker{}, restartSelf: true}
	if cfg.Scenario == OversizeFail {
		d.expectExits, d.restartSelf = true, false
	}
	defer func() {
		d.mu.Lock()
		d.closed = true
		d.mu.Unlock()
		d.stopAll(syscall.SIGKILL)
	}()
	small := strconv.Itoa(SmallMessageBytes)
	for _, t := range []string{d.t.Input, d.t.Echo, d.t.Agg, d.t.GroupAgg, d.t.Ticks, d.t.DeadLetter} {
		var conf map[string]*string
		if t == d.t.Echo && cfg.Scenario != Chaos {
			conf = map[string]*string{"max.message.bytes": &small}
		}
		if err := c.CreateTopic(ctx, t, cfg.Partitions, conf); err != nil {
			return res, err
		}
	}
	d.logf("run %s, scenario %s, guarantee %s, %s of input at %d/s, %d kills", run, cfg.Scenario, cfg.Guarantee, cfg.Duration, cfg.Rate, cfg.Kills)
	for slot := range 3 {
		if err := d.start(slot); err != nil {
			return res, err
		}
	}
	var poisonIdx int = -1
	if cfg.Scenario != Chaos {
		poisonIdx = cfg.Rate * int(cfg.Duration/time.Second) / 5 // a fifth into the input
	}
	p := d.produce(ctx, poisonIdx)
	var err2 error
	switch cfg.Scenario {
	case Chaos:
		err2 = d.chaos(ctx)
	case OversizeFail:
		err2 = d.oversizeFail(ctx, p)
	}
	if err := <-p.done; err != nil {
		return res, err
	}
	if err2 != nil {
		return res, err2
	}
	inputs := p.inputs()
	res.Inputs = len(inputs)
	d.logf("input done: %d records; waiting for the outputs", res.Inputs)
	out, err := d.awaitOutputs(ctx, res.Inputs)
	if err != nil {
		return res, err
	}
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.stopAll(syscall.SIGTERM)
	d.verify(ctx, inputs, p.poison(), out)
	for _, pr := range res.Problems {
		d.logf("problem: %s", pr)
	}
	d.logf("%s", strings.TrimPrefix(res.String(), "verify: "))
	if !res.OK() {
		return res, errors.New("verify: discrepancies found")
	}
	return res, nil
}

// producer writes the input: key k<i mod 100>, value i, and at index
// poison (if ≥ 0) the value i#big alone, with quiet time around it so
// that its echo is produced in a batch of its own.
type producer struct {
	mu       sync.Mutex
	sent     []Input
	poisonAt int // index in sent, -1 before it is acknowledged
	acked    chan struct{}
	done     chan error
}

func (p *producer) inputs() []Input {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Input(nil), p.sent...)
}

func (p *producer) poison() *Input {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.poisonAt < 0 {
		return nil
	}
	in := p.sent[p.poisonAt]
	return &in
}

// quiet is the pause in the input before and after the poison record.
const quiet = 1500 * time.Millisecond

func (d *driver) produce(ctx context.Context, poison int) *producer {
	p := &producer{poisonAt: -1, acked: make(chan struct{}), done: make(chan error, 1)}
	prodCtx, stopProd := context.WithTimeout(ctx, d.cfg.Duration)
	go func() {
		defer stopProd()
		cl, err := kgo.NewClient(kgo.SeedBrokers(d.cfg.Bootstrap...), kgo.ProducerLinger(5*time.Millisecond))
		if err != nil {
			p.done <- err
			return
		}
		defer cl.Close()
		send := func(recs []*kgo.Record, isPoison bool) error {
			// Retry through a broker restart; idempotence keeps it exact.
			pctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			results := cl.ProduceSync(pctx, recs...)
			cancel()
			if err := results.FirstErr(); err != nil {
				return fmt.Errorf("produce input: %w", err)
			}
			p.mu.Lock()
			for _, r := range results {
				if isPoison {
					p.poisonAt = len(p.sent)
				}
				p.sent = append(p.sent, Input{Partition: r.Record.Partition, Offset: r.Record.Offset, Key: string(r.Record.Key),
					Value: string(r.Record.Value), Timestamp: r.Record.Timestamp})
			}
			p.mu.Unlock()
			return nil
		}
		const batch = 20
		tick := time.NewTicker(time.Second * batch / time.Duration(d.cfg.Rate))
		defer tick.Stop()
		i := 0
		for prodCtx.Err() == nil {
			select {
			case <-prodCtx.Done():
			case <-tick.C:
			}
			var recs []*kgo.Record
			for j := 0; j < batch; j++ {
				if poison >= 0 && i == poison {
					if len(recs) > 0 {
						if err := send(recs, false); err != nil {
							p.done <- err
							return
						}
						recs = nil
					}
					time.Sleep(quiet)
					r := &kgo.Record{Topic: d.t.Input, Key: []byte("k" + strconv.Itoa(i%100)), Value: []byte(strconv.Itoa(i) + PoisonSuffix)}
					if err := send([]*kgo.Record{r}, true); err != nil {
						p.done <- err
						return
					}
					d.logf("produced the poison record %s at partition %d offset %d", r.Value, r.Partition, r.Offset)
					close(p.acked)
					time.Sleep(quiet)
					i++
					continue
				}
				recs = append(recs, &kgo.Record{Topic: d.t.Input, Key: []byte("k" + strconv.Itoa(i%100)), Value: []byte(strconv.Itoa(i))})
				i++
			}
			if len(recs) > 0 {
				if err := send(recs, false); err != nil {
					p.done <- err
					return
				}
			}
		}
		p.done <- nil
	}()
	return p
}

// chaos kills instances spread over the duration, restarts the broker
// once halfway, adds an instance at a third and removes it at two thirds,
// and pauses one into a zombie at a quarter.
func (d *driver) chaos(ctx context.Context) error {
	cfg, res := d.cfg, d.res
	rng := rand.New(rand.NewPCG(cfg.Seed, 7))
	interval := cfg.Duration / time.Duration(cfg.Kills+1)
	began := time.Now()
	restarted, added, removed, paused := len(cfg.RestartBroker) == 0, false, false, false
	next := interval
	for k := 0; k < cfg.Kills || !restarted || !removed || !paused; {
		time.Sleep(100 * time.Millisecond)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		el := time.Since(began)
		if !added && el > cfg.Duration/3 {
			added = true
			if err := d.start(3); err != nil {
				return err
			}
			res.Rebalances++
			d.logf("added instance 3 at %s", el.Round(time.Second))
		}
		if added && !removed && el > 2*cfg.Duration/3 {
			removed = true
			d.stop(3, syscall.SIGTERM)
			res.Rebalances++
			d.logf("removed instance 3 at %s", el.Round(time.Second))
		}
		if !paused && el > cfg.Duration/4 {
			// A zombie: stopped past the session timeout, its tasks
			// move; when it wakes up, its commits must be fenced.
			paused = true
			d.mu.Lock()
			w := d.workers[1]
			d.mu.Unlock()
			if w != nil {
				_ = w.cmd.Process.Signal(syscall.SIGSTOP)
				time.Sleep(9 * time.Second)
				_ = w.cmd.Process.Signal(syscall.SIGCONT)
				res.Pauses++
				d.logf("paused instance 1 for 9s (a zombie) at %s", el.Round(time.Second))
			}
		}
		if !restarted && el > cfg.Duration/2 {
			restarted = true
			d.logf("restarting the broker at %s", el.Round(time.Second))
			cmd := exec.CommandContext(ctx, cfg.RestartBroker[0], cfg.RestartBroker[1:]...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				return fmt.Errorf("restart broker: %w: %s", err, out)
			}
			res.BrokerRestarts++
			d.logf("broker back at %s", time.Since(began).Round(time.Second))
		}
		if k < cfg.Kills && el > next {
			next += interval
			slot := rng.IntN(3)
			d.stop(slot, syscall.SIGKILL)
			res.Kills++
			k++
			time.Sleep(time.Duration(200+rng.IntN(600)) * time.Millisecond)
			if err := d.start(slot); err != nil {
				return err
			}
			d.logf("killed and restarted instance %d at %s (kill %d)", slot, el.Round(time.Second), k)
		}
	}
	return nil
}

// poisonStopTimeout bounds the wait for the poison to stop the instances.
const poisonStopTimeout = 30 * time.Second

// LargeMessageBytes is the echo topic's max.message.bytes once the
// oversize-fail scenario raised it.
const LargeMessageBytes = 1 << 20

// oversizeFail waits until the poison stopped the instances (or the group
// committed past it), checks the committed offset, raises the echo topic's
// limit and restarts the instances.
func (d *driver) oversizeFail(ctx context.Context, p *producer) error {
	select {
	case <-p.acked:
	case err := <-p.done:
		p.done <- err
		if err == nil {
			err = errors.New("the input ended before the poison record was produced: give a longer --duration")
		}
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
	poison := p.poison()
	committed := func() (int64, error) {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		offs, err := d.c.CommittedOffsets(cctx, d.appID)
		if err != nil {
			return 0, err
		}
		if o, ok := offs[d.t.Input][poison.Partition]; ok {
			return o, nil
		}
		return -1, nil
	}
	deadline := time.Now().Add(poisonStopTimeout)
	var at int64
	for {
		time.Sleep(500 * time.Millisecond)
		var err error
		if at, err = committed(); err != nil {
			return err
		}
		exited := len(d.exitInfos())
		if d.alive() == 0 || (at > poison.Offset && exited > 0) || time.Now().After(deadline) {
			break
		}
	}
	exits := d.exitInfos()
	d.logf("%d instance(s) exited after the poison record; %d still run; the group's committed offset of input partition %d is %d (poison at %d)",
		len(exits), d.alive(), poison.Partition, at, poison.Offset)
	d.mu.Lock()
	d.expectExits, d.restartSelf = false, true
	d.mu.Unlock()
	d.res.ExpectedExits = len(exits)
	named := false
	for _, e := range exits {
		named = named || strings.Contains(strings.Join(e.LogTail, "\n"), d.t.Echo)
	}
	switch {
	case len(exits) == 0:
		d.poisonFailure("the poison record (echo of %d bytes into topic %q limited to %d) stopped no instance within %s under the Fail policy", PoisonSize, d.t.Echo, SmallMessageBytes, poisonStopTimeout)
	case !named:
		d.poisonFailure("no exited instance's last log lines name the topic %q that rejected the poison's output", d.t.Echo)
	}
	if at > poison.Offset {
		d.poisonFailure("the group committed offset %d for input partition %d, past the poison record at offset %d whose output the broker rejected: the transaction committed without its output", at, poison.Partition, poison.Offset)
	}
	d.stopAll(syscall.SIGTERM)
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	large := strconv.Itoa(LargeMessageBytes)
	resps, err := d.c.Admin().AlterTopicConfigs(actx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "max.message.bytes", Value: &large}}, d.t.Echo)
	if err == nil {
		_, err = resps.On(d.t.Echo, nil)
	}
	if err != nil {
		return fmt.Errorf("raise max.message.bytes of %q: %w", d.t.Echo, err)
	}
	d.logf("raised max.message.bytes of %s to %d; restarting the instances", d.t.Echo, LargeMessageBytes)
	for slot := range 3 {
		if err := d.start(slot); err != nil {
			return err
		}
	}
	return nil
}

func (d *driver) poisonFailure(format string, args ...any) {
	d.res.PoisonFailures++
	d.res.Problems = append(d.res.Problems, fmt.Sprintf(format, args...))
}

// staleReads is how many unchanged reads, two seconds apart, end the wait
// for outputs that stay short of the input.
const staleReads = 8

// awaitOutputs waits until the outputs hold at least one record per input
// and stop growing, or no instance is left to produce them.
func (d *driver) awaitOutputs(ctx context.Context, inputs int) (map[string]map[int32][]*kgo.Record, error) {
	want := map[string]int{d.t.Echo: inputs, d.t.Agg: inputs, d.t.GroupAgg: inputs, d.t.Ticks: 0, d.t.DeadLetter: 0}
	if d.cfg.Scenario == OversizeDeadLetter {
		want[d.t.Echo], want[d.t.DeadLetter] = inputs-1, 1
	}
	prev, stale := -1, 0
	deadline := time.Now().Add(3 * time.Minute)
	for {
		out := map[string]map[int32][]*kgo.Record{}
		total := 0
		full := true
		for t, min := range want {
			rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			byPart, err := d.c.ReadTopic(rctx, t)
			cancel()
			if err != nil {
				return nil, err
			}
			out[t] = byPart
			n := 0
			for _, rs := range byPart {
				n += len(rs)
			}
			total += n
			if t == d.t.Echo {
				// Distinct records: duplicates (at-least-once) must not
				// stand in for inputs not processed yet.
				distinct := map[string]bool{}
				for _, rs := range byPart {
					for _, r := range rs {
						distinct[string(r.Key)+"\x00"+string(r.Value)] = true
					}
				}
				n = len(distinct)
			}
			if n < min {
				full = false
			}
		}
		if full && total == prev {
			return out, nil
		}
		if total == prev {
			stale++
		} else {
			stale = 0
		}
		if stale >= staleReads {
			// Short of the expected counts and not growing: something is
			// missing for good (a lost record, a poison's output).
			d.logf("outputs short of the inputs and unchanged for %s: checking them as they are; the live instances dump their goroutines to their logs", staleReads*2*time.Second)
			d.mu.Lock()
			d.closed = true
			d.mu.Unlock()
			d.stopAll(syscall.SIGQUIT)
			return out, nil
		}
		if d.alive() == 0 {
			time.Sleep(time.Second) // a restart after a self-exit may be pending
			if d.alive() == 0 {
				d.logf("no instance runs any more: the outputs are final")
				return out, nil
			}
		}
		if time.Now().After(deadline) {
			d.logf("outputs still incomplete after 3 minutes")
			return out, nil
		}
		prev = total
		time.Sleep(2 * time.Second)
	}
}

// verify compares the outputs with the input and fills the result.
func (d *driver) verify(_ context.Context, inputs []Input, poison *Input, out map[string]map[int32][]*kgo.Record) {
	res := d.res
	var pr problems
	// Self-exits first: their log lines usually say what broke.
	for _, e := range d.exitInfos() {
		if e.Expected {
			continue
		}
		res.SelfExits++
		pr.addf("instance %d exited by itself (%s): %s", e.Slot, e.Status, strings.Join(e.LogTail, " | "))
	}
	isPoison := func(in Input) bool {
		return poison != nil && in.Partition == poison.Partition && in.Offset == poison.Offset
	}
	var exclude func(Input) bool
	if d.cfg.Scenario == OversizeDeadLetter {
		exclude = isPoison
	}
	echo := CheckEcho(inputs, out[d.t.Echo], exclude, &pr)
	res.Echo, res.Lost, res.WrongEcho = echo.Echo, echo.Lost, echo.WrongParts
	wantKey, wantGroup := map[string]CountSum{}, map[string]CountSum{}
	for _, s := range inputs {
		n := s.Number()
		wantKey[s.Key] = CountSum{wantKey[s.Key].Count + 1, wantKey[s.Key].Sum + n}
		g := Group(s.Key)
		wantGroup[g] = CountSum{wantGroup[g].Count + 1, wantGroup[g].Sum + n}
	}
	var wrong int
	res.AggUpdates, wrong = CheckAggregate(d.t.Agg, out[d.t.Agg], wantKey, &pr)
	res.WrongAggs += wrong
	res.GroupUpdates, wrong = CheckAggregate(d.t.GroupAgg, out[d.t.GroupAgg], wantGroup, &pr)
	res.WrongAggs += wrong
	res.Duplicates = echo.Duplicates + max(res.AggUpdates-res.Inputs, 0) + max(res.GroupUpdates-res.Inputs, 0)
	ticks := CheckTicks(inputs, out[d.t.Ticks], &pr)
	res.Ticks, res.TickDups, res.TickLost, res.WrongTicks = ticks.Ticks, ticks.Duplicates, ticks.Lost, ticks.Wrong
	if res.Ticks == 0 {
		pr.addf("ticks: the punctuator emitted nothing")
	}
	switch d.cfg.Scenario {
	case OversizeFail:
		if poison != nil {
			n := 0
			for _, r := range out[d.t.Echo][poison.Partition] {
				if string(r.Value) == EchoValue(poison.Value) {
					n++
				}
			}
			if n != 1 {
				d.poisonFailure("the poison record's %d-byte echo appears %d times in %q after the limit was raised, want once", PoisonSize, n, d.t.Echo)
			}
		}
	case OversizeDeadLetter:
		if poison == nil {
			d.poisonFailure("the poison record was never produced")
			break
		}
		dl := CheckDeadLetters(out[d.t.DeadLetter], *poison, d.t, d.appID, &pr)
		if dl.Records != 1 || dl.Wrong > 0 {
			d.poisonFailure("the dead-letter topic %q holds %d records (%d wrong), want the poison record exactly once", d.t.DeadLetter, dl.Records, dl.Wrong)
		}
		if dl.Records > 1 {
			res.Duplicates += dl.Records - 1
		}
	}
	res.Problems = append(res.Problems, pr.list...)
	if pr.dropped > 0 {
		res.Problems = append(res.Problems, fmt.Sprintf("(%d more problems not listed)", pr.dropped))
	}
}
