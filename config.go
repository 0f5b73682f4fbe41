// Package samsa runs Kafka Streams-style topologies in Go: an App consumes
// Kafka topics as one consumer group, runs the topology's tasks, writes
// Kafka topics and commits under at-least-once or exactly-once.
//
// Build the graph with package topology, then:
//
//	app, err := samsa.New(top, samsa.Config{ApplicationID: "enricher", Bootstrap: []string{"127.0.0.1:9092"}})
//	if err != nil { ... }
//	err = app.Run(ctx) // until ctx is cancelled or a fatal error
package samsa

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa/exactlyonce"
)

// Guarantee is the processing guarantee.
type Guarantee int

const (
	// AtLeastOnce loses nothing; after a crash some outputs repeat.
	AtLeastOnce Guarantee = iota
	// ExactlyOnce commits outputs, state and offsets in one Kafka transaction.
	ExactlyOnce
)

// String returns the guarantee's name as Kafka Streams spells it.
func (g Guarantee) String() string {
	switch g {
	case AtLeastOnce:
		return exactlyonce.NameAtLeastOnce
	case ExactlyOnce:
		return exactlyonce.NameExactlyOnce
	}
	return fmt.Sprintf("Guarantee(%d)", int(g))
}

// Config configures an App. ApplicationID and Bootstrap are required.
type Config struct {
	// ApplicationID names the consumer group, prefixes internal topics and
	// the transactional id. Same id, same application: instances with the
	// same id share the work.
	ApplicationID string
	// Bootstrap lists the seed brokers, host:port.
	Bootstrap []string
	// Guarantee is at-least-once (default) or exactly-once.
	Guarantee Guarantee
	// CommitInterval is how often progress is committed: default 30s under
	// at-least-once, 100ms under exactly-once.
	CommitInterval time.Duration
	// StateDir is where this instance keeps local state (one Pebble
	// database for all its tasks); default os.TempDir()/samsa/<ApplicationID>.
	// Instances on one machine need one directory each.
	StateDir string
	// InMemoryState keeps stores in memory instead of Pebble: state is
	// restored from the changelogs at every start.
	InMemoryState bool
	// StateCacheSize is the block cache shared by all stores of the
	// instance; default 64 MiB. MemTableSize is the instance's memtable
	// size; default 16 MiB. Memory does not grow with tasks or stores.
	StateCacheSize int64
	MemTableSize   uint64
	// ReplicationFactor of the internal topics samsa creates; default
	// min(3, number of brokers).
	ReplicationFactor int16
	// StandbyReplicas keeps this many warm copies of each task's state on
	// other instances, by tailing the changelogs; a failed task moves to
	// the most caught-up copy, which restores only the tail. Default 0.
	StandbyReplicas int
	// RestoreListener receives restore progress (records done and to go,
	// rate, ETA) of each store: when its restore starts, after every
	// batch applied and at the end (Finished), as Kafka Streams'
	// StateRestoreListener. It runs on the state updater goroutine: a
	// slow listener slows the restore, never processing.
	RestoreListener func(RestoreProgress)
	// MaxPollRecords bounds the records fetched per poll; default 10,000.
	MaxPollRecords int
	// Logger receives the app's logs; default slog.Default().
	Logger *slog.Logger
	// StateListener is called on every state change.
	StateListener func(old, new State)
	// ClientOptions are passed through to franz-go after samsa's own, so
	// they win (TLS, SASL, client id, timeouts…). Do not override the
	// group, balancer, isolation level or commit options: samsa's
	// guarantees depend on them.
	ClientOptions []kgo.Opt
	// Errors chooses what a failing record does: fail (default), skip or
	// dead-letter, per kind of failure.
	Errors ErrorPolicies
	// DeadLetterTopic receives dead-lettered records; required when a
	// policy is DeadLetter, and it must exist.
	DeadLetterTopic string
	// InstanceID names this instance in the transactional id
	// (<ApplicationID>-<InstanceID>) under exactly-once; default a random
	// id per Run. Zombies are fenced by the group metadata (KIP-447)
	// either way.
	InstanceID string
	// TransactionTimeout is the broker-side timeout of a transaction under
	// exactly-once; default 10s, as Kafka Streams.
	TransactionTimeout time.Duration
	// StartupTimeout bounds the metadata checks at startup once the
	// cluster answers; default 30s.
	StartupTimeout time.Duration
	// TaskTimeout bounds how long the app keeps going without progress
	// while Kafka is unreachable or keeps failing, as Kafka Streams'
	// task.timeout.ms: startup waits for the cluster, and failed commits
	// and unknown transaction outcomes are recovered in place, with
	// backoff, until no commit has succeeded for this long; then Run
	// returns an error that says so. Default 5m.
	TaskTimeout time.Duration
	// CloseTimeout bounds a graceful shutdown (Close, or ctx cancelled):
	// the final commit and leaving the group. What could not be committed
	// in time is processed again by the next owner. Default 10s.
	CloseTimeout time.Duration
	// MaxUncommittedBytes bounds the stores' write buffers of the
	// instance between commits: when the bytes buffered by all its tasks
	// pass it, the app commits early (Kafka Streams bounds its record
	// cache the same way, statestore.cache.max.bytes). Default 64 MiB.
	MaxUncommittedBytes int64
	// RepartitionPurgeInterval is how often, at most, the records of the
	// repartition topics that the group committed are deleted (DeleteRecords
	// after a commit), as Kafka Streams' repartition.purge.interval.ms:
	// repartition topics keep every record until it is purged (samsa
	// creates them with retention.ms=-1), never longer. Default 30s.
	RepartitionPurgeInterval time.Duration
}

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("samsa: invalid configuration")

func (c *Config) withDefaults() (Config, error) {
	out := *c
	if out.ApplicationID == "" {
		return out, fmt.Errorf("%w: field ApplicationID is empty", ErrConfig)
	}
	if len(out.Bootstrap) == 0 {
		return out, fmt.Errorf("%w: field Bootstrap is empty", ErrConfig)
	}
	switch out.Guarantee {
	case AtLeastOnce:
		if out.CommitInterval == 0 {
			out.CommitInterval = 30 * time.Second
		}
	case ExactlyOnce:
		if out.CommitInterval == 0 {
			out.CommitInterval = 100 * time.Millisecond
		}
	default:
		return out, fmt.Errorf("%w: field Guarantee has unknown value %d", ErrConfig, int(out.Guarantee))
	}
	if out.CommitInterval < 0 {
		return out, fmt.Errorf("%w: field CommitInterval is negative (%s)", ErrConfig, out.CommitInterval)
	}
	if out.MaxPollRecords == 0 {
		out.MaxPollRecords = 10000
	}
	if out.MaxPollRecords < 0 {
		return out, fmt.Errorf("%w: field MaxPollRecords is negative (%d)", ErrConfig, out.MaxPollRecords)
	}
	if out.Logger == nil {
		out.Logger = slog.Default()
	}
	if out.StateDir == "" {
		out.StateDir = filepath.Join(os.TempDir(), "samsa", out.ApplicationID)
	}
	if out.Errors.usesDeadLetter() && out.DeadLetterTopic == "" {
		return out, fmt.Errorf("%w: field DeadLetterTopic is empty but an error policy is DeadLetter", ErrConfig)
	}
	if out.InstanceID == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		out.InstanceID = hex.EncodeToString(b[:])
	}
	if out.TransactionTimeout == 0 {
		out.TransactionTimeout = 10 * time.Second
	}
	if out.StartupTimeout == 0 {
		out.StartupTimeout = 30 * time.Second
	}
	if out.TaskTimeout == 0 {
		out.TaskTimeout = 5 * time.Minute
	}
	if out.CloseTimeout == 0 {
		out.CloseTimeout = 10 * time.Second
	}
	if out.MaxUncommittedBytes == 0 {
		out.MaxUncommittedBytes = 64 << 20
	}
	if out.RepartitionPurgeInterval == 0 {
		out.RepartitionPurgeInterval = 30 * time.Second
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"StartupTimeout", out.StartupTimeout}, {"TaskTimeout", out.TaskTimeout}, {"CloseTimeout", out.CloseTimeout}, {"TransactionTimeout", out.TransactionTimeout},
		{"RepartitionPurgeInterval", out.RepartitionPurgeInterval}} {
		if d.v < 0 {
			return out, fmt.Errorf("%w: field %s is negative (%s)", ErrConfig, d.name, d.v)
		}
	}
	if out.MaxUncommittedBytes < 0 {
		return out, fmt.Errorf("%w: field MaxUncommittedBytes is negative (%d)", ErrConfig, out.MaxUncommittedBytes)
	}
	return out, nil
}

// State is the lifecycle state of an App, as Kafka Streams' KafkaStreams.State.
type State int32

// App states.
const (
	StateCreated State = iota
	StateRebalancing
	StateRunning
	StatePendingShutdown
	StateNotRunning
	StateError
)

// String returns the state's name.
func (s State) String() string {
	switch s {
	case StateCreated:
		return "CREATED"
	case StateRebalancing:
		return "REBALANCING"
	case StateRunning:
		return "RUNNING"
	case StatePendingShutdown:
		return "PENDING_SHUTDOWN"
	case StateNotRunning:
		return "NOT_RUNNING"
	case StateError:
		return "ERROR"
	}
	return fmt.Sprintf("State(%d)", int(s))
}
