package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
)

// Config configures a verifier run.
type Config struct {
	Bootstrap []string
	Guarantee samsa.Guarantee
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
}

// OK reports whether every input was counted exactly once.
func (r Result) OK() bool {
	return r.Duplicates == 0 && r.Lost == 0 && r.WrongEcho == 0 && r.WrongAggs == 0 &&
		r.Echo == r.Inputs && r.AggUpdates == r.Inputs && r.GroupUpdates == r.Inputs
}

// String is the summary line.
func (r Result) String() string {
	verdict := "PASS"
	if !r.OK() {
		verdict = "FAIL"
	}
	return fmt.Sprintf("verify: inputs=%d echo=%d agg-updates=%d group-updates=%d duplicates=%d lost=%d wrong-echo-partitions=%d wrong-aggregates=%d kills=%d broker-restarts=%d rebalances=%d zombie-pauses=%d verdict=%s",
		r.Inputs, r.Echo, r.AggUpdates, r.GroupUpdates, r.Duplicates, r.Lost, r.WrongEcho, r.WrongAggs, r.Kills, r.BrokerRestarts, r.Rebalances, r.Pauses, verdict)
}

type worker struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// Run performs one verifier run.
func Run(ctx context.Context, cfg Config) (Result, error) {
	var res Result
	if cfg.Partitions == 0 {
		cfg.Partitions = 6
	}
	if cfg.Rate == 0 {
		cfg.Rate = 1000
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 7))
	c, err := testkit.Connect(cfg.Bootstrap...)
	if err != nil {
		return res, err
	}
	defer c.Close()
	if err := c.Ping(ctx, 10*time.Second); err != nil {
		return res, err
	}
	run := testkit.UniqueName("verify")
	topics := Names(run)
	for _, t := range []string{topics.Input, topics.Echo, topics.Agg, topics.GroupAgg} {
		if err := c.CreateTopic(ctx, t, cfg.Partitions, nil); err != nil {
			return res, err
		}
	}
	logf := func(format string, args ...any) { fmt.Fprintf(cfg.Out, "verify: "+format+"\n", args...) }
	logf("run %s, guarantee %s, %s of input at %d/s, %d kills", run, cfg.Guarantee, cfg.Duration, cfg.Rate, cfg.Kills)

	var mu sync.Mutex
	workers := map[int]*worker{}
	start := func(slot int) error {
		wc := WorkerConfig{Bootstrap: cfg.Bootstrap, AppID: run + "-app", Run: run, Guarantee: cfg.Guarantee,
			StateDir: filepath.Join(cfg.Dir, "state-"+strconv.Itoa(slot)), Instance: "w" + strconv.Itoa(slot)}
		cmd := cfg.Worker(slot, wc)
		logFile, err := os.OpenFile(filepath.Join(cfg.Dir, "worker-"+strconv.Itoa(slot)+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			logFile.Close()
			return fmt.Errorf("start worker %d: %w", slot, err)
		}
		w := &worker{cmd: cmd, done: make(chan struct{})}
		go func() { _ = cmd.Wait(); logFile.Close(); close(w.done) }()
		mu.Lock()
		workers[slot] = w
		mu.Unlock()
		return nil
	}
	stop := func(slot int, sig syscall.Signal) {
		mu.Lock()
		w := workers[slot]
		delete(workers, slot)
		mu.Unlock()
		if w == nil {
			return
		}
		_ = w.cmd.Process.Signal(sig)
		select {
		case <-w.done:
		case <-time.After(60 * time.Second):
			_ = w.cmd.Process.Kill()
			<-w.done
		}
	}
	defer func() {
		mu.Lock()
		var slots []int
		for s := range workers {
			slots = append(slots, s)
		}
		mu.Unlock()
		for _, s := range slots {
			stop(s, syscall.SIGKILL)
		}
	}()
	for slot := range 3 {
		if err := start(slot); err != nil {
			return res, err
		}
	}

	// The input: key k<i mod 100>, value i. Only acknowledged records count.
	type sent struct {
		partition int32
		offset    int64
		key       string
		value     int64
	}
	var inputs []sent
	var inMu sync.Mutex
	prodCtx, stopProd := context.WithTimeout(ctx, cfg.Duration)
	defer stopProd()
	prodDone := make(chan error, 1)
	var produced atomic.Int64
	go func() {
		cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Bootstrap...), kgo.ProducerLinger(5*time.Millisecond))
		if err != nil {
			prodDone <- err
			return
		}
		defer cl.Close()
		const batch = 20
		tick := time.NewTicker(time.Second * batch / time.Duration(cfg.Rate))
		defer tick.Stop()
		i := 0
		for prodCtx.Err() == nil {
			select {
			case <-prodCtx.Done():
			case <-tick.C:
			}
			var recs []*kgo.Record
			for j := 0; j < batch; j++ {
				recs = append(recs, &kgo.Record{Topic: topics.Input, Key: []byte("k" + strconv.Itoa(i%100)), Value: []byte(strconv.Itoa(i))})
				i++
			}
			// Retry through a broker restart; idempotence keeps it exact.
			pctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			results := cl.ProduceSync(pctx, recs...)
			cancel()
			if err := results.FirstErr(); err != nil {
				prodDone <- fmt.Errorf("produce input: %w", err)
				return
			}
			inMu.Lock()
			for _, r := range results {
				v, _ := strconv.ParseInt(string(r.Record.Value), 10, 64)
				inputs = append(inputs, sent{r.Record.Partition, r.Record.Offset, string(r.Record.Key), v})
			}
			inMu.Unlock()
			produced.Add(batch)
		}
		prodDone <- nil
	}()

	// Chaos: kills spread over the duration, one broker restart halfway,
	// one instance added at a third and removed at two thirds.
	chaosDone := make(chan error, 1)
	go func() {
		interval := cfg.Duration / time.Duration(cfg.Kills+1)
		began := time.Now()
		restarted, added, removed, paused := len(cfg.RestartBroker) == 0, false, false, false
		next := interval
		for k := 0; k < cfg.Kills || !restarted || !removed || !paused; {
			time.Sleep(100 * time.Millisecond)
			if ctx.Err() != nil {
				chaosDone <- ctx.Err()
				return
			}
			el := time.Since(began)
			if !added && el > cfg.Duration/3 {
				added = true
				if err := start(3); err != nil {
					chaosDone <- err
					return
				}
				res.Rebalances++
				logf("added instance 3 at %s", el.Round(time.Second))
			}
			if added && !removed && el > 2*cfg.Duration/3 {
				removed = true
				stop(3, syscall.SIGTERM)
				res.Rebalances++
				logf("removed instance 3 at %s", el.Round(time.Second))
			}
			if !paused && el > cfg.Duration/4 {
				// A zombie: stopped past the session timeout, its tasks
				// move; when it wakes up, its commits must be fenced.
				paused = true
				mu.Lock()
				w := workers[1]
				mu.Unlock()
				if w != nil {
					_ = w.cmd.Process.Signal(syscall.SIGSTOP)
					time.Sleep(9 * time.Second)
					_ = w.cmd.Process.Signal(syscall.SIGCONT)
					res.Pauses++
					logf("paused instance 1 for 9s (a zombie) at %s", el.Round(time.Second))
				}
			}
			if !restarted && el > cfg.Duration/2 {
				restarted = true
				logf("restarting the broker at %s", el.Round(time.Second))
				cmd := exec.CommandContext(ctx, cfg.RestartBroker[0], cfg.RestartBroker[1:]...)
				out, err := cmd.CombinedOutput()
				if err != nil {
					chaosDone <- fmt.Errorf("restart broker: %w: %s", err, out)
					return
				}
				res.BrokerRestarts++
				logf("broker back at %s", time.Since(began).Round(time.Second))
			}
			if k < cfg.Kills && el > next {
				next += interval
				slot := rng.IntN(3)
				stop(slot, syscall.SIGKILL)
				res.Kills++
				k++
				time.Sleep(time.Duration(200+rng.IntN(600)) * time.Millisecond)
				if err := start(slot); err != nil {
					chaosDone <- err
					return
				}
				logf("killed and restarted instance %d at %s (kill %d)", slot, el.Round(time.Second), k)
			}
		}
		chaosDone <- nil
	}()
	if err := <-prodDone; err != nil {
		return res, err
	}
	if err := <-chaosDone; err != nil {
		return res, err
	}
	inMu.Lock()
	res.Inputs = len(inputs)
	inMu.Unlock()
	logf("input done: %d records; waiting for the outputs", res.Inputs)

	// Wait until the outputs hold at least one record per input and stop
	// growing, then stop the instances gracefully.
	var out map[string]map[int32][]*kgo.Record
	prev := -1
	deadline := time.Now().Add(3 * time.Minute)
	for {
		out = map[string]map[int32][]*kgo.Record{}
		total := 0
		full := true
		for _, t := range []string{topics.Echo, topics.Agg, topics.GroupAgg} {
			rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			byPart, err := c.ReadTopic(rctx, t)
			cancel()
			if err != nil {
				return res, err
			}
			out[t] = byPart
			n := 0
			for _, rs := range byPart {
				n += len(rs)
			}
			total += n
			if n < res.Inputs {
				full = false
			}
		}
		if full && total == prev {
			break
		}
		if time.Now().After(deadline) {
			logf("outputs still incomplete after 3 minutes")
			break
		}
		prev = total
		time.Sleep(2 * time.Second)
	}
	for slot := range 4 {
		stop(slot, syscall.SIGTERM)
	}

	// Verify.
	inByPart := map[int32][]sent{}
	wantKey := map[string]CountSum{}
	wantGroup := map[string]CountSum{}
	for _, s := range inputs {
		inByPart[s.partition] = append(inByPart[s.partition], s)
		wantKey[s.key] = CountSum{wantKey[s.key].Count + 1, wantKey[s.key].Sum + s.value}
		g := Group(s.key)
		wantGroup[g] = CountSum{wantGroup[g].Count + 1, wantGroup[g].Sum + s.value}
	}
	seen := map[string]int{}
	for p, recs := range out[topics.Echo] {
		res.Echo += len(recs)
		for _, r := range recs {
			seen[string(r.Value)]++
		}
		want := inByPart[p]
		same := len(recs) == len(want)
		for i := 0; same && i < len(recs); i++ {
			same = string(recs[i].Key) == want[i].key && string(recs[i].Value) == strconv.FormatInt(want[i].value, 10)
		}
		if !same {
			res.WrongEcho++
		}
	}
	for _, s := range inputs {
		n := seen[strconv.FormatInt(s.value, 10)]
		if n == 0 {
			res.Lost++
		}
	}
	check := func(topic string, want map[string]CountSum) (updates int) {
		last := map[string]CountSum{}
		for _, recs := range out[topic] {
			for _, r := range recs {
				cs, err := serde.JSON[CountSum]().Deserialize(topic, r.Value)
				if err != nil {
					res.WrongAggs++
					continue
				}
				last[string(r.Key)] = cs
				updates++
			}
		}
		for k, w := range want {
			if last[k] != w {
				res.WrongAggs++
			}
		}
		return updates
	}
	res.AggUpdates = check(topics.Agg, wantKey)
	res.GroupUpdates = check(topics.GroupAgg, wantGroup)
	res.Duplicates = max(res.Echo-res.Inputs, 0) + max(res.AggUpdates-res.Inputs, 0) + max(res.GroupUpdates-res.Inputs, 0)
	fmt.Fprintln(cfg.Out, res.String())
	if !res.OK() {
		return res, errors.New("verify: discrepancies found")
	}
	return res, nil
}
