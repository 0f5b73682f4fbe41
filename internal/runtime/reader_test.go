package runtime

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa/changelog"
	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/testkit/cluster"
	"github.com/samsa-streams/samsa/topology"
)

// realBroker connects to the broker dev/kafka started (SAMSA_BOOTSTRAP).
func realBroker(t *testing.T) *cluster.Cluster {
	t.Helper()
	bs := os.Getenv(cluster.EnvBootstrap)
	if bs == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but SAMSA_BOOTSTRAP is not set")
		}
		t.Skip("SKIPPED (no real broker): run ./dev/test, or dev/kafka/run start and export SAMSA_BOOTSTRAP")
	}
	c, err := cluster.Connect(strings.Split(bs, ",")...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestRestoreAndStandbysShareTheReader: one changelog reader serves the
// restores and the standby tasks. Records of a standby's changelog that a
// restore's polls return go to the standby: none is lost.
func TestRestoreAndStandbysShareTheReader(t *testing.T) {
	c := realBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	appID := cluster.UniqueName("reader-app")
	standbyTopic, restoreTopic := topology.ChangelogTopic(appID, "warm"), topology.ChangelogTopic(appID, "cold")
	for _, topic := range []string{standbyTopic, restoreTopic} {
		if err := c.CreateTopic(ctx, topic, 1, nil); err != nil {
			t.Fatal(err)
		}
	}
	produce := func(topic string, n int) {
		recs := make([]*kgo.Record, n)
		for i := range recs {
			recs[i] = &kgo.Record{Topic: topic, Key: []byte("k" + strconv.Itoa(i)), Value: []byte("v")}
		}
		if err := c.Produce(ctx, false, recs...); err != nil {
			t.Fatal(err)
		}
	}
	const warm, cold = 3000, 60000
	produce(standbyTopic, warm)
	produce(restoreTopic, cold)

	e, err := changelog.NewEngine(changelog.Options{ApplicationID: appID, InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	standbyID, activeID := processor.TaskID{Subtopology: 0, Partition: 0}, processor.TaskID{Subtopology: 1, Partition: 0}
	warmStore, err := e.Open(standbyID, "warm")
	if err != nil {
		t.Fatal(err)
	}
	coldStore, err := e.Open(activeID, "cold")
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap...), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	a := &App{
		cfg: Config{ApplicationID: appID, Bootstrap: c.Bootstrap}, log: slog.New(slog.DiscardHandler),
		restoreCl:    cl,
		changelogSub: map[string]int{standbyTopic: 0, restoreTopic: 1},
		standbys: map[processor.TaskID]*standbyTask{standbyID: {
			stores: map[string]*changelog.Store{standbyTopic: warmStore}, pos: map[string]int64{standbyTopic: 0}, failing: map[string]*standbyFailure{},
		}},
	}
	// The standby's partition is assigned first: the restore's polls
	// return its records too.
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{standbyTopic: {0: kgo.NewOffset().At(0)}})
	if err := a.restoreStore(ctx, activeID, "cold", coldStore, nil); err != nil {
		t.Fatal(err)
	}
	if n, _ := coldStore.ApproximateCount(); n != cold {
		t.Fatalf("restored store holds %d keys, want %d", n, cold)
	}
	for end := time.Now().Add(10 * time.Second); a.StandbyPositionsForTest()[standbyID] < warm && time.Now().Before(end); {
		a.tailStandbys(ctx, 200*time.Millisecond)
	}
	if got := a.StandbyPositionsForTest()[standbyID]; got != warm {
		t.Fatalf("standby at offset %d after the restore, want %d: records the restore's polls returned were lost", got, warm)
	}
	if n, _ := warmStore.ApproximateCount(); n != warm {
		t.Fatalf("standby store holds %d keys, want %d", n, warm)
	}
}
