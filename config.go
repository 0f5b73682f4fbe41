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
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
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

// Config configures an App. ApplicationID and Bootstrap are required. New
// reports every invalid field at once (errors joined, each wrapping
// ErrConfig and naming its field). The fields that are Kafka Streams or
// Kafka consumer settings name the setting.
type Config struct {
	// ApplicationID (application.id) names the consumer group, prefixes
	// internal topics and the transactional id. Same id, same application:
	// instances with the same id share the work. As it is part of topic
	// names it may hold only ASCII letters, digits, '.', '_' and '-', is
	// not "." or "..", and is at most MaxApplicationIDLength characters.
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
	// MaxPollRecords (max.poll.records) bounds the records taken per poll,
	// processed and committed between two rebalance points; default 10,000.
	MaxPollRecords int
	// FetchMaxBytes (fetch.max.bytes) bounds what one fetch from one broker
	// returns; default 50 MiB. FetchMaxPartitionBytes
	// (max.partition.fetch.bytes) bounds it per partition; default 1 MiB.
	// A batch larger than either is still returned whole. Both apply to the
	// input and to the changelog (restore and standby) fetches.
	FetchMaxBytes          int32
	FetchMaxPartitionBytes int32
	// SessionTimeout (session.timeout.ms) is how long the group waits for
	// a member that stopped heartbeating (a killed process, a lost
	// machine) before its partitions move to the others; default 45s, as
	// Kafka Streams. It must be within the broker's
	// group.min.session.timeout.ms (6s by default) and
	// group.max.session.timeout.ms (30m), which Run finds out.
	SessionTimeout time.Duration
	// HeartbeatInterval (heartbeat.interval.ms) is how often the member
	// heartbeats; default 3s. It must be below SessionTimeout; a third of
	// it at most is advised.
	HeartbeatInterval time.Duration
	// RebalanceTimeout is how long, once a rebalance has begun, every
	// member has to finish the records it polled, commit and rejoin; a
	// member that takes longer is removed from the group. Kafka's Java
	// client sends its max.poll.interval.ms here, so the default is that
	// setting's, 5m.
	RebalanceTimeout time.Duration
	// GroupInstanceID (group.instance.id) makes this instance a static
	// member of the group, as Kafka Streams does when it is set: a restart
	// within SessionTimeout gets the same partitions back with no
	// rebalance, so no other instance pauses or restores. The price: a
	// static member does not leave the group when it stops, so its
	// partitions move only when SessionTimeout passes; raise
	// SessionTimeout to cover a restart. It must be unique in the group
	// and stable across restarts of one instance (a pod name, say); same
	// characters as ApplicationID. Empty (default): a dynamic member.
	GroupInstanceID string
	// Logger receives the app's logs; default slog.Default().
	Logger *slog.Logger
	// StateListener is called on every state change.
	StateListener func(old, new State)
	// ClientOptions are passed through to franz-go after samsa's own, so
	// they win (TLS, SASL, client id…). The group timeouts, static
	// membership and fetch bounds have their own fields above. Do not
	// override the group, balancer, isolation level or commit options:
	// samsa's guarantees depend on them.
	ClientOptions []kgo.Opt
	// TLS, when not nil, encrypts every connection to the brokers (the
	// group consumer, the producer, the changelog and admin clients) with
	// this configuration; TLSConfig makes one from PEM files. An empty
	// ServerName is set per broker to the host it is dialed at.
	TLS *tls.Config
	// SASL authenticates every connection to the brokers: PLAIN,
	// SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER. The zero value turns it
	// off. Pair it with TLS but for a trusted network: PLAIN sends the
	// password as it is. Printing or logging it never shows the password.
	SASL SASL
	// Errors chooses what a failing record does: fail (default), skip or
	// dead-letter, per kind of failure.
	Errors ErrorPolicies
	// DeadLetterTopic receives dead-lettered records; required when a
	// policy is DeadLetter, and it must exist.
	DeadLetterTopic string
	// InstanceID names this instance in the transactional id
	// (<ApplicationID>-<InstanceID>) under exactly-once. Default: a random
	// id generated once and kept in StateDir (the file samsa-instance-id),
	// as Kafka Streams keeps its process id in its state directory, so
	// that an instance restarted on the same StateDir has the same id; a
	// new random id per New with InMemoryState. Zombies are fenced by the
	// group metadata (KIP-447) either way; a restarted instance with its
	// old id also fences and aborts its own unfinished transaction at once,
	// instead of leaving it open (and read_committed consumers of its
	// outputs waiting) until TransactionTimeout. Same characters as
	// ApplicationID.
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
	// MaxTaskIdle (max.task.idle.ms, KIP-695) is how long a task with
	// several input partitions (a join's two sides, a merge of topics)
	// waits for one of them that has no record buffered before it
	// processes the others, so that records are processed in timestamp
	// order across the inputs even when one is fetched later (a
	// stream–table join must not see the table empty at startup because
	// the stream's partition was fetched first). As Kafka Streams:
	//   - 0 (default): the task processes without the empty partition only
	//     once that partition is known to be caught up (its position at
	//     its last stable offset); records known to be there and not
	//     fetched yet are waited for.
	//   - d > 0: it also waits up to d for new records on a caught-up
	//     empty partition, then processes anyway ("enforced processing",
	//     logged at debug).
	//   - negative (-1): it never waits.
	//
	// A task with one input partition never waits. A wait never blocks
	// the other tasks or the poll loop, and never lasts forever: a
	// partition whose lag stays unknown, or whose records do not come,
	// is waited for at most d + 10s (Kafka Streams waits until they come).
	MaxTaskIdle time.Duration

	// CacheMaxBytes bounds the record caches of the instance, as Kafka
	// Streams' statestore.cache.max.bytes: default DefaultCacheMaxBytes
	// (10 MiB), shared evenly by the cached store instances of the tasks
	// assigned (each gets CacheMaxBytes / their number, re-read as tasks
	// come and go); negative turns caching off everywhere.
	//
	// The key-value aggregations (Aggregate, Count, Reduce, their Err
	// forms, Cogroup's Aggregate, TableAggregate, TableCount, TableReduce)
	// and the windowed aggregations over time, sliding and session windows
	// (WindowedAggregate, WindowedCount, WindowedReduce, SlidingAggregate,
	// SlidingCount, SlidingReduce, SessionAggregate, SessionCount,
	// emitting every update: not with EmitFinal) keep each update in their
	// store's cache instead of writing it to the store and forwarding it:
	// at each commit, before the output is flushed and the offsets
	// committed, every key (every key and window, every session) updated
	// since is written once (one changelog record) and forwarded once,
	// with its latest value and time (a table's update carries the value
	// it had at the last commit as its old value), oldest update first.
	// Many updates of a key between commits thus cost one changelog record
	// and one output. A cache over its share writes and forwards its least
	// recently used entries early. An aborted transaction drops the cache.
	// Results are those of every update applied in turn; only the
	// intermediate updates of a key within a commit interval are not
	// emitted. Late records and window
	// retention are as without the cache; a cached window that falls
	// behind its store's retention before the commit is forwarded but not
	// written (the store would drop it). A session merged away is forwarded
	// as a tombstone at the commit only if it was forwarded before, as in
	// Kafka Streams. topology.Topology.WithoutCache turns it off per store.
	CacheMaxBytes int64
	// RepartitionPurgeInterval is how often, at most, the records of the
	// repartition topics that the group committed are deleted (DeleteRecords
	// after a commit), as Kafka Streams' repartition.purge.interval.ms:
	// repartition topics keep every record until it is purged (samsa
	// creates them with retention.ms=-1), never longer. Default 30s.
	RepartitionPurgeInterval time.Duration
	// InternalTopicConfigs are topic configs (Kafka Streams' settings with
	// the "topic." prefix, given here without it: min.insync.replicas,
	// segment.bytes, max.message.bytes…) applied to every changelog and
	// repartition topic samsa creates, after samsa's own, so they win.
	// They apply when a topic is created; existing topics are left as they
	// are. The settings samsa needs are refused by New: cleanup.policy
	// (changelogs compact, repartition topics delete), retention.ms and
	// retention.bytes (repartition topics keep records until samsa purges
	// them; windowed changelogs keep the window retention plus a day).
	// Keys and values must be non-empty.
	InternalTopicConfigs map[string]string
	// MetricsRegisterer, if set, also receives the App's Prometheus
	// metrics (see README, Observability) while Run runs: they are
	// registered when Run starts and unregistered when it returns. They
	// are always on the App's own registry too (App.Metrics), never on
	// Prometheus' global one, so that Apps in one process do not collide;
	// every metric carries an application_id label. Two Apps with the
	// same ApplicationID on one Registerer collide: Run fails, naming
	// this field; give each its own labels with
	// prometheus.WrapRegistererWith.
	MetricsRegisterer prometheus.Registerer
	// HTTPAddr, if set (host:port; port 0 picks a free one, see
	// App.HTTPAddr), is where the App serves, while Run runs: /metrics
	// (the App's own registry, in Prometheus' format), /healthz (200
	// while Run runs and has not failed), /readyz (200 when RUNNING with
	// every restore finished, 503 otherwise; the body says the state)
	// and /topology (the topology's description). Empty (default): no
	// server.
	HTTPAddr string
}

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("samsa: invalid configuration")

// MaxApplicationIDLength is the longest ApplicationID accepted. Kafka topic
// names are at most 249 characters and the application id prefixes
// samsa's internal topics, <ApplicationID>-<store>-changelog and
// <ApplicationID>-<name>-repartition: 200 leaves 49 characters for the
// rest, store and repartition names up to 36 characters.
const MaxApplicationIDLength = 200

// DefaultCacheMaxBytes is the default Config.CacheMaxBytes: 10 MiB, as
// Kafka Streams' statestore.cache.max.bytes.
const DefaultCacheMaxBytes = 10 << 20

// check reports the problems of the fields the runtime's Config does not
// carry as given (Guarantee, SASL), each wrapping ErrConfig and naming its
// field; the runtime validates the rest and fills in the defaults.
func (c *Config) check() []error {
	var errs []error
	if c.Guarantee != AtLeastOnce && c.Guarantee != ExactlyOnce {
		errs = append(errs, fmt.Errorf("%w: field Guarantee has unknown value %d", ErrConfig, int(c.Guarantee)))
	}
	for _, msg := range c.SASL.validate() {
		errs = append(errs, fmt.Errorf("%w: %s", ErrConfig, msg))
	}
	return errs
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
