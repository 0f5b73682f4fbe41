package samsa_test

import (
	"context"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// TestDeduplicate: at-least-once with exactly-once effect. Duplicates within
// retention are dropped, also after a restart that lost the local state; an
// id seen again after retention passes through.
func TestDeduplicate(t *testing.T) {
	c := testkit.NewCluster(t)
	in, out := c.Topic(t, "dedup-in", 2), c.Topic(t, "dedup-out", 2)
	appID := testkit.UniqueName("dedup-app")
	dir := t.TempDir()
	newApp := func() *samsa.App {
		top := topology.New()
		s := topology.StreamOf(top, serde.String, serde.String, in)
		topology.Deduplicate(s, "seen-ids", func(r processor.Record[string, string]) string { return r.Value }, time.Hour).
			To(out, serde.String, serde.String)
		app, err := samsa.New(top, samsa.Config{ApplicationID: appID, Bootstrap: c.Bootstrap, StateDir: dir,
			CommitInterval: 100 * time.Millisecond, Logger: testkit.Logger(t, slog.LevelInfo)})
		if err != nil {
			t.Fatal(err)
		}
		return app
	}
	base := time.Now().Add(-5 * time.Hour) // brokers reject timestamps far in the future
	send := func(ids []int, at time.Time) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var recs []*kgo.Record
		for _, id := range ids {
			k := "id-" + strconv.Itoa(id)
			recs = append(recs, &kgo.Record{Topic: in, Key: []byte(k), Value: []byte(k), Timestamp: at})
		}
		if err := c.Produce(ctx, false, recs...); err != nil {
			t.Fatal(err)
		}
	}
	outputs := func() []string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		got, err := c.ReadTopic(ctx, out)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, rs := range got {
			for _, r := range rs {
				ids = append(ids, string(r.Value))
			}
		}
		sort.Strings(ids)
		return ids
	}

	// 100 ids, each sent three times.
	var ids []int
	for i := range 300 {
		ids = append(ids, i%100)
	}
	send(ids, base)
	runUntil(t, newApp(), 300)
	if got := outputs(); len(got) != 100 {
		t.Fatalf("first run: %d outputs, want 100 distinct ids", len(got))
	}

	// Lose the local state; resend 50 old ids and 20 new ones.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	var again []int
	for i := 50; i < 120; i++ {
		again = append(again, i)
	}
	send(again, base.Add(time.Minute))
	runUntil(t, newApp(), 70)
	got := outputs()
	if len(got) != 120 {
		t.Fatalf("after restart: %d outputs, want 120 (old ids dropped, 20 new): %v", len(got), got)
	}

	// Two hours later (event time) id 1 is new again: its retention passed.
	send([]int{1}, base.Add(2*time.Hour))
	runUntil(t, newApp(), 1)
	got = outputs()
	if n := strings.Count(strings.Join(got, ","), "id-1,"); len(got) != 121 || n != 2 {
		t.Fatalf("after retention: %d outputs, id-1 %d times; want 121 and 2", len(got), n)
	}
}

// TestDeduplicateRedeliveryAfterCrash: a crash after the id reached the
// changelog but before the output did. The first run stands for the crashed
// one: its output topic is discarded (the output was lost), its changelog
// stays, its state directory is lost and the group's committed offset is
// put back before the record, as a crash before the commit leaves it. The
// next run restores the id and the record at offset 0 is delivered again:
// it must be forwarded. A different record with the same id (offset 1) is a
// duplicate in both runs and after another restart.
func TestDeduplicateRedeliveryAfterCrash(t *testing.T) {
	t.Run("embedded", func(t *testing.T) { runDedupRedelivery(t, testkit.EmbeddedCluster(t)) })
	t.Run("real", func(t *testing.T) { runDedupRedelivery(t, testkit.RealCluster(t)) })
}

func runDedupRedelivery(t *testing.T, c *testkit.Cluster) {
	in, lost, out := c.Topic(t, "dedup-in", 1), c.Topic(t, "dedup-lost", 1), c.Topic(t, "dedup-out", 1)
	appID := testkit.UniqueName("dedup-crash")
	dir := t.TempDir()
	newApp := func(to string) *samsa.App {
		top := topology.New()
		s := topology.StreamOf(top, serde.String, serde.String, in)
		topology.Deduplicate(s, "seen-ids", func(r processor.Record[string, string]) string { return r.Value }, time.Hour).
			To(to, serde.String, serde.String)
		app, err := samsa.New(top, samsa.Config{ApplicationID: appID, Bootstrap: c.Bootstrap, StateDir: dir,
			CommitInterval: 100 * time.Millisecond, Logger: testkit.Logger(t, slog.LevelInfo)})
		if err != nil {
			t.Fatal(err)
		}
		return app
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	at := time.Now().Add(-time.Minute)
	send := func() {
		t.Helper()
		if err := c.Produce(ctx, false, &kgo.Record{Topic: in, Key: []byte("k"), Value: []byte("id-x"), Timestamp: at}); err != nil {
			t.Fatal(err)
		}
	}
	count := func(topic string) int {
		t.Helper()
		got, err := c.ReadTopic(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, rs := range got {
			n += len(rs)
		}
		return n
	}

	send() // offset 0
	send() // offset 1: another record with the same id
	runUntil(t, newApp(lost), 2)
	if n := count(lost); n != 1 {
		t.Fatalf("crashed run: %d outputs, want 1 (offset 1 is a duplicate)", n)
	}

	// The crash: local state gone, offsets not committed, output lost.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	reset := kadm.Offsets{}
	reset.AddOffset(in, 0, 0, -1)
	resp, err := c.Admin().CommitOffsets(ctx, appID, reset)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("reset the group's offsets: %v", err)
	}

	app := newApp(out)
	runUntil(t, app, 2)
	if app.Restored() == 0 {
		t.Fatal("the second run restored nothing: the test does not reproduce the crash")
	}
	if n := count(out); n != 1 {
		t.Fatalf("after the crash: %d outputs, want 1 (offset 0 redelivered and forwarded, offset 1 a duplicate)", n)
	}

	// A restart with the state intact: a third record with the id is a duplicate.
	send() // offset 2
	runUntil(t, newApp(out), 1)
	if n := count(out); n != 1 {
		t.Fatalf("after a restart: %d outputs, want 1", n)
	}
}
