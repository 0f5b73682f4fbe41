package samsa_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// logRecorder is a slog.Handler that keeps every message (with its
// attributes) and writes it to the test log.
type logRecorder struct {
	*logLines
	next  slog.Handler
	attrs []slog.Attr
}

type logLines struct {
	mu    sync.Mutex
	lines []string
}

func newLogRecorder(t *testing.T) (*logRecorder, *slog.Logger) {
	r := &logRecorder{logLines: &logLines{}, next: testkit.Logger(t, slog.LevelInfo).Handler()}
	return r, slog.New(r)
}

func (r *logRecorder) Enabled(ctx context.Context, l slog.Level) bool { return r.next.Enabled(ctx, l) }

func (r *logRecorder) Handle(ctx context.Context, rec slog.Record) error {
	var b strings.Builder
	b.WriteString(rec.Message)
	for _, a := range r.attrs {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	rec.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	r.mu.Lock()
	r.lines = append(r.lines, b.String())
	r.mu.Unlock()
	return r.next.Handle(ctx, rec)
}

func (r *logRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &logRecorder{logLines: r.logLines, next: r.next.WithAttrs(as), attrs: append(append([]slog.Attr{}, r.attrs...), as...)}
}

func (r *logRecorder) WithGroup(string) slog.Handler { return r }

// matching returns the lines that contain s.
func (r *logLines) matching(s string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, l := range r.lines {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}

// echoCounts reads a topic with read_committed and counts each value.
func echoCounts(t *testing.T, c *testkit.Cluster, topic string) map[string]int {
	t.Helper()
	n := map[string]int{}
	for _, r := range readAll(t, c, topic) {
		n[string(r.Value)]++
	}
	return n
}

func produceValues(t *testing.T, c *testkit.Cluster, topic string, from, to int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	recs := make([]*kgo.Record, 0, to-from)
	for i := from; i < to; i++ {
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte("k" + strconv.Itoa(i%50)), Value: []byte("v" + strconv.Itoa(i))})
	}
	if err := c.Produce(ctx, false, recs...); err != nil {
		t.Fatal(err)
	}
}

// checkExactlyOnce fails unless every value v<from>…v<to-1> appears exactly
// once in counts.
func checkExactlyOnce(t *testing.T, counts map[string]int, from, to int) {
	t.Helper()
	missing, dup := 0, 0
	for i := from; i < to; i++ {
		switch n := counts["v"+strconv.Itoa(i)]; {
		case n == 0:
			missing++
		case n > 1:
			dup++
		}
	}
	if missing > 0 || dup > 0 || len(counts) != to-from {
		t.Fatalf("outputs: %d missing, %d duplicated, %d distinct values (want %d)", missing, dup, len(counts), to-from)
	}
}

// TestRebalanceEndsEmptyTransaction: under exactly-once, a plain rebalance
// (a second instance joins, then leaves) never aborts a transaction. The
// transaction session marks itself failed on any revocation, even with no
// transaction open, and only End clears the mark: without ending the empty
// transaction right after the revocation, the next real one aborted.
func TestRebalanceEndsEmptyTransaction(t *testing.T) {
	c := testkit.RealCluster(t)
	in, out := c.Topic(t, "rebal-in", 4), c.Topic(t, "rebal-out", 4)
	appID := testkit.UniqueName("rebal-app")
	var recs []*logRecorder
	newApp := func(name string) *samsa.App {
		rec, log := newLogRecorder(t)
		recs = append(recs, rec)
		return eosPassApp(t, c, in, out, appID, name, log)
	}
	produceValues(t, c, in, 0, 2000)
	a := newApp("a")
	runA := testkit.Start(t, a)
	waitOutputs := func(n int) {
		runA.WaitFor(t, 60*time.Second, fmt.Sprintf("%d outputs", n), func() bool { return len(echoCounts(t, c, out)) >= n })
	}
	waitOutputs(2000)
	// b joins while input flows: a gives b some partitions.
	b := newApp("b")
	runB := testkit.Start(t, b)
	for i := 2000; i < 4000; i += 200 {
		produceValues(t, c, in, i, i+200)
		time.Sleep(300 * time.Millisecond)
	}
	waitOutputs(4000)
	if b.Processed() == 0 {
		t.Fatal("b processed nothing: no rebalance happened")
	}
	if err := runB.Stop(); err != nil { // b leaves: a gets its partitions back
		t.Fatal(err)
	}
	produceValues(t, c, in, 4000, 5000)
	waitOutputs(5000)
	if err := runA.Stop(); err != nil {
		t.Fatal(err)
	}
	for i, rec := range recs {
		if got := rec.matching("transaction aborted"); len(got) > 0 {
			t.Errorf("instance %d logged an abort during a plain rebalance: %q", i, got)
		}
	}
	checkExactlyOnce(t, echoCounts(t, c, out), 0, 5000)
}

// TestBufferBoundCommitsEarly: with a commit interval of an hour, the app
// still commits as soon as the stores' write buffers pass
// MaxUncommittedBytes, so that memory is bounded by configuration.
func TestBufferBoundCommitsEarly(t *testing.T) {
	c := testkit.EmbeddedCluster(t)
	in, out := c.Topic(t, "bound-in", 1), c.Topic(t, "bound-out", 1)
	appID := testkit.UniqueName("bound-app")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	recs := make([]*kgo.Record, 20000)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: in, Key: []byte("key-" + strconv.Itoa(i)), Value: []byte("x")}
	}
	if err := c.Produce(ctx, false, recs...); err != nil {
		t.Fatal(err)
	}
	app, err := samsa.New(countTopology(in, out), samsa.Config{
		ApplicationID: appID, Bootstrap: c.Bootstrap, StateDir: t.TempDir(),
		CommitInterval: time.Hour, MaxUncommittedBytes: 256 << 10, MaxPollRecords: 1000,
		Logger: testkit.Logger(t, slog.LevelInfo),
	})
	if err != nil {
		t.Fatal(err)
	}
	run := testkit.Start(t, app)
	run.WaitFor(t, 30*time.Second, "an early commit", func() bool {
		offs, err := c.CommittedOffsets(ctx, appID)
		return err == nil && offs[in][0] > 0
	})
	offs, _ := c.CommittedOffsets(ctx, appID)
	t.Logf("committed offset %d of 20000 with a 1h commit interval and a 256 KiB bound", offs[in][0])
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}
}

// slowRestoreListener slows the restore of one task down, so that the test
// can act while it runs.
type slowRestoreListener struct {
	task     processor.TaskID
	started  chan struct{}
	once     sync.Once
	finished atomic.Bool
	state    func() samsa.State
	bad      atomic.Value // string: what was wrong during the restore
}

func (l *slowRestoreListener) on(p samsa.RestoreProgress) {
	if p.Task != l.task {
		return
	}
	if p.Finished {
		l.finished.Store(true)
		return
	}
	l.once.Do(func() { close(l.started) })
	if s := l.state(); s == samsa.StateRunning {
		l.bad.Store("state RUNNING while task " + p.Task.String() + " restores")
	}
	time.Sleep(50 * time.Millisecond)
}

// TestRestoreOffThePollLoop: a long restore of one task runs in the state
// updater: another task of the same instance keeps processing, a rebalance
// completes, the app reports REBALANCING (not RUNNING) until the restore is
// done, and Close returns within 10 s while the restore runs.
func TestRestoreOffThePollLoop(t *testing.T) {
	c := testkit.RealCluster(t)
	const restoreRecords = 1_000_000
	in, out := c.Topic(t, "updater-in", 2), c.Topic(t, "updater-out", 2)
	appID := testkit.UniqueName("updater-app")
	changelog := topology.ChangelogTopic(appID, "counts")
	compact := "compact"
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := c.CreateTopic(ctx, changelog, 2, map[string]*string{"cleanup.policy": &compact}); err != nil {
		t.Fatal(err)
	}
	// What an earlier instance left in the changelog of task 0_0.
	recs := make([]*kgo.Record, restoreRecords)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: changelog, Partition: 0, Key: []byte("old-" + strconv.Itoa(i)), Value: []byte("1")}
	}
	if err := c.Produce(ctx, true, recs...); err != nil {
		t.Fatal(err)
	}
	recs = nil
	newApp := func(name string, l *slowRestoreListener) *samsa.App {
		var app *samsa.App
		cfg := samsa.Config{
			ApplicationID: appID, Bootstrap: c.Bootstrap, StateDir: filepath.Join(t.TempDir(), name),
			CommitInterval: 100 * time.Millisecond, Logger: testkit.Logger(t, slog.LevelInfo).With("instance", name),
		}
		if l != nil {
			l.state = func() samsa.State { return app.State() }
			cfg.RestoreListener = l.on
		}
		app, err := samsa.New(countTopology(in, out), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return app
	}
	l := &slowRestoreListener{task: processor.TaskID{Subtopology: 0, Partition: 0}, started: make(chan struct{})}
	a := newApp("a", l)
	runA := testkit.Start(t, a)
	select {
	case <-l.started:
	case <-time.After(60 * time.Second):
		t.Fatal("the restore of task 0_0 did not start")
	}
	// Partition 1 (task 0_1) processes while 0_0 restores.
	p1 := make([]*kgo.Record, 100)
	for i := range p1 {
		p1[i] = &kgo.Record{Topic: in, Partition: 1, Key: []byte("p1"), Value: []byte("x")}
	}
	if err := c.Produce(ctx, true, p1...); err != nil {
		t.Fatal(err)
	}
	runA.WaitFor(t, 30*time.Second, "task 0_1 processes during the restore", func() bool { return a.Processed() >= 100 })
	if l.finished.Load() {
		t.Fatal("the restore finished before the checks: make it longer")
	}
	if s := a.State(); s != samsa.StateRebalancing {
		t.Errorf("state %s while a task restores, want REBALANCING", s)
	}
	// A second instance joins: the rebalance completes during the restore.
	b := newApp("b", nil)
	runB := testkit.Start(t, b)
	if err := c.Produce(ctx, true, p1...); err != nil {
		t.Fatal(err)
	}
	runB.WaitFor(t, 60*time.Second, "the rebalance completes: b processes a task", func() bool { return len(b.ActiveTasks()) > 0 })
	t.Logf("after the rebalance: a processes %v, b processes %v", a.ActiveTasks(), b.ActiveTasks())
	if err := c.Produce(ctx, true, p1...); err != nil {
		t.Fatal(err)
	}
	runB.WaitFor(t, 60*time.Second, "partition 1 processes after the rebalance", func() bool { return a.Processed()+b.Processed() >= 300 })
	if l.finished.Load() {
		t.Error("the restore of 0_0 on a finished before the rebalance completed: make it longer")
	}
	start := time.Now()
	errA := runA.Stop()
	took := time.Since(start)
	t.Logf("Close took %s during the restore", took.Round(time.Millisecond))
	if errA != nil {
		t.Fatal(errA)
	}
	if took > 10*time.Second {
		t.Errorf("Close took %s during a restore, want at most 10s", took)
	}
	if bad, ok := l.bad.Load().(string); ok {
		t.Error(bad)
	}
	if err := runB.Stop(); err != nil {
		t.Fatal(err)
	}
}

// eosPassApp is an exactly-once instance of passTopology with its own state
// directory and instance id.
func eosPassApp(t *testing.T, c *testkit.Cluster, in, out, appID, name string, log *slog.Logger) *samsa.App {
	t.Helper()
	app, err := samsa.New(passTopology(in, out), samsa.Config{
		ApplicationID: appID, Bootstrap: c.Bootstrap, Guarantee: samsa.ExactlyOnce,
		StateDir: filepath.Join(t.TempDir(), name), InstanceID: name, Logger: log.With("instance", name),
	})
	if err != nil {
		t.Fatal(err)
	}
	return app
}

// kafkaRun is the dev/kafka script that manages the broker named by
// SAMSA_BOOTSTRAP; SAMSA_KAFKA_RUN overrides it (a second broker while
// developing).
func kafkaRun(t *testing.T, args ...string) {
	t.Helper()
	script := os.Getenv("SAMSA_KAFKA_RUN")
	if script == "" {
		script = "dev/kafka/run"
	}
	out, err := exec.Command(script, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", script, strings.Join(args, " "), err, out)
	}
}

// TestBrokerOutage: the broker is stopped for several seconds while
// exactly-once instances process, with no supervisor: every instance is
// still running afterwards and the results are exact. Then, with the broker
// down, Close returns within 10 s; and an app started while the broker is
// down waits for it.
func TestBrokerOutage(t *testing.T) {
	c := testkit.RealCluster(t)
	in, out := c.Topic(t, "outage-in", 4), c.Topic(t, "outage-out", 4)
	appID := testkit.UniqueName("outage-app")
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			kafkaRun(t, "start-node", "0")
		}
	})
	newApp := func(name string) *samsa.App {
		return eosPassApp(t, c, in, out, appID, name, testkit.Logger(t, slog.LevelInfo))
	}
	a, b := newApp("a"), newApp("b")
	runA, runB := testkit.Start(t, a), testkit.Start(t, b)
	produceValues(t, c, in, 0, 3000)
	runA.WaitFor(t, 60*time.Second, "input processed", func() bool { return a.Processed()+b.Processed() >= 3000 })

	kafkaRun(t, "kill-node", "0")
	restarted = false
	time.Sleep(8 * time.Second)
	if err, stopped := runA.Err(); stopped {
		t.Fatalf("instance a stopped during the outage: %v", err)
	}
	if err, stopped := runB.Err(); stopped {
		t.Fatalf("instance b stopped during the outage: %v", err)
	}
	// An app started while the broker is down waits for it.
	cStart := newApp("c")
	runC := testkit.Start(t, cStart)
	kafkaRun(t, "start-node", "0")
	restarted = true
	produceValues(t, c, in, 3000, 6000)
	runA.WaitFor(t, 120*time.Second, "input processed after the outage", func() bool {
		return a.Processed()+b.Processed()+cStart.Processed() >= 6000 && len(echoCounts(t, c, out)) >= 6000
	})
	for name, r := range map[string]*testkit.Running{"a": runA, "b": runB, "c": runC} {
		if err, stopped := r.Err(); stopped {
			t.Fatalf("instance %s stopped: %v", name, err)
		}
	}
	checkExactlyOnce(t, echoCounts(t, c, out), 0, 6000)
	if err := runC.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := runB.Stop(); err != nil {
		t.Fatal(err)
	}

	// Close with the broker down returns within 10 s.
	produceValues(t, c, in, 6000, 7000)
	runA.WaitFor(t, 60*time.Second, "a processes", func() bool { return len(echoCounts(t, c, out)) >= 7000 })
	kafkaRun(t, "kill-node", "0")
	restarted = false
	start := time.Now()
	_ = runA.Stop() // an error is fine: the final commit cannot succeed
	took := time.Since(start)
	t.Logf("Close with the broker down took %s", took.Round(time.Millisecond))
	if took > 10*time.Second {
		t.Errorf("Close with the broker down took %s, want at most 10s", took)
	}
	kafkaRun(t, "start-node", "0")
	restarted = true
}

// TestKickedMemberRejoins: under at-least-once, a member that the group
// kicked out (it processed past the rebalance timeout) gets its commit
// rejected (ILLEGAL_GENERATION or UNKNOWN_MEMBER_ID); it rejoins and
// processes again instead of failing.
func TestKickedMemberRejoins(t *testing.T) {
	c := testkit.RealCluster(t)
	in, out := c.Topic(t, "kicked-in", 2), c.Topic(t, "kicked-out", 2)
	appID := testkit.UniqueName("kicked-app")
	var slept atomic.Bool
	sleeping := make(chan struct{})
	top := func() *topology.Topology {
		top := topology.New()
		s := topology.StreamOf(top, serde.String, serde.String, in)
		topology.Process(s, processor.Func[string, string, string, string](func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
			if r.Value == "slow" && slept.CompareAndSwap(false, true) {
				close(sleeping)
				time.Sleep(10 * time.Second)
			}
			ctx.Forward(r)
			return nil
		}).Supplier()).To(out, serde.String, serde.String)
		return top
	}
	newApp := func(name string) *samsa.App {
		app, err := samsa.New(top(), samsa.Config{
			ApplicationID: appID, Bootstrap: c.Bootstrap, StateDir: filepath.Join(t.TempDir(), name),
			CommitInterval: 200 * time.Millisecond, Logger: testkit.Logger(t, slog.LevelInfo).With("instance", name),
			ClientOptions: []kgo.Opt{kgo.RebalanceTimeout(3 * time.Second), kgo.SessionTimeout(6 * time.Second), kgo.HeartbeatInterval(500 * time.Millisecond)},
		})
		if err != nil {
			t.Fatal(err)
		}
		return app
	}
	produceValues(t, c, in, 0, 100)
	a := newApp("a")
	runA := testkit.Start(t, a)
	runA.WaitFor(t, 60*time.Second, "a processes", func() bool { return a.Processed() >= 100 })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Produce(ctx, true, &kgo.Record{Topic: in, Partition: 0, Key: []byte("s"), Value: []byte("slow")}); err != nil {
		t.Fatal(err)
	}
	<-sleeping
	b := newApp("b") // its join kicks a out after the rebalance timeout
	runB := testkit.Start(t, b)
	produceValues(t, c, in, 100, 200)
	runB.WaitFor(t, 90*time.Second, "every input output", func() bool {
		n := echoCounts(t, c, out)
		for i := range 200 {
			if n["v"+strconv.Itoa(i)] == 0 {
				return false
			}
		}
		return n["slow"] > 0
	})
	if err, stopped := runA.Err(); stopped {
		t.Fatalf("the kicked member stopped instead of rejoining: %v", err)
	}
	// a rejoined: it takes a partition again and processes.
	before := a.Processed()
	for i := 200; i < 2000; i += 100 {
		produceValues(t, c, in, i, i+100)
		if a.Processed() > before {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	runA.WaitFor(t, 60*time.Second, "the kicked member processes again", func() bool { return a.Processed() > before })
	if err := runA.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := runB.Stop(); err != nil {
		t.Fatal(err)
	}
}

// TestRepeatedRecoveries: an exactly-once instance whose producer is fenced
// again and again (another producer takes its transactional id) rebuilds
// from what Kafka committed each time and keeps running, with exact output:
// recoveries are bounded by TaskTimeout without progress, not by a count
// over the App's life (the old limit made the 11th fatal).
func TestRepeatedRecoveries(t *testing.T) {
	c := testkit.RealCluster(t)
	in, out := c.Topic(t, "fence-in", 2), c.Topic(t, "fence-out", 2)
	appID := testkit.UniqueName("fence-app")
	rec, log := newLogRecorder(t)
	app, err := samsa.New(passTopology(in, out), samsa.Config{
		ApplicationID: appID, Bootstrap: c.Bootstrap, Guarantee: samsa.ExactlyOnce,
		StateDir: t.TempDir(), InstanceID: "x", Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	run := testkit.Start(t, app)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const fences = 12
	next := 0
	for i := range fences {
		produceValues(t, c, in, next, next+100)
		next += 100
		run.WaitFor(t, 60*time.Second, fmt.Sprintf("outputs before fence %d", i+1), func() bool { return len(echoCounts(t, c, out)) >= next })
		// A producer with the instance's transactional id fences it.
		zombieKiller, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap...), kgo.TransactionalID(appID+"-x"))
		if err != nil {
			t.Fatal(err)
		}
		if err := zombieKiller.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := zombieKiller.ProduceSync(ctx, &kgo.Record{Topic: in, Key: []byte("fence"), Value: []byte("f" + strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := zombieKiller.EndTransaction(ctx, kgo.TryAbort); err != nil {
			t.Fatal(err)
		}
		zombieKiller.Close()
		before := len(rec.matching("rebuilding from the committed offsets"))
		produceValues(t, c, in, next, next+100)
		next += 100
		run.WaitFor(t, 60*time.Second, fmt.Sprintf("recovery %d", i+1), func() bool {
			return len(rec.matching("rebuilding from the committed offsets")) > before
		})
	}
	run.WaitFor(t, 60*time.Second, "every output", func() bool { return len(echoCounts(t, c, out)) >= next })
	if err, stopped := run.Err(); stopped {
		t.Fatalf("the app stopped after repeated recoveries: %v", err)
	}
	t.Logf("%d recoveries", len(rec.matching("rebuilding from the committed offsets")))
	checkExactlyOnce(t, echoCounts(t, c, out), 0, next)
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}
}

// TestRestoreWaitsForStableOffsets: the earlier owner of a task left a
// transaction open that holds both a changelog record and the offset
// commit of the input it consumed. The new owner must not restore until
// that transaction has ended: restoring to the last stable offset before
// it would miss the changelog record, while the offsets read afterwards
// already count its input as processed (a lost update).
func TestRestoreWaitsForStableOffsets(t *testing.T) {
	c := testkit.RealCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	in, out := c.Topic(t, "stable-in", 1), c.Topic(t, "stable-out", 1)
	appID := testkit.UniqueName("stable-app")
	changelog := topology.ChangelogTopic(appID, "counts")
	compact := "compact"
	if err := c.CreateTopic(ctx, changelog, 1, map[string]*string{"cleanup.policy": &compact}); err != nil {
		t.Fatal(err)
	}
	// The input: three records of key k; the earlier owner processed the
	// first two (count 2) in the transaction it leaves open.
	for range 3 {
		if err := c.Produce(ctx, true, &kgo.Record{Topic: in, Partition: 0, Key: []byte("k"), Value: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	owner, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap...), kgo.TransactionalID(appID+"-old"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	if err := owner.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := owner.ProduceSync(ctx, &kgo.Record{Topic: changelog, Partition: 0, Key: []byte("k"), Value: []byte("2")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	id, epoch, err := owner.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	add := kmsg.NewPtrAddOffsetsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch, add.Group = appID+"-old", id, epoch, appID
	if resp, err := add.RequestWith(ctx, owner); err != nil || resp.ErrorCode != 0 {
		t.Fatalf("AddOffsetsToTxn: %v (code %d)", err, resp.ErrorCode)
	}
	commit := kmsg.NewPtrTxnOffsetCommitRequest()
	commit.TransactionalID, commit.Group, commit.ProducerID, commit.ProducerEpoch = appID+"-old", appID, id, epoch
	commit.Generation, commit.MemberID = -1, ""
	td, err := c.Admin().ListTopics(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	ct := kmsg.NewTxnOffsetCommitRequestTopic()
	ct.Topic, ct.TopicID = in, td[in].ID
	cp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	cp.Partition, cp.Offset, cp.LeaderEpoch = 0, 2, -1
	ct.Partitions = append(ct.Partitions, cp)
	commit.Topics = append(commit.Topics, ct)
	if resp, err := commit.RequestWith(ctx, owner); err != nil || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("TxnOffsetCommit: %v %+v", err, resp)
	}
	// The new owner starts while the transaction is open; it ends 3 s later.
	app, err := samsa.New(countTopology(in, out), samsa.Config{
		ApplicationID: appID, Bootstrap: c.Bootstrap, Guarantee: samsa.ExactlyOnce, StateDir: t.TempDir(),
		Logger: testkit.Logger(t, slog.LevelInfo),
	})
	if err != nil {
		t.Fatal(err)
	}
	run := testkit.Start(t, app)
	time.Sleep(3 * time.Second)
	if err := owner.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	run.WaitFor(t, 60*time.Second, "the third record", func() bool { return app.Processed() >= 1 })
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}
	if got := lastCounts(t, c, out); got["k"] != 3 {
		t.Fatalf("count of k after the third record = %d, want 3 (the restore missed the earlier owner's last update)", got["k"])
	}
}

// TestStandbysTailAfterRecovery: after an unknown-outcome recovery (the
// instance's producer is fenced), the instance's standby replicas are
// reopened on a new client and keep tailing their changelogs, so that a
// failover to it restores only a short tail (they used to stay on the old,
// closed client and fall behind).
func TestStandbysTailAfterRecovery(t *testing.T) {
	c := testkit.RealCluster(t)
	in, out := c.Topic(t, "sbrec-in", 2), c.Topic(t, "sbrec-out", 2)
	appID := testkit.UniqueName("sbrec-app")
	rec, log := newLogRecorder(t)
	newApp := func(name string, log *slog.Logger) *samsa.App {
		app, err := samsa.New(countTopology(in, out), samsa.Config{
			ApplicationID: appID, Bootstrap: c.Bootstrap, Guarantee: samsa.ExactlyOnce, StandbyReplicas: 1,
			StateDir: filepath.Join(t.TempDir(), name), InstanceID: name, Logger: log.With("instance", name),
		})
		if err != nil {
			t.Fatal(err)
		}
		return app
	}
	a := newApp("a", log)
	runA := testkit.Start(t, a)
	b := newApp("b", testkit.Logger(t, slog.LevelInfo))
	runB := testkit.Start(t, b)
	produceKeys(t, c, in, 2000, 1000)
	runA.WaitFor(t, 60*time.Second, "both process", func() bool {
		return a.Processed()+b.Processed() >= 2000 && len(a.ActiveTasks()) > 0 && len(b.ActiveTasks()) > 0
	})
	// a's producer is fenced: a rebuilds from what Kafka committed.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fencer, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap...), kgo.TransactionalID(appID+"-a"))
	if err != nil {
		t.Fatal(err)
	}
	if err := fencer.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := fencer.ProduceSync(ctx, &kgo.Record{Topic: out, Value: []byte("fence")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := fencer.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
	fencer.Close()
	produceKeys(t, c, in, 200, 1000)
	runA.WaitFor(t, 60*time.Second, "a recovers", func() bool {
		return len(rec.matching("rebuilding from the committed offsets")) > 0
	})
	runA.WaitFor(t, 60*time.Second, "both process after the recovery", func() bool {
		return len(a.ActiveTasks()) > 0 && len(b.ActiveTasks()) > 0
	})
	// Changelog records that a's standbys must tail.
	before := a.Processed() + b.Processed()
	produceKeys(t, c, in, 20000, 1000)
	runA.WaitFor(t, 60*time.Second, "the input processed", func() bool { return a.Processed()+b.Processed() >= before+20000 })
	time.Sleep(2 * time.Second) // standbys tail between batches
	restored := a.Restored()
	if err := runB.Stop(); err != nil { // failover of b's tasks to a
		t.Fatal(err)
	}
	runA.WaitFor(t, 60*time.Second, "a runs every task", func() bool { return len(a.ActiveTasks()) == 2 })
	tail := a.Restored() - restored
	t.Logf("the failover after the recovery restored %d changelog records", tail)
	if tail > 2000 {
		t.Fatalf("failover restored %d records: the standbys stopped tailing after the recovery", tail)
	}
	if err := runA.Stop(); err != nil {
		t.Fatal(err)
	}
}
