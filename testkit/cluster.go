// Package testkit helps test samsa topologies: a Driver that runs a topology
// without a broker, a Kafka cluster for a test (the real broker named by
// SAMSA_BOOTSTRAP, or an in-process one), topic and record helpers, and
// helpers to run an App inside a test. The cluster helpers themselves live in
// package testkit/cluster, which does not import testing; this package wraps
// them for tests.
package testkit

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/samsa-streams/samsa/testkit/cluster"
)

// EnvBootstrap is the environment variable naming a real broker, as
// dev/kafka prints it: SAMSA_BOOTSTRAP=127.0.0.1:PORT.
const EnvBootstrap = cluster.EnvBootstrap

// Cluster is a Kafka cluster for a test: a real broker or an in-process
// kfake cluster. It has all fields and methods of cluster.Cluster (Bootstrap,
// Admin, Produce, ReadTopic...) and adds Topic.
type Cluster struct {
	*cluster.Cluster
}

// Embedded starts an in-process cluster (franz-go's kfake) with the given
// number of brokers, listening on 127.0.0.1. Close stops it.
func Embedded(brokers int) (*Cluster, error) {
	c, err := cluster.Embedded(brokers)
	if err != nil {
		return nil, err
	}
	return &Cluster{c}, nil
}

// Connect returns a Cluster for brokers that already run.
func Connect(bootstrap ...string) (*Cluster, error) {
	c, err := cluster.Connect(bootstrap...)
	if err != nil {
		return nil, err
	}
	return &Cluster{c}, nil
}

// UniqueName returns prefix followed by a random suffix, so tests sharing a
// broker never share topics or groups.
func UniqueName(prefix string) string { return cluster.UniqueName(prefix) }

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
	return &Cluster{cluster.Real(t)}
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
