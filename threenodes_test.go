//go:build threenodes

package samsa_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/testkit"
)

// TestBrokerLostForGood runs on a cluster of three brokers: one broker is
// killed for good while exactly-once instances process, with no
// supervisor; every instance keeps running and the results are exact. The
// suite's cluster has one broker, so this test is built only with the tag
// threenodes:
//
//	dev/kafka/run start --nodes 3   # prints SAMSA_BOOTSTRAP=…
//	SAMSA_BOOTSTRAP=… go test -tags threenodes -run TestBrokerLostForGood .
func TestBrokerLostForGood(t *testing.T) {
	c := testkit.RealCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	md, err := c.Admin().BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(md.Brokers) < 3 {
		t.Fatalf("needs three brokers (dev/kafka/run start --nodes 3), the cluster has %d", len(md.Brokers))
	}
	topic := func(prefix string) string {
		name := testkit.UniqueName(prefix)
		resp, err := c.Admin().CreateTopic(ctx, 4, 3, nil, name)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			t.Fatal(err)
		}
		return name
	}
	in, out := topic("lost-in"), topic("lost-out")
	time.Sleep(time.Second) // leaders
	appID := testkit.UniqueName("lost-app")
	t.Cleanup(func() { kafkaRun(t, "start-node", "1") })
	newApp := func(name string) *samsa.App {
		return eosPassApp(t, c, in, out, appID, name, testkit.Logger(t, slog.LevelInfo))
	}
	a, b := newApp("a"), newApp("b")
	runA, runB := testkit.Start(t, a), testkit.Start(t, b)
	produceValues(t, c, in, 0, 3000)
	runA.WaitFor(t, 60*time.Second, "input processed", func() bool { return len(echoCounts(t, c, out)) >= 3000 })
	kafkaRun(t, "kill-node", "1")
	start := time.Now()
	produceValues(t, c, in, 3000, 6000)
	runA.WaitFor(t, 120*time.Second, "input processed with a broker gone", func() bool { return len(echoCounts(t, c, out)) >= 6000 })
	t.Logf("3,000 records processed %s after a broker was killed for good", time.Since(start).Round(time.Millisecond))
	for name, r := range map[string]*testkit.Running{"a": runA, "b": runB} {
		if err, stopped := r.Err(); stopped {
			t.Fatalf("instance %s stopped: %v", name, err)
		}
	}
	checkExactlyOnce(t, echoCounts(t, c, out), 0, 6000)
	if err := runA.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := runB.Stop(); err != nil {
		t.Fatal(err)
	}
}
