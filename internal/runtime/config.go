package runtime

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"

	"github.com/samsa-streams/samsa/internal/engine"
)

// Config configures an App. Package samsa validates the user's
// configuration, fills in its defaults and translates it into this one;
// the runtime takes every field as given. Field meanings are those of
// samsa.Config.
type Config struct {
	ApplicationID string
	InstanceID    string
	Bootstrap     []string
	// ExactlyOnce selects exactly-once v2; at-least-once otherwise.
	ExactlyOnce         bool
	CommitInterval      time.Duration
	StateDir            string
	InMemoryState       bool
	StateCacheSize      int64
	MemTableSize        uint64
	ReplicationFactor   int16
	StandbyReplicas     int
	RestoreListener     func(RestoreProgress)
	MaxPollRecords      int
	Logger              *slog.Logger
	StateListener       func(old, new State)
	ClientOptions       []kgo.Opt
	Errors              Policies
	DeadLetterTopic     string
	TransactionTimeout  time.Duration
	StartupTimeout      time.Duration
	TaskTimeout         time.Duration
	CloseTimeout        time.Duration
	MaxUncommittedBytes int64
	// CacheMaxBytes is the record cache budget of the instance, shared by
	// the cached stores (key-value and time-window aggregations) of its
	// tasks; negative: caching off.
	CacheMaxBytes int64
	// The group client's timeouts, static membership (GroupInstanceID
	// empty: dynamic) and fetch bounds, as Kafka's consumer settings.
	SessionTimeout         time.Duration
	HeartbeatInterval      time.Duration
	RebalanceTimeout       time.Duration
	GroupInstanceID        string
	FetchMaxBytes          int32
	FetchMaxPartitionBytes int32

	// MaxTaskIdle is how long a task with several input partitions waits
	// for an empty, caught-up one before processing the others; negative:
	// never waits (idle.go).
	MaxTaskIdle time.Duration

	// RepartitionPurgeInterval is the least time between two purges of
	// committed repartition records (zero: after every commit).
	RepartitionPurgeInterval time.Duration

	// InternalTopicConfigs are applied to every changelog and repartition
	// topic the App creates, after its own configs (validated: no
	// cleanup.policy, retention.ms or retention.bytes).
	InternalTopicConfigs map[string]string

	// MetricsRegisterer, if set, also receives the App's metrics while
	// Run runs (they are always on the App's own registry, which /metrics
	// serves).
	MetricsRegisterer prometheus.Registerer
	// HTTPAddr, if set, is where Run serves /metrics, /healthz, /readyz
	// and /topology; Topology is the text /topology returns.
	HTTPAddr string
	Topology string
	// TLS, when not nil, encrypts the connections to the brokers; SASL,
	// when not nil, authenticates them. Every client the App makes uses
	// both (clientOpts).
	TLS  *tls.Config
	SASL sasl.Mechanism
}

// Policies is the decision for each kind of failure.
type Policies struct {
	Deserialization, Processing, Production engine.Decision
}

// decide returns the decision for a kind of failure.
func (p Policies) decide(kind engine.ErrorKind) engine.Decision {
	switch kind {
	case engine.ErrorDeserialization:
		return p.Deserialization
	case engine.ErrorProcessing:
		return p.Processing
	case engine.ErrorProduction:
		return p.Production
	}
	return engine.Fail
}

// State is the lifecycle state of an App; samsa.State has the same values.
type State int32

// App states, in the order of samsa's.
const (
	StateCreated State = iota
	StateRebalancing
	StateRunning
	StatePendingShutdown
	StateNotRunning
	StateError
)

// Errors the App wraps; package samsa exposes each under its own name.
var (
	// ErrConfig is wrapped by a configuration error found at run time.
	ErrConfig = errors.New("samsa: invalid configuration")
	// ErrProduction is wrapped by the error of a record the broker
	// rejected that the policy cannot take.
	ErrProduction = errors.New("samsa: the broker rejected a record")
	// ErrMissingTopic is wrapped when a topic the topology reads or
	// writes does not exist.
	ErrMissingTopic = errors.New("samsa: missing topic")
	// ErrCopartition is wrapped when co-partitioned topics have different
	// partition counts.
	ErrCopartition = errors.New("samsa: co-partitioned topics differ in partition count")
	// ErrClosed is returned by Run on an App that already ran.
	ErrClosed = errors.New("samsa: app already ran")
	// ErrInternalTopic is wrapped when a changelog or repartition topic is
	// missing or misconfigured.
	ErrInternalTopic = errors.New("samsa: internal topic")
)
