package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa/changelog"
	"github.com/samsa-streams/samsa/exactlyonce"
	"github.com/samsa-streams/samsa/internal/assign"
	"github.com/samsa-streams/samsa/internal/engine"
	"github.com/samsa-streams/samsa/internal/metrics"
	"github.com/samsa-streams/samsa/processor"
)

// App runs a topology as one member of the consumer group named by the
// application id. Start more instances with the same id to scale out.
type App struct {
	// Set by New and never changed: read by every goroutine.
	cfg  Config
	g    *engine.Graph
	subs []*engine.Subtopology
	// cache is the record cache budget of the instance's tasks (nil: off).
	cache    *engine.CacheBudget
	log      *slog.Logger
	topicSub map[string]int // source topic → sub-topology

	// Atomics, read by any goroutine: the state, the counters.
	state    atomic.Int32
	procRecs atomic.Int64
	restored atomic.Int64
	// restoringN is len(restoring), for /readyz; running is set while Run
	// runs, for /healthz; server is the HTTP server while Run runs.
	restoringN atomic.Int32
	running    atomic.Bool
	server     atomic.Pointer[metrics.Server]
	// metrics are the App's collectors (set by New); taskMetrics those of
	// each task, active or restoring, guarded by mu.
	metrics     *metrics.Metrics
	taskMetrics map[processor.TaskID]*metrics.Task
	// rebalanceWaiting is set (by a group callback) when the group wants
	// to rebalance while the poll loop blocks it: the loop then commits
	// before allowing it.
	rebalanceWaiting atomic.Bool

	// Lifecycle: ran makes Run run once; closeMu guards cancel, which
	// Close calls; done is closed when Run returns.
	ran     atomic.Bool
	closeMu sync.Mutex
	cancel  context.CancelFunc
	done    chan struct{}

	// mu serialises the poll loop's batch processing and commits with the
	// group callbacks (franz-go's goroutine, while the loop is blocked in a
	// poll). It guards the fields below down to lastGood unless they say
	// otherwise. The clients and the protocol are replaced only by the
	// goroutine of Run, between loops (startClient, recoverClient).
	mu      sync.Mutex
	tasks   map[processor.TaskID]*engine.Task
	cl      *kgo.Client
	proto   exactlyonce.Protocol
	out     *output
	fatal   error
	lastCmt time.Time
	// storesMeasured is when the stores' sizes were last measured.
	storesMeasured time.Time
	// stores opens a task's stores in stateEngine, which holds every
	// store of the instance (set by Run before the first client starts,
	// then read-only).
	stores      engine.StoreProvider
	stateEngine *changelog.Engine
	// globals are the global stores (global.go), set by Run before the
	// first client starts; nil without any.
	globals *globalState
	// updater restores new tasks off the poll loop; restoring holds the
	// tasks it was given and has not handed back (guarded by mu), early
	// the records polled for them before their partitions were paused.
	updater   *stateUpdater
	restoring map[processor.TaskID]*engine.Task
	early     map[processor.TaskID][]*kgo.Record
	// runCtx is Run's context (set before the first client starts).
	runCtx context.Context
	// pollMu guards pollCancel, which ends the current poll early so that
	// restored tasks start processing at once.
	pollMu     sync.Mutex
	pollCancel context.CancelFunc
	// revoked is set (under mu) when the group revoked or lost partitions
	// under exactly-once: the transaction session then aborts its next
	// transaction unless the empty one is ended first.
	revoked bool
	// rebalancing is set (under mu) from the revocation that starts a
	// rebalance until the assignment that ends it. Under exactly-once no
	// transaction begins meanwhile: franz-go would hold its offset commit
	// until the join completes and then abort it.
	rebalancing bool
	// revokedGen is the group generation of the last revocation under
	// exactly-once; after its empty transaction is ended, no transaction
	// begins until the group has a newer generation (the cooperative
	// protocol rejoins right after a revocation, and franz-go skips the
	// callbacks of that rejoin while the session is marked revoked) or
	// holdUntil passed. holdGen is -1 when nothing is held. Guarded by mu.
	revokedGen, holdGen int32
	holdUntil           time.Time
	// lastGood is when the last commit succeeded (or Run started), for
	// TaskTimeout; owned by the goroutine of Run.
	lastGood time.Time
	// reader is the one changelog reader (changelog.Reader), over
	// restoreCl, the changelog client, which the App makes and closes:
	// the state updater goroutine restores tasks and tails the standby
	// tasks' changelogs with it; the reader guards the partitions it
	// follows with its own mutex.
	// Standby replicas: the balancer and the warm copies. The poll loop
	// and the group callbacks open and close the copies (standbys) and
	// have the reader follow their changelogs. standbyMu guards standbys
	// and the replacement of restoreCl and reader (a.mu, when also held,
	// is taken first); a restore reads them without it, as they are
	// replaced only while no restore runs.
	restoreCl    *kgo.Client
	reader       *changelog.Reader
	balancer     *assign.Balancer
	standbyMu    sync.Mutex
	standbys     map[processor.TaskID]*standbyTask
	changelogSub map[string]int // changelog topic → sub-topology
	// posMu guards the positions of the state this member holds, by
	// task, for the balancer: activePos set at commit by the poll loop,
	// standbyPos by the state updater after each apply to the standbys.
	posMu      sync.Mutex
	activePos  map[assign.Task]int64
	standbyPos map[assign.Task]int64
	// skipped and deadLettered count records handled by the error policies.
	skipped      atomic.Int64
	deadLettered atomic.Int64
	// The purge of committed repartition records (state.go
	// purgeCommitted): lastPurge is guarded by mu (the commit path);
	// purging is set while a purge goroutine runs, which purges counts
	// (Run waits for it) and which alone uses lastPurgeWarn; purgeMu
	// guards purged, the offsets already purged by topic and partition.
	lastPurge     time.Time
	purging       atomic.Bool
	purges        sync.WaitGroup
	lastPurgeWarn time.Time
	purgeMu       sync.Mutex
	purged        map[string]map[int32]int64
	// committedOffs is the highest offset this instance committed per
	// topic and partition (guarded by mu): what the purge may delete
	// below.
	committedOffs map[string]map[int32]int64
	// idle keeps what MaxTaskIdle decides on (idle.go): the positions
	// and end offsets of the inputs of the tasks with several inputs.
	idle *idleTracker
	// idleLookups counts the goroutines looking up offsets for idle (Run
	// waits for them).
	idleLookups sync.WaitGroup
}

// New returns an App that runs a compiled topology with a configuration
// that package samsa validated. It does not contact the brokers: Run does.
func New(plan *engine.Plan, c Config) *App {
	a := &App{
		cfg: c, g: plan.Graph, subs: plan.Subs, cache: engine.NewCacheBudget(c.CacheMaxBytes),
		log:          c.Logger.With("app", c.ApplicationID),
		topicSub:     plan.TopicSub,
		tasks:        map[processor.TaskID]*engine.Task{},
		holdGen:      -1,
		restoring:    map[processor.TaskID]*engine.Task{},
		early:        map[processor.TaskID][]*kgo.Record{},
		done:         make(chan struct{}),
		standbys:     map[processor.TaskID]*standbyTask{},
		changelogSub: plan.ChangelogSub,
		taskMetrics:  map[processor.TaskID]*metrics.Task{},
		idle:         newIdleTracker(c.MaxTaskIdle, c.Logger.With("app", c.ApplicationID)),
	}
	a.metrics = metrics.New(c.ApplicationID, metrics.Sources{Restored: a.Restored})
	return a
}

// Metrics returns the App's own metrics registry.
func (a *App) Metrics() prometheus.Gatherer { return a.metrics.Gatherer() }

// HTTPAddr returns the address the HTTP server listens on while Run runs,
// or "" (no Config.HTTPAddr, Run not started yet or returned).
func (a *App) HTTPAddr() string {
	if s := a.server.Load(); s != nil {
		return s.Addr()
	}
	return ""
}

// String returns the state's name, as samsa.State's.
func (s State) String() string {
	if s >= 0 && int(s) < len(metrics.States) {
		return metrics.States[s]
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// status is what /healthz and /readyz report.
func (a *App) status() metrics.Status {
	s := a.State()
	return metrics.Status{
		State:   s.String(),
		Healthy: a.running.Load() && s != StateError,
		Ready:   a.running.Load() && s == StateRunning && a.restoringN.Load() == 0,
	}
}

// serve starts the HTTP server and registers the metrics with the user's
// registerer, as configured; stop undoes both.
func (a *App) serve() (stop func(), err error) {
	if r := a.cfg.MetricsRegisterer; r != nil {
		if err := a.metrics.Register(r); err != nil {
			return nil, fmt.Errorf("%w: field MetricsRegisterer: %w", ErrConfig, err)
		}
	}
	unregister := func() {
		if r := a.cfg.MetricsRegisterer; r != nil {
			a.metrics.Unregister(r)
		}
	}
	if a.cfg.HTTPAddr == "" {
		return unregister, nil
	}
	srv, err := metrics.Serve(a.cfg.HTTPAddr, a.metrics.Gatherer(), a.status, a.cfg.Topology, a.log)
	if err != nil {
		unregister()
		return nil, fmt.Errorf("%w: field HTTPAddr %q: %w", ErrConfig, a.cfg.HTTPAddr, err)
	}
	a.server.Store(srv)
	a.log.Info("serving /metrics, /healthz, /readyz and /topology", "addr", srv.Addr())
	return func() {
		a.server.Store(nil)
		if err := srv.Close(min(a.cfg.CloseTimeout, httpCloseTimeout)); err != nil {
			a.log.Warn("stopping the HTTP server", "err", err)
		}
		unregister()
	}, nil
}

// httpCloseTimeout bounds the wait for the HTTP requests in flight when
// Run returns.
const httpCloseTimeout = 5 * time.Second

// State returns the current state.
func (a *App) State() State { return State(a.state.Load()) }

func (a *App) setState(s State) {
	old := State(a.state.Swap(int32(s)))
	if old == s {
		return
	}
	a.metrics.State(int(s))
	a.log.Debug("state change", "from", old, "to", s)
	if a.cfg.StateListener != nil {
		a.cfg.StateListener(old, s)
	}
}

// onError chooses the configured policy for a failed record.
func (a *App) onError(kind engine.ErrorKind, _ error) engine.Decision {
	return a.cfg.Errors.decide(kind)
}

// onHandled counts and logs a record (or punctuation) that a task skipped
// or dead-lettered: the one place the App counts its error policies.
func (a *App) onHandled(kind engine.ErrorKind, d engine.Decision, err error) {
	switch d {
	case engine.Skip:
		a.skipped.Add(1)
		a.metrics.Skip(kind.String())
		a.log.Warn("skipping a record", "kind", kind.String(), "err", err)
	case engine.DeadLetter:
		a.deadLettered.Add(1)
		a.metrics.DeadLetter(kind.String())
		a.log.Warn("dead-lettering a record", "kind", kind.String(), "topic", a.cfg.DeadLetterTopic, "err", err)
	}
}

// Skipped returns the number of records the error policies skipped.
func (a *App) Skipped() int64 { return a.skipped.Load() }

// DeadLettered returns the number of records sent to the dead-letter topic.
func (a *App) DeadLettered() int64 { return a.deadLettered.Load() }

// ActiveTasks returns the tasks this instance processes now, in order;
// tasks still restoring are not among them.
func (a *App) ActiveTasks() []processor.TaskID {
	a.mu.Lock()
	ids := make([]processor.TaskID, 0, len(a.tasks))
	for id := range a.tasks {
		ids = append(ids, id)
	}
	a.mu.Unlock()
	slices.SortFunc(ids, func(x, y processor.TaskID) int {
		if x.Subtopology != y.Subtopology {
			return x.Subtopology - y.Subtopology
		}
		return int(x.Partition - y.Partition)
	})
	return ids
}

// Restored returns the number of changelog records this instance restored,
// the records read into global stores at startup included.
func (a *App) Restored() int64 { return a.restored.Load() }

// Processed returns the number of input records processed by this instance.
func (a *App) Processed() int64 { return a.procRecs.Load() }

// Close stops a running App gracefully, committing what was processed, and
// waits for Run to return.
func (a *App) Close() error {
	a.closeMu.Lock()
	cancel := a.cancel
	a.closeMu.Unlock()
	if cancel == nil {
		a.setState(StateNotRunning)
		return nil
	}
	cancel()
	<-a.done
	return nil
}

// Run joins the group and processes until ctx is cancelled (a graceful
// shutdown that commits what was processed, returning nil) or a fatal error
// occurs (returned). Run can be called once.
func (a *App) Run(ctx context.Context) (err error) {
	if !a.ran.CompareAndSwap(false, true) {
		return ErrClosed
	}
	defer close(a.done)
	stopServing, err := a.serve()
	if err != nil {
		a.setState(StateError)
		return err
	}
	defer stopServing() // last: /healthz answers until Run returns
	a.running.Store(true)
	defer a.running.Store(false)
	defer a.purges.Wait() // after cancel, which ends a purge in flight
	defer a.idleLookups.Wait()
	ctx, cancel := context.WithCancel(ctx)
	a.closeMu.Lock()
	a.cancel = cancel
	a.closeMu.Unlock()
	defer cancel()
	defer func() {
		if err != nil {
			a.setState(StateError)
		} else {
			a.setState(StateNotRunning)
		}
	}()

	a.stateEngine, err = changelog.NewEngine(changelog.Options{
		Dir: a.cfg.StateDir, ApplicationID: a.cfg.ApplicationID, InMemory: a.cfg.InMemoryState,
		CacheSize: a.cfg.StateCacheSize, MemTableSize: a.cfg.MemTableSize, Logger: a.log,
	})
	if err != nil {
		return err
	}
	defer a.stateEngine.Close()
	a.stores = a.newStoreProvider()
	parts, err := a.startup(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil // closed while waiting for the cluster: nothing to commit
		}
		return err
	}
	// The global stores are filled before the group is joined: every
	// task sees them whole from its first record.
	if a.globals, err = a.startGlobals(ctx, parts); err != nil {
		if ctx.Err() != nil {
			return nil // closed while restoring: nothing to commit
		}
		return err
	}
	defer a.globals.close()
	guarantee := exactlyonce.NameAtLeastOnce
	if a.cfg.ExactlyOnce {
		guarantee = exactlyonce.NameExactlyOnce
	}
	a.out = &output{parts: parts, guarantee: guarantee, bootstrap: a.cfg.Bootstrap, policy: a.cfg.Errors, dlq: a.cfg.DeadLetterTopic, appID: a.cfg.ApplicationID, log: a.log,
		skipped: &a.skipped, deadLettered: &a.deadLettered, metrics: a.metrics}
	a.runCtx = ctx
	a.updater = newStateUpdater(a, a.wakePoll)
	updaterDone := make(chan struct{})
	go func() {
		defer close(updaterDone)
		a.updater.run(ctx)
	}()
	defer func() {
		cancel()
		<-updaterDone
	}()
	if err := a.startClient(); err != nil {
		return err
	}
	a.setState(StateRebalancing)
	a.lastGood = time.Now()
	runErr := a.loop(ctx)
	for attempt := 1; runErr != nil && recoverable(runErr) && ctx.Err() == nil; attempt++ {
		if stalled := time.Since(a.lastGood); stalled > a.cfg.TaskTimeout {
			runErr = fmt.Errorf("samsa: no commit succeeded for %s (Config.TaskTimeout is %s): giving up: %w", stalled.Round(time.Second), a.cfg.TaskTimeout, runErr)
			break
		}
		// The transaction may or may not have committed, or the commit
		// failed: drop every task (their stores keep only committed
		// state), leave with this client and join again, so that offsets
		// and state are read back from what Kafka committed. Under
		// exactly-once the new producer fences the old.
		wait := min(time.Duration(attempt)*time.Second, 10*time.Second)
		a.log.Warn("commit failed or its outcome is unknown: rebuilding from the committed offsets and state",
			"attempt", attempt, "retry_in", wait, "err", runErr)
		a.recoverClient()
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		if ctx.Err() != nil {
			runErr = nil
			break
		}
		if err := a.startClient(); err != nil {
			runErr = err
			break
		}
		a.setState(StateRebalancing)
		mark := a.lastGood
		if runErr = a.loop(ctx); a.lastGood.After(mark) {
			attempt = 0 // a commit succeeded: start the backoff afresh
		}
	}
	a.setState(StatePendingShutdown)
	closeErr := a.shutdown(runErr)
	return errors.Join(runErr, closeErr)
}

// holdAfterRevoke bounds the wait for the rejoin that follows a revocation
// before transactions begin again.
const holdAfterRevoke = 10 * time.Second

// recoverable reports whether Run rebuilds from what Kafka committed after
// err instead of failing: an unknown transaction outcome, or a commit that
// failed because the cluster was unreachable or the group moved on.
func recoverable(err error) bool {
	return exactlyonce.Recoverable(err)
}

// memberGone reports whether a commit was rejected because the group moved
// on without this member (it was kicked out or a rebalance began).
func memberGone(err error) bool {
	return errors.Is(err, kerr.IllegalGeneration) || errors.Is(err, kerr.UnknownMemberID) ||
		errors.Is(err, kerr.RebalanceInProgress) || errors.Is(err, kerr.FencedInstanceID)
}

// wakePoll ends the poll in progress, so that the loop takes restored tasks
// at once.
func (a *App) wakePoll() {
	a.pollMu.Lock()
	if a.pollCancel != nil {
		a.pollCancel()
	}
	a.pollMu.Unlock()
}

// recoverClient closes every task without committing and closes the
// clients, so that a new client starts from the committed offsets.
func (a *App) recoverClient() {
	a.mu.Lock()
	a.fatal = errRecovering // no commit from the revoke callback while closing
	var all []*engine.Task
	for _, t := range a.tasks {
		t.Abort()
		all = append(all, t)
	}
	for _, t := range a.restoring {
		all = append(all, t)
	}
	a.closeTasks(a.cl, all, "recovery")
	a.closeStandbys()
	a.revoked, a.rebalancing, a.holdGen = false, false, -1
	a.mu.Unlock()
	a.closeClients()
	a.mu.Lock()
	a.fatal = nil
	a.out.reset()
	a.mu.Unlock()
}

// closeClients closes the group client and the changelog reader, giving up
// on leaving the group politely when the cluster does not answer within
// CloseTimeout.
func (a *App) closeClients() {
	done := make(chan struct{})
	a.standbyMu.Lock()
	rcl := a.restoreCl
	a.restoreCl, a.reader = nil, nil
	a.standbyMu.Unlock()
	cl := a.cl
	go func() {
		defer close(done)
		if cl != nil {
			cl.CloseAllowingRebalance()
		}
		if rcl != nil {
			rcl.Close()
		}
	}()
	select {
	case <-done:
	case <-time.After(a.cfg.CloseTimeout):
		a.log.Warn("closing the Kafka clients takes longer than CloseTimeout: going on without waiting", "close_timeout", a.cfg.CloseTimeout)
	}
}

var errRecovering = errors.New("samsa: recovering")

// startup checks the topics, waiting with backoff while the cluster cannot
// be reached, up to TaskTimeout.
func (a *App) startup(ctx context.Context) (map[string]int32, error) {
	deadline := time.Now().Add(a.cfg.TaskTimeout)
	wait := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		parts, err := a.checkTopics(ctx)
		if err == nil || ctx.Err() != nil || !unreachable(err) {
			return parts, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("samsa: Kafka cluster at %v unreachable for %s (Config.TaskTimeout): %w", a.cfg.Bootstrap, a.cfg.TaskTimeout, err)
		}
		a.log.Warn("waiting for the Kafka cluster", "bootstrap", a.cfg.Bootstrap, "attempt", attempt, "retry_in", wait, "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// unreachable reports whether err says the cluster could not be reached or
// answered with a retriable error, rather than that something is wrong.
func unreachable(err error) bool {
	var op *net.OpError
	var ke *kerr.Error
	return errors.As(err, &op) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		(errors.As(err, &ke) && ke.Retriable)
}

// checkTopics verifies at startup that every source and fixed sink topic
// exists, waiting up to StartupTimeout for those that do not exist yet
// (topics created just before the App starts take a moment to show in the
// metadata), that co-partitioned topics agree on partition counts, and
// then creates or checks the internal topics.
func (a *App) checkTopics(ctx context.Context) (map[string]int32, error) {
	adm, err := a.newClient()
	if err != nil {
		return nil, fmt.Errorf("%w: bootstrap %v: %w", ErrConfig, a.cfg.Bootstrap, err)
	}
	defer adm.Close()
	var want []string
	for _, n := range a.g.Nodes {
		if n.Internal != "" {
			continue // created below
		}
		want = append(want, n.Topics...)
		if n.Kind == engine.KindSink && n.Topic != "" {
			want = append(want, n.Topic)
		}
		want = append(want, n.SideTopics...)
	}
	if a.cfg.DeadLetterTopic != "" {
		want = append(want, a.cfg.DeadLetterTopic)
	}
	want = append(want, a.globalTopics()...)
	slices.Sort(want)
	want = slices.Compact(want)
	parts, err := a.waitTopics(ctx, kadm.NewClient(adm), want)
	if err != nil {
		return nil, err
	}
	// Co-partitioning first, with the partition counts the repartition
	// topics will have: nothing is created for a topology that cannot run.
	a.g.RepartitionPartitions(a.subs, parts, func(string) int32 { return 0 })
	if err := a.checkCopartitioning(parts); err != nil {
		return nil, err
	}
	ictx, cancel := context.WithTimeout(ctx, a.cfg.StartupTimeout)
	defer cancel()
	if err := a.ensureInternalTopics(ictx, adm, parts); err != nil {
		return nil, err
	}
	return parts, nil
}

// waitTopics returns the partition counts of the topics, waiting up to
// StartupTimeout for those that do not exist yet, with a log line per
// wait; then it fails naming every topic still missing.
func (a *App) waitTopics(parent context.Context, adm *kadm.Client, want []string) (map[string]int32, error) {
	ctx, cancel := context.WithTimeout(parent, a.cfg.StartupTimeout)
	defer cancel()
	began := time.Now()
	for wait := 250 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		td, err := adm.ListTopics(ctx, want...)
		if err != nil {
			return nil, fmt.Errorf("samsa: list topics at %v: %w", a.cfg.Bootstrap, err)
		}
		parts := map[string]int32{}
		var missing []string
		for _, t := range want {
			d, ok := td[t]
			if !ok || d.Err != nil {
				missing = append(missing, t)
				continue
			}
			parts[t] = int32(len(d.Partitions))
		}
		if len(missing) == 0 {
			return parts, nil
		}
		if err := parent.Err(); err != nil {
			return nil, err
		}
		if dl, ok := ctx.Deadline(); ctx.Err() != nil || (ok && time.Until(dl) < wait) {
			errs := make([]error, len(missing))
			for i, t := range missing {
				errs[i] = fmt.Errorf("%w: topic %q does not exist (create it first; waited %s, Config.StartupTimeout)", ErrMissingTopic, t, time.Since(began).Round(100*time.Millisecond))
			}
			return nil, errors.Join(errs...)
		}
		a.log.Warn("waiting for topics to exist", "topics", missing, "waited", time.Since(began).Round(time.Millisecond), "startup_timeout", a.cfg.StartupTimeout)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
}

// checkCopartitioning verifies that the topics each sub-topology reads
// have the same partition count.
func (a *App) checkCopartitioning(parts map[string]int32) error {
	for _, st := range a.subs {
		if len(st.SourceTopics) < 2 {
			continue
		}
		first := st.SourceTopics[0]
		for _, t := range st.SourceTopics[1:] {
			if parts[t] != parts[first] {
				var desc []string
				for _, t := range st.SourceTopics {
					desc = append(desc, fmt.Sprintf("%s=%d", t, parts[t]))
				}
				return fmt.Errorf("%w: sub-topology %d reads %s", ErrCopartition, st.ID, strings.Join(desc, ", "))
			}
		}
	}
	return nil
}

func (a *App) startClient() error {
	a.balancer = assign.NewBalancer(a.topicSub)
	if a.cfg.StandbyReplicas > 0 {
		a.balancer.SetStandby(a.cfg.StandbyReplicas, a.statePositions)
	}
	var topics []string
	for t := range a.topicSub {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	opts := []kgo.Opt{
		kgo.ConsumerGroup(a.cfg.ApplicationID),
		kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// The transaction markers move the position past the end of a
		// transaction, which MaxTaskIdle compares with the end offset;
		// the tasks commit past them (engine.Task.Add), as the
		// exactly-once session commits the offsets of every record
		// polled.
		kgo.KeepControlRecords(),
		kgo.BlockRebalanceOnPoll(),
		// As Kafka's fetch.max.wait.ms: partitions resumed after a restore
		// join the next fetch within half a second (franz-go waits 5s).
		kgo.FetchMaxWait(500 * time.Millisecond),
		kgo.DisableAutoCommit(),
		kgo.Balancers(a.balancer),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.OnPartitionsAssigned(a.onAssigned),
		kgo.OnPartitionsRevoked(a.onRevoked),
		kgo.OnPartitionsLost(a.onLost),
		kgo.OnPartitionsCallbackBlocked(func(context.Context, *kgo.Client) { a.rebalanceWaiting.Store(true) }),
	}
	// The group timeouts and the fetch bounds; a zero value keeps
	// franz-go's default. A fetch response may be as large as
	// FetchMaxBytes: the read limit (100 MiB by default) grows with it.
	if d := a.cfg.SessionTimeout; d > 0 {
		opts = append(opts, kgo.SessionTimeout(d))
	}
	if d := a.cfg.HeartbeatInterval; d > 0 {
		opts = append(opts, kgo.HeartbeatInterval(d))
	}
	if d := a.cfg.RebalanceTimeout; d > 0 {
		opts = append(opts, kgo.RebalanceTimeout(d))
	}
	if id := a.cfg.GroupInstanceID; id != "" {
		opts = append(opts, kgo.InstanceID(id)) // static membership
	}
	fetch := a.fetchOpts()
	opts = append(opts, fetch...)
	if a.cfg.ExactlyOnce {
		opts = append(opts,
			kgo.TransactionalID(a.cfg.ApplicationID+"-"+a.cfg.InstanceID),
			kgo.TransactionTimeout(a.cfg.TransactionTimeout))
	}
	// The changelog reader first: the group client may assign tasks,
	// which the state updater restores with it, as soon as it exists.
	rcl, err := a.newChangelogClient(fetch)
	if err != nil {
		return fmt.Errorf("%w: kafka changelog client: %w", ErrConfig, err)
	}
	a.standbyMu.Lock()
	a.restoreCl, a.reader = rcl, a.newReader(rcl)
	a.standbyMu.Unlock()
	proto, err := exactlyonce.Open(a.cfg.ExactlyOnce, a.clientOpts(opts...)...)
	if err != nil {
		a.standbyMu.Lock()
		a.restoreCl, a.reader = nil, nil
		a.standbyMu.Unlock()
		rcl.Close()
		return fmt.Errorf("%w: kafka client: %w", ErrConfig, err)
	}
	// The group callbacks may run as soon as the client exists: they
	// read these under mu.
	a.mu.Lock()
	a.proto = proto
	a.cl = proto.Client()
	a.out.cl = a.cl
	a.mu.Unlock()
	return nil
}

// fetchOpts are the fetch bounds of every consuming client.
func (a *App) fetchOpts() []kgo.Opt {
	var fetch []kgo.Opt
	if b := a.cfg.FetchMaxBytes; b > 0 {
		fetch = append(fetch, kgo.FetchMaxBytes(b))
		if b > 50<<20 {
			fetch = append(fetch, kgo.BrokerMaxReadBytes(int32(min(2*int64(b), 1<<31-1))))
		}
	}
	if b := a.cfg.FetchMaxPartitionBytes; b > 0 {
		fetch = append(fetch, kgo.FetchMaxPartitionBytes(b))
	}
	return fetch
}

func (a *App) loop(ctx context.Context) error {
	a.lastCmt = time.Now()
	for {
		if ctx.Err() != nil {
			return nil
		}
		pollCtx, cancel := context.WithTimeout(ctx, a.pollTimeout())
		a.pollMu.Lock()
		a.pollCancel = cancel
		a.pollMu.Unlock()
		if a.updater.finished() {
			cancel() // restored tasks wait: take them at once
		}
		fetches := a.cl.PollRecords(pollCtx, a.cfg.MaxPollRecords)
		a.pollMu.Lock()
		a.pollCancel = nil
		a.pollMu.Unlock()
		cancel()
		if fetches.IsClientClosed() {
			return nil
		}
		for _, fe := range fetches.Errors() {
			if errors.Is(fe.Err, context.Canceled) || errors.Is(fe.Err, context.DeadlineExceeded) {
				continue
			}
			if err := refused(a.cfg.ApplicationID, fe); err != nil {
				return err // retrying cannot help: the ACLs must change
			}
			a.log.Warn("fetch error", "topic", fe.Topic, "partition", fe.Partition, "err", fe.Err)
		}
		err := a.processBatch(fetches)
		if !a.proto.Open() {
			// Under exactly-once a rebalance happens only between
			// commits: never with a transaction open.
			a.cl.AllowRebalance()
		}
		if err != nil {
			return err
		}
	}
}

// pollTimeout wakes the loop for wall-clock punctuators and commits.
func (a *App) pollTimeout() time.Duration {
	d := a.cfg.CommitInterval
	if d > time.Second || d <= 0 {
		d = time.Second
	}
	a.mu.Lock()
	now := time.Now()
	for _, t := range a.tasks {
		if next, ok := t.NextWallClock(); ok {
			if w := next.Sub(now); w < d {
				d = w
			}
		}
	}
	a.mu.Unlock()
	if next, ok := a.idle.nextDeadline(now); ok {
		// A task waiting for an empty input decides again then.
		d = min(d, next.Sub(now))
	}
	return max(d, time.Millisecond)
}

func (a *App) processBatch(fetches kgo.Fetches) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fatal != nil {
		return a.fatal
	}
	if a.revoked {
		// A revocation marks the transaction session failed, so that its
		// next End aborts, even with no transaction open: end the empty
		// one now. It rewinds the consumer to the committed offsets (no
		// transaction is open, so that is where processing stands): this
		// batch is fetched again.
		a.revoked = false
		if !a.proto.Open() {
			ctx, cancel := a.commitContext()
			err := a.proto.Revoked(ctx)
			cancel()
			// The records queued and not processed yet are fetched again.
			a.dropQueued()
			a.holdGen, a.holdUntil = a.revokedGen, time.Now().Add(holdAfterRevoke)
			return err
		}
	}
	if a.holdGen >= 0 {
		if _, gen := a.cl.GroupMetadata(); gen > a.holdGen {
			a.holdGen = -1
		} else if time.Now().After(a.holdUntil) {
			a.log.Warn("no new group generation after a revocation: processing again", "generation", gen, "waited", holdAfterRevoke)
			a.holdGen = -1
		}
	}
	if err := a.activateRestored(); err != nil {
		return err
	}
	a.observeLag(fetches)
	eos := a.proto.Transactional()
	hold := eos && (a.rebalancing || a.holdGen >= 0) && !a.proto.Open()
	var routeErr error
	fetches.EachRecord(func(r *kgo.Record) {
		id := processor.TaskID{Subtopology: a.topicSub[r.Topic], Partition: r.Partition}
		t, ok := a.tasks[id]
		if !ok {
			if _, restoring := a.restoring[id]; restoring {
				// Polled before its partitions were paused.
				a.early[id] = append(a.early[id], r)
				return
			}
			routeErr = fmt.Errorf("samsa: record for unassigned task %s (topic %q partition %d)", id, r.Topic, r.Partition)
			return
		}
		t.Add(r)
	})
	if routeErr != nil {
		return routeErr
	}
	if hold {
		// Queued in their tasks; processed once the rebalance is over.
		return nil
	}
	if err := a.updateGlobals(); err != nil {
		return err
	}
	if err := a.proto.Begin(); err != nil {
		return err
	}
	a.syncStandbys()
	commitNow := false
	var buffered int64
	for _, t := range a.tasks {
		n := t.Process(int(^uint(0) >> 1))
		a.procRecs.Add(int64(n))
		if tm := a.taskMetrics[t.ID]; tm != nil {
			tm.Processed(n)
			if n > 0 {
				tm.Times(t.StreamTime(), t.Watermark())
			}
		}
		t.PunctuateWallClock()
		if err := t.Err(); err != nil {
			return err
		}
		if t.CommitRequested() {
			commitNow = true
		}
		buffered += pendingBytes(t)
	}
	a.lookupIdle()
	if err := a.out.err(); err != nil {
		return err
	}
	if a.rebalanceWaiting.Swap(false) {
		commitNow = true
	}
	if buffered > a.cfg.MaxUncommittedBytes {
		a.log.Debug("committing early: write buffers are full", "buffered_bytes", buffered, "max_uncommitted_bytes", a.cfg.MaxUncommittedBytes)
		commitNow = true
	}
	if a.rebalancing && !commitNow && !eos {
		// At-least-once commits wait for the end of the rebalance,
		// unless it waits for one (then this one precedes the join).
		// Under exactly-once an open transaction is always ended on
		// time: the loop allows a rebalance only with none open.
		return nil
	}
	if commitNow || time.Since(a.lastCmt) >= a.cfg.CommitInterval {
		if err := a.commitLocked(); err != nil {
			return err
		}
		a.lastGood = time.Now()
	}
	return nil
}

// observeLag sets the consumer lag of every input partition in the
// fetches: from the end of the partition (the last stable offset, as the
// group reads committed records; the high watermark when the broker gives
// none) to the offset after the last record fetched. A partition fetched
// with no record is caught up. It also tells MaxTaskIdle the partitions'
// end offsets and positions. a.mu must be held.
func (a *App) observeLag(fetches kgo.Fetches) {
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if p.Err != nil {
			return
		}
		if _, ok := a.topicSub[p.Topic]; !ok {
			return
		}
		end := p.LastStableOffset
		if end < 0 {
			end = p.HighWatermark
		}
		a.idle.fetched(p.Topic, p.Partition, end, p.Records)
		var lag int64
		if n := len(p.Records); n > 0 {
			lag = end - (p.Records[n-1].Offset + 1)
		}
		a.metrics.Lag(p.Topic, p.Partition, lag)
	})
}

// dropQueued forgets the records polled and not processed, in the tasks
// and for the tasks that restore, after the consumer was rewound to the
// committed offsets: they are fetched again. It also drops what the stores
// buffered since the last commit. a.mu must be held.
func (a *App) dropQueued() {
	for _, t := range a.tasks {
		t.Abort()
	}
	clear(a.early)
	a.idle.rewind()
}

// rewindUnprocessed moves the consumer back to the first record polled and
// not processed of every input partition that has one, and drops those
// records: they are fetched again. A transaction commits the consumer's
// position (franz-go's GroupTransactSession commits every offset polled),
// so without this a record held by MaxTaskIdle's input gate, or polled for
// a task still restoring, would be committed past while unprocessed, and
// lost at the next crash or rebalance. a.mu must be held.
func (a *App) rewindUnprocessed() {
	to := map[string]map[int32]kgo.EpochOffset{}
	back := func(topic string, partition int32, eo kgo.EpochOffset) {
		if to[topic] == nil {
			to[topic] = map[int32]kgo.EpochOffset{}
		}
		if cur, ok := to[topic][partition]; !ok || eo.Offset < cur.Offset {
			to[topic][partition] = eo
		}
	}
	for _, t := range a.tasks {
		for topic, eo := range t.Unprocessed() {
			back(topic, t.ID.Partition, eo)
		}
		t.DropUnprocessed()
	}
	for _, recs := range a.early {
		for _, r := range recs {
			back(r.Topic, r.Partition, kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset})
		}
	}
	clear(a.early)
	if len(to) == 0 {
		return
	}
	a.cl.SetOffsets(to)
	for topic, ps := range to {
		for p, eo := range ps {
			a.idle.rewound(topicPartition{topic, p}, eo.Offset)
		}
	}
	a.log.Debug("commit: records polled and not processed are fetched again", "partitions", to)
}

// commitStores applies the write buffers of every task's stores in one
// synced batch (one fsync per commit, not one per store) and marks the
// tasks committed. a.mu must be held.
func (a *App) commitStores() error {
	var stores []*changelog.Store
	for _, t := range a.tasks {
		for _, rs := range t.RawStores() {
			cs, ok := rs.(*changelog.Store)
			if !ok {
				if err := rs.Flush(); err != nil {
					return fmt.Errorf("task %s: flush store %q: %w", t.ID, rs.Name(), err)
				}
				continue
			}
			if cs.Dirty() {
				stores = append(stores, cs)
			}
		}
	}
	if len(stores) > 0 {
		if err := a.stateEngine.CommitAll(stores...); err != nil {
			names := make([]string, len(stores))
			for i, cs := range stores {
				names[i] = cs.Name()
			}
			return fmt.Errorf("samsa: %s: commit local state of stores %s in %s: %w", a.proto.Name(), strings.Join(names, ", "), a.cfg.StateDir, err)
		}
	}
	for _, t := range a.tasks {
		t.MarkOffsetsCommitted()
	}
	return nil
}

// pendingBytes is what a task's stores hold in their write buffers.
func pendingBytes(t *engine.Task) int64 {
	var n int64
	for _, s := range t.RawStores() {
		if p, ok := s.(interface{ PendingBytes() int }); ok {
			n += int64(p.PendingBytes())
		}
	}
	return n
}

// activateRestored moves the tasks the state updater restored to
// processing, with their partitions resumed. a.mu must be held.
func (a *App) activateRestored() error {
	ts, err := a.updater.take()
	for _, t := range ts {
		delete(a.restoring, t.ID)
		a.restoringN.Store(int32(len(a.restoring)))
		a.tasks[t.ID] = t
		t.SetInputGate(a.idleGate(t))
		a.idle.watch(t)
		for _, r := range a.early[t.ID] {
			a.idle.received(r, !r.Attrs.IsControl())
			t.Add(r)
		}
		delete(a.early, t.ID)
		a.delayFetchForTest(t)
		a.cl.ResumeFetchPartitions(a.taskPartitions(t.ID))
		a.log.Info("task restored: processing", "task", t.ID.String())
	}
	if err != nil {
		return err
	}
	if len(ts) > 0 && len(a.restoring) == 0 {
		a.setRunningState(StateRunning)
	}
	return nil
}

// taskPartitions returns the input partitions of a task.
func (a *App) taskPartitions(id processor.TaskID) map[string][]int32 {
	m := map[string][]int32{}
	for _, topic := range a.subs[id.Subtopology].SourceTopics {
		m[topic] = []int32{id.Partition}
	}
	return m
}

// commitContext bounds a commit: commitTimeout, or CloseTimeout after Run's
// context ended. A commit does not depend on the context of Run (work
// processed before a shutdown must still be committed), but a shutdown
// must not wait for an unreachable cluster for long.
func (a *App) commitContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	if a.runCtx == nil {
		return ctx, cancel
	}
	closeTimeout := a.cfg.CloseTimeout
	stop := context.AfterFunc(a.runCtx, func() {
		t := time.AfterFunc(closeTimeout*3/4, cancel)
		context.AfterFunc(ctx, func() { t.Stop() })
	})
	return ctx, func() { stop(); cancel() }
}

// commitTimeout bounds one commit. A commit does not depend on the context
// of Run: work processed before a shutdown must still be committed.
const commitTimeout = time.Minute

// commitLocked commits every task's progress. a.mu must be held.
func (a *App) commitLocked() error {
	began := time.Now()
	ctx, cancel := a.commitContext()
	defer cancel()
	// The record caches write and forward what they hold first: their
	// records belong to this commit (and its transaction).
	for _, t := range a.tasks {
		if err := t.FlushCaches(); err != nil {
			return err
		}
	}
	offsets := exactlyonce.Offsets{}
	for _, t := range a.tasks {
		for topic, eo := range t.Offsets() {
			if offsets[topic] == nil {
				offsets[topic] = map[int32]kgo.EpochOffset{}
			}
			offsets[topic][t.ID.Partition] = eo
		}
	}
	if a.proto.Transactional() {
		a.rewindUnprocessed()
	}
	// Every produce error of the batch is known and decided before any
	// offset is committed.
	if rolledBack, err := a.settleProduction(ctx, offsets); err != nil || rolledBack {
		return err
	}
	if err := a.out.err(); err != nil {
		return err
	}
	// Local state is applied only once Kafka committed the work.
	apply := func() error {
		a.out.committed()
		return a.commitStores()
	}
	if err := a.proto.Commit(ctx, offsets, apply); err != nil {
		if errors.Is(err, exactlyonce.ErrAborted) {
			// Rolled back: drop the stores' buffers and process the
			// records again from the committed offsets.
			a.log.Warn("transaction aborted: processing again from the committed offsets")
			a.rollbackTasks()
			return nil
		}
		return err
	}
	a.lastCmt = time.Now()
	a.metrics.Commit(a.lastCmt.Sub(began))
	a.measureStores()
	if a.cfg.StandbyReplicas > 0 {
		a.updateActivePositions()
	}
	// Kafka committed the offsets: the repartition records below them
	// are not needed any more.
	a.noteCommitted(offsets)
	a.purgeCommitted()
	if len(offsets) > 0 {
		a.log.Debug("committed", "guarantee", a.proto.Name(), "partitions", len(offsets))
	}
	return nil
}

func (a *App) onAssigned(_ context.Context, cl *kgo.Client, assigned map[string][]int32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.metrics.Rebalance()
	for topic, ps := range assigned {
		sub, ok := a.topicSub[topic]
		if !ok {
			continue
		}
		for _, p := range ps {
			id := processor.TaskID{Subtopology: sub, Partition: p}
			if _, ok := a.tasks[id]; ok {
				continue
			}
			if _, ok := a.restoring[id]; ok {
				continue
			}
			a.standbyMu.Lock()
			if _, standby := a.standbys[id]; standby {
				a.closeStandby(id) // the active task takes over its warm stores
			}
			a.standbyMu.Unlock()
			tm := a.metrics.Task(id.String())
			t, err := engine.NewTask(a.g, a.subs[sub], p, engine.TaskConfig{
				AppID: a.cfg.ApplicationID, Output: a.out, Stores: a.stores,
				OnError: a.onError, OnHandled: a.onHandled, DeadLetterTopic: a.cfg.DeadLetterTopic, Poisoned: a.out.poisoned,
				ProcessLatency: tm.ProcessLatency, PunctuateLatency: tm.PunctuateLatency, OnDrop: tm.Dropped,
				Globals: a.globals.stores(), Cache: a.cache,
			})
			if err != nil {
				tm.Close()
				a.setFatal(err)
				return
			}
			a.taskMetrics[id] = tm
			// The task processes once the state updater restored it;
			// until then its partitions are not fetched.
			cl.PauseFetchPartitions(a.taskPartitions(id))
			a.restoring[id] = t
			a.restoringN.Store(int32(len(a.restoring)))
			a.updater.add(a.runCtx, t)
			a.log.Info("task assigned: restoring", "task", id.String())
		}
	}
	a.rebalancing = false
	if len(a.restoring) == 0 {
		a.setRunningState(StateRunning)
	}
}

// setRunningState moves between RUNNING and REBALANCING, but never out of
// shutdown or error.
func (a *App) setRunningState(s State) {
	switch a.State() {
	case StatePendingShutdown, StateNotRunning, StateError:
		return
	}
	a.setState(s)
}

func (a *App) setFatal(err error) {
	if a.fatal == nil {
		a.fatal = err
	}
}

// revokedTasks returns the tasks that own any of the partitions.
func (a *App) revokedTasks(parts map[string][]int32) []*engine.Task {
	var out []*engine.Task
	seen := map[processor.TaskID]bool{}
	for topic, ps := range parts {
		sub, ok := a.topicSub[topic]
		if !ok {
			continue
		}
		for _, p := range ps {
			id := processor.TaskID{Subtopology: sub, Partition: p}
			if seen[id] {
				continue
			}
			if t, ok := a.tasks[id]; ok {
				seen[id] = true
				out = append(out, t)
			} else if t, ok := a.restoring[id]; ok {
				seen[id] = true
				out = append(out, t)
			}
		}
	}
	return out
}

// onRevoked commits before the partitions are released, then closes the
// tasks that lost them. It runs while the poll loop is blocked.
func (a *App) onRevoked(_ context.Context, cl *kgo.Client, revoked map[string][]int32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.setRunningState(StateRebalancing)
	a.rebalancing = true
	if a.proto.Transactional() {
		// Never end a transaction inside a group callback (franz-go
		// deadlocks); the loop commits before it allows a rebalance, so no
		// transaction is open here. The loop ends the empty one next.
		// (An empty revocation does not mark the cooperative session.)
		if len(revoked) > 0 {
			a.revoked = true
			_, a.revokedGen = cl.GroupMetadata()
		}
		a.closeTasks(cl, a.revokedTasks(revoked), "revoked")
		return
	}
	if a.fatal == nil && a.proto != nil {
		if err := a.commitLocked(); err != nil {
			a.log.Error("commit before revocation failed", "err", err)
			a.setFatal(err)
		}
	}
	a.closeTasks(cl, a.revokedTasks(revoked), "revoked")
}

// onLost closes the tasks without committing: another member owns them now.
func (a *App) onLost(_ context.Context, cl *kgo.Client, lost map[string][]int32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.setRunningState(StateRebalancing)
	a.rebalancing = true
	if a.proto.Transactional() {
		a.revoked = true
	}
	a.closeTasks(cl, a.revokedTasks(lost), "lost")
}

func (a *App) closeTasks(cl *kgo.Client, ts []*engine.Task, why string) {
	for _, t := range ts {
		if _, ok := a.restoring[t.ID]; ok {
			// Take it back from the state updater (its restore stops
			// at once), and let its partitions be fetched again when
			// they come back.
			a.updater.cancel(t.ID)
			delete(a.restoring, t.ID)
			a.restoringN.Store(int32(len(a.restoring)))
			delete(a.early, t.ID)
			if cl != nil {
				cl.ResumeFetchPartitions(a.taskPartitions(t.ID))
			}
		}
		if err := t.Close(); err != nil {
			a.log.Warn("close task", "task", t.ID.String(), "err", err)
		}
		delete(a.tasks, t.ID)
		a.idle.forget(t)
		if tm := a.taskMetrics[t.ID]; tm != nil {
			tm.Close()
			delete(a.taskMetrics, t.ID)
		}
		for topic, ps := range a.taskPartitions(t.ID) {
			a.metrics.ForgetLag(topic, ps)
		}
		a.log.Info("task closed", "task", t.ID.String(), "why", why)
	}
}

// shutdown commits what was processed (when clean), closes the tasks and
// leaves the group.
func (a *App) shutdown(runErr error) error {
	var err error
	a.mu.Lock()
	if runErr != nil {
		a.setFatal(runErr) // no commit in the revoke callback either
		if a.proto != nil && a.proto.Transactional() {
			ctx, cancel := a.commitContext()
			if err := a.proto.Abort(ctx, nil); err != nil {
				a.log.Warn("abort on shutdown", "err", err)
			}
			cancel()
		}
	}
	if a.fatal == nil {
		err = a.commitLocked()
		if err != nil && memberGone(err) {
			// Another member owns the partitions now and processes
			// the uncommitted records again: nothing is lost.
			a.log.Warn("final commit rejected: the group moved on without this member", "err", err)
			err = nil
		}
	}
	var all []*engine.Task
	for _, t := range a.tasks {
		all = append(all, t)
	}
	for _, t := range a.restoring {
		all = append(all, t)
	}
	a.closeTasks(a.cl, all, "shutdown")
	a.closeStandbys()
	a.mu.Unlock()
	a.closeClients()
	if a.out != nil {
		a.out.close()
	}
	return err
}

// measureStores sets the store size gauges, at most every 10 s, after a
// commit (Pebble's estimate from its file metadata: no scan).
func (a *App) measureStores() {
	if time.Since(a.storesMeasured) < 10*time.Second {
		return
	}
	measured := false
	for id, t := range a.tasks {
		tm := a.taskMetrics[id]
		if tm == nil {
			continue
		}
		for _, rs := range t.RawStores() {
			if cs, ok := rs.(*changelog.Store); ok {
				if n, err := cs.DiskBytes(); err == nil {
					tm.StoreBytes(cs.Name(), n)
					measured = true
				}
			}
		}
	}
	if measured {
		// A commit before any task runs (at startup, tasks still
		// restoring) does not put the first measurement off by 10 s.
		a.storesMeasured = time.Now()
	}
}

// noteCommitted records the offsets of a commit Kafka confirmed. a.mu must
// be held.
func (a *App) noteCommitted(offsets exactlyonce.Offsets) {
	if a.committedOffs == nil {
		a.committedOffs = map[string]map[int32]int64{}
	}
	for topic, ps := range offsets {
		if a.committedOffs[topic] == nil {
			a.committedOffs[topic] = map[int32]int64{}
		}
		for p, eo := range ps {
			a.committedOffs[topic][p] = max(a.committedOffs[topic][p], eo.Offset)
		}
	}
}
