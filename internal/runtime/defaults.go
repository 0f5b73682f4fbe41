package runtime

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/samsa-streams/samsa/internal/engine"
	"github.com/samsa-streams/samsa/internal/metrics"
)

// MaxApplicationIDLength is samsa.MaxApplicationIDLength: topic names are
// at most 249 characters, and <ApplicationID>-<name>-repartition leaves 49
// for the rest.
const MaxApplicationIDLength = 200

// DefaultCacheMaxBytes is samsa.DefaultCacheMaxBytes, as Kafka Streams'
// statestore.cache.max.bytes.
const DefaultCacheMaxBytes = 10 << 20

// usesDeadLetter reports whether a policy sends records to the dead-letter
// topic.
func (p Policies) usesDeadLetter() bool {
	return p.Deserialization == engine.DeadLetter || p.Processing == engine.DeadLetter || p.Production == engine.DeadLetter
}

// reservedTopicConfigs are the topic configs samsa sets on its internal
// topics itself, with why, that InternalTopicConfigs may not change.
var reservedTopicConfigs = map[string]string{
	"cleanup.policy":  "changelogs are compacted, repartition topics never",
	"retention.ms":    "repartition topics keep records until samsa purges them, windowed changelogs the window retention plus a day",
	"retention.bytes": "repartition topics keep records until samsa purges them, changelogs keep the state",
}

// instanceIDFile keeps a generated InstanceID in the state directory.
const instanceIDFile = "samsa-instance-id"

// keptInstanceID returns the InstanceID kept in dir, or a new random one,
// kept there for the next start unless the state is in memory (best
// effort: a directory that cannot be written fails later, with the
// stores, naming it).
func keptInstanceID(dir string, inMemory bool) string {
	path := filepath.Join(dir, instanceIDFile)
	if !inMemory {
		if b, err := os.ReadFile(path); err == nil {
			if id := strings.TrimSpace(string(b)); id != "" && checkID(id, maxIDLength) == "" {
				return id
			}
		}
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	if !inMemory && os.MkdirAll(dir, 0o755) == nil {
		_ = os.WriteFile(path, []byte(id+"\n"), 0o644)
	}
	return id
}

// maxIDLength bounds InstanceID and GroupInstanceID: the transactional id
// <ApplicationID>-<InstanceID> stays within Kafka's 249-character names.
const maxIDLength = 249 - MaxApplicationIDLength - 1

// FillDefaults validates the configuration and fills in the defaults,
// except for the fields package samsa checks before translating them
// (Guarantee, SASL). It returns every problem found, each wrapping
// ErrConfig and naming its samsa.Config field.
func (c *Config) FillDefaults() []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	if c.ApplicationID == "" {
		bad("field ApplicationID is empty")
	} else if err := checkID(c.ApplicationID, MaxApplicationIDLength); err != "" {
		bad("field ApplicationID %q %s (it prefixes topic names and ids)", c.ApplicationID, err)
	}
	if len(c.Bootstrap) == 0 {
		bad("field Bootstrap is empty")
	}
	for i, b := range c.Bootstrap {
		if b == "" {
			bad("field Bootstrap[%d] is empty", i)
		}
	}
	switch {
	case c.CommitInterval != 0:
	case c.ExactlyOnce:
		c.CommitInterval = 100 * time.Millisecond
	default:
		c.CommitInterval = 30 * time.Second
	}
	setDefault(&c.MaxPollRecords, 10000)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.StateDir == "" && c.ApplicationID != "" {
		c.StateDir = filepath.Join(os.TempDir(), "samsa", c.ApplicationID)
	}
	if c.Errors.usesDeadLetter() && c.DeadLetterTopic == "" {
		bad("field DeadLetterTopic is empty but an error policy is DeadLetter")
	}
	if c.InstanceID == "" {
		c.InstanceID = keptInstanceID(c.StateDir, c.InMemoryState)
	} else if err := checkID(c.InstanceID, maxIDLength); err != "" {
		bad("field InstanceID %q %s (it is part of the transactional id)", c.InstanceID, err)
	}
	if c.GroupInstanceID != "" {
		if err := checkID(c.GroupInstanceID, maxIDLength); err != "" {
			bad("field GroupInstanceID %q %s", c.GroupInstanceID, err)
		}
	}
	setDefault(&c.TransactionTimeout, 10*time.Second)
	setDefault(&c.StartupTimeout, 30*time.Second)
	setDefault(&c.TaskTimeout, 5*time.Minute)
	setDefault(&c.CloseTimeout, 10*time.Second)
	setDefault(&c.MaxUncommittedBytes, 64<<20)
	switch {
	case c.CacheMaxBytes == 0:
		c.CacheMaxBytes = DefaultCacheMaxBytes
	case c.CacheMaxBytes < 0:
		c.CacheMaxBytes = -1
	}
	// The group timeouts: Kafka Streams' (and franz-go's) defaults, except
	// the rebalance timeout, which Kafka's Java client takes from
	// max.poll.interval.ms (5 minutes).
	setDefault(&c.SessionTimeout, 45*time.Second)
	setDefault(&c.HeartbeatInterval, 3*time.Second)
	setDefault(&c.RebalanceTimeout, 5*time.Minute)
	setDefault(&c.FetchMaxBytes, 50<<20)
	setDefault(&c.FetchMaxPartitionBytes, 1<<20)
	setDefault(&c.RepartitionPurgeInterval, 30*time.Second)
	if c.HTTPAddr != "" {
		if err := metrics.CheckAddr(c.HTTPAddr); err != nil {
			bad("field HTTPAddr %q is not host:port: %v", c.HTTPAddr, err)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(c.InternalTopicConfigs)) {
		switch v := c.InternalTopicConfigs[k]; {
		case strings.TrimSpace(k) == "":
			bad("field InternalTopicConfigs has an empty key")
		case reservedTopicConfigs[k] != "":
			bad("field InternalTopicConfigs sets %s, which samsa sets itself: %s", k, reservedTopicConfigs[k])
		case strings.HasPrefix(k, "topic."):
			bad("field InternalTopicConfigs key %q: give topic configs without the \"topic.\" prefix", k)
		case v == "":
			bad("field InternalTopicConfigs[%q] is empty", k)
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"CommitInterval", c.CommitInterval},
		{"StartupTimeout", c.StartupTimeout}, {"TaskTimeout", c.TaskTimeout},
		{"CloseTimeout", c.CloseTimeout}, {"TransactionTimeout", c.TransactionTimeout},
		{"SessionTimeout", c.SessionTimeout}, {"HeartbeatInterval", c.HeartbeatInterval},
		{"RebalanceTimeout", c.RebalanceTimeout}, {"RepartitionPurgeInterval", c.RepartitionPurgeInterval},
	} {
		if d.v < 0 {
			bad("field %s is negative (%s)", d.name, d.v)
		}
	}
	if c.SessionTimeout > 0 && c.HeartbeatInterval >= c.SessionTimeout {
		bad("field HeartbeatInterval (%s) is not below SessionTimeout (%s); a third of it at most is advised",
			c.HeartbeatInterval, c.SessionTimeout)
	}
	for _, n := range []struct {
		name string
		v    int64
	}{
		{"MaxPollRecords", int64(c.MaxPollRecords)}, {"MaxUncommittedBytes", c.MaxUncommittedBytes},
		{"StateCacheSize", c.StateCacheSize}, {"StandbyReplicas", int64(c.StandbyReplicas)},
		{"FetchMaxBytes", int64(c.FetchMaxBytes)}, {"FetchMaxPartitionBytes", int64(c.FetchMaxPartitionBytes)},
	} {
		if n.v < 0 {
			bad("field %s is negative (%d)", n.name, n.v)
		}
	}
	return errs
}

// checkID returns what makes id illegal as a part of a Kafka topic name
// (Kafka's rule: only ASCII letters, digits, '.', '_' and '-'; not "." or
// ".."), or "" when it is legal and at most max characters long.
func checkID(id string, max int) string {
	if id == "." || id == ".." {
		return `is "." or "..", not allowed in Kafka topic names`
	}
	var badChars []string
	for _, r := range id {
		legal := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
		if !legal && !slices.Contains(badChars, strconv.QuoteRune(r)) {
			badChars = append(badChars, strconv.QuoteRune(r))
		}
	}
	if len(badChars) > 0 {
		return fmt.Sprintf("has characters other than the allowed [a-zA-Z0-9._-]: %s", strings.Join(badChars, " "))
	}
	if len(id) > max {
		return fmt.Sprintf("is %d characters long, more than %d", len(id), max)
	}
	return ""
}

// setDefault sets *p to d when it is the zero value.
func setDefault[T comparable](p *T, d T) {
	var zero T
	if *p == zero {
		*p = d
	}
}
