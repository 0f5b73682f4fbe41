package samsa

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/samsa-streams/samsa/internal/engine"
	"github.com/samsa-streams/samsa/internal/runtime"
	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/topology"
)

// ErrMissingTopic is wrapped when a topic the topology reads or writes does not exist.
var ErrMissingTopic = errors.New("samsa: missing topic")

// ErrCopartition is wrapped when co-partitioned topics have different partition counts.
var ErrCopartition = errors.New("samsa: co-partitioned topics differ in partition count")

// ErrClosed is returned by Run on an App that already ran.
var ErrClosed = errors.New("samsa: app already ran")

// ErrInternalTopic is wrapped when a changelog or repartition topic is
// missing or misconfigured.
var ErrInternalTopic = errors.New("samsa: internal topic")

// App runs a topology as one member of the consumer group named by the
// application id. Start more instances with the same id to scale out.
type App struct {
	r    *runtime.App
	plan *engine.Plan
	sec  security // to explain a refused connection; no password
}

// New validates the topology and the configuration and returns an App. It
// does not contact the brokers: Run does.
func New(top *topology.Topology, cfg Config) (*App, error) {
	rc := cfg.runtime()
	var errs []error
	for _, err := range rc.FillDefaults() {
		errs = append(errs, translate(err))
	}
	if errs = append(errs, cfg.check()...); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if top == nil {
		return nil, fmt.Errorf("%w: topology is nil", ErrConfig)
	}
	compiled, err := top.Compile(rc.ApplicationID)
	if err != nil {
		return nil, err
	}
	plan := compiled.(*engine.Plan)
	if rc.HTTPAddr != "" {
		d, err := top.Describe()
		if err != nil {
			return nil, err
		}
		rc.Topology = d.String()
	}
	return &App{r: runtime.New(plan, rc), plan: plan, sec: cfg.security()}, nil
}

// runtime translates the configuration for the runtime, which validates
// it and fills in the defaults (FillDefaults).
func (c Config) runtime() runtime.Config {
	rc := runtime.Config{
		ApplicationID: c.ApplicationID, InstanceID: c.InstanceID, Bootstrap: c.Bootstrap,
		ExactlyOnce: c.Guarantee == ExactlyOnce, CommitInterval: c.CommitInterval,
		StateDir: c.StateDir, InMemoryState: c.InMemoryState, StateCacheSize: c.StateCacheSize, MemTableSize: c.MemTableSize,
		ReplicationFactor: c.ReplicationFactor, StandbyReplicas: c.StandbyReplicas,
		MaxPollRecords: c.MaxPollRecords, Logger: c.Logger, ClientOptions: c.ClientOptions,
		Errors: runtime.Policies{
			Deserialization: c.Errors.Deserialization.decide(),
			Processing:      c.Errors.Processing.decide(),
			Production:      c.Errors.Production.decide(),
		},
		DeadLetterTopic:    c.DeadLetterTopic,
		TransactionTimeout: c.TransactionTimeout, StartupTimeout: c.StartupTimeout,
		TaskTimeout: c.TaskTimeout, CloseTimeout: c.CloseTimeout, MaxUncommittedBytes: c.MaxUncommittedBytes, CacheMaxBytes: c.CacheMaxBytes,
		SessionTimeout: c.SessionTimeout, HeartbeatInterval: c.HeartbeatInterval, RebalanceTimeout: c.RebalanceTimeout,
		GroupInstanceID: c.GroupInstanceID, FetchMaxBytes: c.FetchMaxBytes, FetchMaxPartitionBytes: c.FetchMaxPartitionBytes,
		RepartitionPurgeInterval: c.RepartitionPurgeInterval,
		MaxTaskIdle:              c.MaxTaskIdle,
		InternalTopicConfigs:     maps.Clone(c.InternalTopicConfigs),
		MetricsRegisterer:        c.MetricsRegisterer, HTTPAddr: c.HTTPAddr,
		TLS:  c.TLS.Clone(),
		SASL: c.SASL.mechanism(),
	}
	if l := c.RestoreListener; l != nil {
		rc.RestoreListener = func(p runtime.RestoreProgress) { l(RestoreProgress(p)) }
	}
	if l := c.StateListener; l != nil {
		rc.StateListener = func(old, new runtime.State) { l(State(old), State(new)) }
	}
	return rc
}

// Run joins the group and processes until ctx is cancelled (a graceful
// shutdown that commits what was processed, returning nil) or a fatal error
// occurs (returned). Run can be called once.
func (a *App) Run(ctx context.Context) error { return a.sec.explain(translate(a.r.Run(ctx))) }

// Close stops a running App gracefully, committing what was processed, and
// waits for Run to return.
func (a *App) Close() error { return translate(a.r.Close()) }

// State returns the current state.
func (a *App) State() State { return State(a.r.State()) }

// HTTPAddr returns the address the HTTP server (Config.HTTPAddr) listens
// on, with the port it chose when the configured one was 0. It is "" until
// Run has started the server, after Run returned, and without
// Config.HTTPAddr.
func (a *App) HTTPAddr() string { return a.r.HTTPAddr() }

// Metrics returns the App's own Prometheus registry, which /metrics
// serves: samsa's metrics (see README, Observability), the Go runtime's
// and the process'. It is there whether or not Config.HTTPAddr is set.
func (a *App) Metrics() prometheus.Gatherer { return a.r.Metrics() }

// Skipped returns the number of records the error policies skipped.
func (a *App) Skipped() int64 { return a.r.Skipped() }

// DeadLettered returns the number of records sent to the dead-letter topic.
func (a *App) DeadLettered() int64 { return a.r.DeadLettered() }

// ActiveTasks returns the tasks this instance processes now, in order;
// tasks still restoring are not among them.
func (a *App) ActiveTasks() []processor.TaskID { return a.r.ActiveTasks() }

// Restored returns the number of changelog records this instance restored,
// the records read into global tables at startup included.
func (a *App) Restored() int64 { return a.r.Restored() }

// Processed returns the number of input records processed by this instance.
func (a *App) Processed() int64 { return a.r.Processed() }

// RestoreProgress reports the restore of one store of one task.
type RestoreProgress struct {
	Task  processor.TaskID
	Store string
	Topic string
	// Done counts the changelog records applied to the store so far
	// (transaction markers and compacted-away offsets are not records);
	// ToGo the offsets left to the last stable offset listed when the
	// restore started (0 once past it).
	Done, ToGo int64
	// Rate is records applied per second so far; ETA the time left at
	// the rate offsets were read so far.
	Rate float64
	ETA  time.Duration
	// Finished is true on the last report of a store.
	Finished bool
}

// StandbyFailure describes a standby task's changelog partition whose
// fetches fail: the standby falls behind until it recovers.
type StandbyFailure struct {
	Task      processor.TaskID
	Topic     string
	Partition int32
	// Err is the last error; Count the failed fetches since the first,
	// at Since; Last the time of the last one.
	Err         error
	Count       int
	Since, Last time.Time
}

// FailingStandbys returns the standby tasks' changelog partitions whose
// fetches failed and have delivered no records since, sorted by task and
// topic. A failure is cleared when its partition delivers records again;
// one that is caught up and delivers none stays listed, with the time of
// its last failure.
func (a *App) FailingStandbys() []StandbyFailure {
	fs := a.r.FailingStandbys()
	out := make([]StandbyFailure, len(fs))
	for i, f := range fs {
		out[i] = StandbyFailure(f)
	}
	return out
}

// sentinels pairs the runtime's errors with the ones this package exports.
var sentinels = [...][2]error{
	{runtime.ErrConfig, ErrConfig},
	{runtime.ErrProduction, ErrProduction},
	{runtime.ErrMissingTopic, ErrMissingTopic},
	{runtime.ErrCopartition, ErrCopartition},
	{runtime.ErrClosed, ErrClosed},
	{runtime.ErrInternalTopic, ErrInternalTopic},
}

// translate makes errors.Is(err, samsa.ErrX) hold for the runtime's ErrX,
// keeping the error's text and chain.
func translate(err error) error {
	if err == nil {
		return nil
	}
	chain := []error{err}
	for _, s := range sentinels {
		if errors.Is(err, s[0]) {
			chain = append(chain, s[1])
		}
	}
	if len(chain) == 1 {
		return err
	}
	return &exported{chain: chain}
}

// exported is a runtime error that also matches its samsa sentinels.
type exported struct {
	chain []error // the runtime's error, then the sentinels it matches
}

func (e *exported) Error() string   { return e.chain[0].Error() }
func (e *exported) Unwrap() []error { return e.chain }
