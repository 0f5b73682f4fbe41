// Package cluster reaches a Kafka cluster for tests, the demo and the crash
// verifier: a real broker (Connect) or an in-process one (Embedded), with
// topic, record and offset helpers. It does not import package testing, so
// a program may link it; package testkit wraps it for tests.
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// EnvBootstrap is the environment variable naming a real broker, as
// dev/kafka prints it: SAMSA_BOOTSTRAP=127.0.0.1:PORT.
const EnvBootstrap = "SAMSA_BOOTSTRAP"

// Cluster is a Kafka cluster for tests, the demo or the crash verifier: a
// real broker or an in-process kfake cluster.
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
		return nil, fmt.Errorf("cluster: start embedded cluster: %w", err)
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
		return nil, fmt.Errorf("cluster: connect %v: %w", bootstrap, err)
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
		return fmt.Errorf("cluster: no broker answers at %s within %s: %w", strings.Join(c.Bootstrap, ","), timeout, err)
	}
	return nil
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
		return fmt.Errorf("cluster: create topic %q: %w", name, err)
	}
	if resp.Err != nil {
		return fmt.Errorf("cluster: create topic %q: %w", name, resp.Err)
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
			return fmt.Errorf("cluster: topic %q has no leaders yet: %w", name, ctx.Err())
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
		return fmt.Errorf("cluster: producer client: %w", err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("cluster: produce: %w", err)
	}
	return nil
}

// ReadTopic reads a topic with read_committed from the start to its end as
// of the call (the last stable offsets) and returns the records by partition.
func (c *Cluster) ReadTopic(ctx context.Context, topic string) (map[int32][]*kgo.Record, error) {
	ends, err := c.admin.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("cluster: end offsets of %q: %w", topic, err)
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
		return nil, fmt.Errorf("cluster: consumer for %q: %w", topic, err)
	}
	defer cl.Close()
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("cluster: read %q: %w (still waiting for %v)", topic, err, want)
		}
		for _, fe := range fs.Errors() {
			return out, fmt.Errorf("cluster: read %q partition %d: %w", fe.Topic, fe.Partition, fe.Err)
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
	offs, err := c.admin.FetchOffsets(ctx, group)
	if err != nil {
		return nil, fmt.Errorf("cluster: offsets of group %q: %w", group, err)
	}
	out := map[string]map[int32]int64{}
	offs.Each(func(o kadm.OffsetResponse) {
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
		return nil, fmt.Errorf("cluster: end offsets of %q: %w", topic, err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out, nil
}
