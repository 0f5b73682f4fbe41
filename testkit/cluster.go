// Package testkit helps test samsa topologies: a Kafka cluster for a test
// (the real broker named by SAMSA_BOOTSTRAP, or an in-process one), topic
// and record helpers, and helpers to run an App inside a test.
package testkit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// EnvBootstrap is the environment variable naming a real broker, as
// dev/kafka prints it: SAMSA_BOOTSTRAP=127.0.0.1:PORT.
const EnvBootstrap = "SAMSA_BOOTSTRAP"

// Cluster is a Kafka cluster for tests or the demo: a real broker or an
// in-process kfake cluster.
type Cluster struct {
	// Bootstrap lists the seed brokers.
	Bootstrap []string
	// Real is true for a real Apache Kafka broker.
	Real bool

	kf    *kfake.Cluster
	cl    *kgo.Client
	admin *kadm.Client
}

// Embedded starts an in-process cluster (franz-go's kfake) with the given
// number of brokers, listening on 127.0.0.1. Close stops it.
func Embedded(brokers int) (*Cluster, error) {
	if brokers <= 0 {
		brokers = 1
	}
	kf, err := kfake.NewCluster(
		kfake.NumBrokers(brokers),
		kfake.ListenFn(func(network, _ string) (netListener, error) { return listenLoopback(network) }),
	)
	if err != nil {
		return nil, fmt.Errorf("testkit: start embedded cluster: %w", err)
	}
	c, err := Connect(kf.ListenAddrs()...)
	if err != nil {
		kf.Close()
		return nil, err
	}
	c.kf = kf
	return c, nil
}

// Connect returns a Cluster for brokers that already run.
func Connect(bootstrap ...string) (*Cluster, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...))
	if err != nil {
		return nil, fmt.Errorf("testkit: connect %v: %w", bootstrap, err)
	}
	return &Cluster{Bootstrap: bootstrap, cl: cl, admin: kadm.NewClient(cl)}, nil
}

// Close closes the clients and, for an embedded cluster, stops it.
func (c *Cluster) Close() {
	c.cl.Close()
	if c.kf != nil {
		c.kf.Close()
	}
}

// Admin returns an admin client for the cluster.
func (c *Cluster) Admin() *kadm.Client { return c.admin }

// Client returns a plain client for the cluster.
func (c *Cluster) Client() *kgo.Client { return c.cl }

// Ping checks that the cluster answers a metadata request within timeout.
func (c *Cluster) Ping(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := c.admin.BrokerMetadata(ctx); err != nil {
		return fmt.Errorf("testkit: no broker answers at %s within %s: %w", strings.Join(c.Bootstrap, ","), timeout, err)
	}
	return nil
}

// NewCluster returns a cluster for a test: the real broker if SAMSA_BOOTSTRAP
// is set, else an in-process cluster. It is closed when the test ends.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	if bs := os.Getenv(EnvBootstrap); bs != "" {
		return RealCluster(t)
	}
	return EmbeddedCluster(t)
}

// EmbeddedCluster returns an in-process cluster closed when the test ends.
func EmbeddedCluster(t testing.TB) *Cluster {
	t.Helper()
	c, err := Embedded(1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// RealCluster returns the real broker named by SAMSA_BOOTSTRAP. Without it,
// the test fails when CI=true and is skipped, loudly, elsewhere: run
// ./dev/test, or dev/kafka/run start and export the line it prints.
func RealCluster(t testing.TB) *Cluster {
	t.Helper()
	bs := os.Getenv(EnvBootstrap)
	if bs == "" {
		msg := "this test needs a real Kafka broker: run ./dev/test, or `dev/kafka/run start` and export the SAMSA_BOOTSTRAP line it prints"
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but SAMSA_BOOTSTRAP is not set: %s", msg)
		}
		t.Skipf("SKIPPED (no real broker): %s", msg)
	}
	c, err := Connect(strings.Split(bs, ",")...)
	if err != nil {
		t.Fatal(err)
	}
	c.Real = true
	t.Cleanup(c.Close)
	if err := c.Ping(context.Background(), 15*time.Second); err != nil {
		t.Fatal(err)
	}
	return c
}

// UniqueName returns prefix followed by a random suffix, so tests sharing a
// broker never share topics or groups.
func UniqueName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

// CreateTopic creates a topic with the given partitions (replication factor
// 1) and optional configs, and waits until its partitions have leaders.
func (c *Cluster) CreateTopic(ctx context.Context, name string, partitions int32, configs map[string]*string) error {
	resp, err := c.admin.CreateTopic(ctx, partitions, 1, configs, name)
	if err != nil {
		return fmt.Errorf("testkit: create topic %q: %w", name, err)
	}
	if resp.Err != nil {
		return fmt.Errorf("testkit: create topic %q: %w", name, resp.Err)
	}
	for {
		td, err := c.admin.ListTopics(ctx, name)
		if err == nil {
			if d, ok := td[name]; ok && d.Err == nil && len(d.Partitions) == int(partitions) && allLeaders(d) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("testkit: topic %q has no leaders yet: %w", name, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func allLeaders(d kadm.TopicDetail) bool {
	for _, p := range d.Partitions {
		if p.Leader < 0 {
			return false
		}
	}
	return true
}

// Topic creates a uniquely named topic for the test and returns its name.
func (c *Cluster) Topic(t testing.TB, prefix string, partitions int32) string {
	t.Helper()
	name := UniqueName(prefix)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.CreateTopic(ctx, name, partitions, nil); err != nil {
		t.Fatal(err)
	}
	return name
}

// Produce writes records synchronously. A record's Partition is honoured
// when manual is true; otherwise the key decides, as Kafka's default
// partitioner does.
func (c *Cluster) Produce(ctx context.Context, manual bool, recs ...*kgo.Record) error {
	opts := []kgo.Opt{kgo.SeedBrokers(c.Bootstrap...), kgo.ProducerLinger(5 * time.Millisecond)}
	if manual {
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("testkit: produce: %w", err)
	}
	return nil
}

// ReadTopic reads a topic with read_committed from the start to its end as
// of the call (the last stable offsets) and returns the records by partition.
func (c *Cluster) ReadTopic(ctx context.Context, topic string) (map[int32][]*kgo.Record, error) {
	ends, err := c.admin.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("testkit: end offsets of %q: %w", topic, err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	out := map[int32][]*kgo.Record{}
	if len(want) == 0 {
		return out, nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords())
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("testkit: read %q: %w (still waiting for %v)", topic, err, want)
		}
		for _, fe := range fs.Errors() {
			return out, fmt.Errorf("testkit: read %q partition %d: %w", fe.Topic, fe.Partition, fe.Err)
		}
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			end, ok := want[p.Partition]
			if !ok {
				return
			}
			for _, r := range p.Records {
				if r.Offset < end && !r.Attrs.IsControl() {
					out[r.Partition] = append(out[r.Partition], r)
				}
			}
			// Control records (transaction markers) are kept so that a
			// trailing marker at end-1 is seen: never wait for a data
			// record at end-1, it may not exist.
			if n := len(p.Records); n > 0 && p.Records[n-1].Offset >= end-1 {
				delete(want, p.Partition)
			}
		})
	}
	return out, nil
}

// CommittedOffsets returns the committed offsets of a group by topic and partition.
func (c *Cluster) CommittedOffsets(ctx context.Context, group string) (map[string]map[int32]int64, error) {
	os, err := c.admin.FetchOffsets(ctx, group)
	if err != nil {
		return nil, fmt.Errorf("testkit: offsets of group %q: %w", group, err)
	}
	out := map[string]map[int32]int64{}
	os.Each(func(o kadm.OffsetResponse) {
		if out[o.Topic] == nil {
			out[o.Topic] = map[int32]int64{}
		}
		out[o.Topic][o.Partition] = o.At
	})
	return out, nil
}

// EndOffsets returns the end offsets of a topic by partition.
func (c *Cluster) EndOffsets(ctx context.Context, topic string) (map[int32]int64, error) {
	ends, err := c.admin.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out, nil
}
