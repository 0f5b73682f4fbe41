package samsa_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// purgeGroups is the number of groups the GroupBy of the purge tests
// makes; record i belongs to group i%purgeGroups.
const purgeGroups = 40

// groupCountTopology re-keys every record by the group its value names
// ("g<n>|padding"), repartitions it through <app>-by-group-repartition and
// counts per group. fail, when not nil, runs on every record read back
// from the repartition topic and fails it when it returns an error.
func groupCountTopology(in, out string, fail func(processor.Record[string, string]) error) *topology.Topology {
	top := topology.New()
	s := topology.StreamOf(top, serde.String, serde.String, in)
	g := topology.GroupBy(s, "by-group", func(_, v string) string { return v[:strings.IndexByte(v, '|')] }, serde.String, serde.String)
	if fail != nil {
		g = topology.ProcessValues(g, processor.Func[string, string, string, string](func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
			if err := fail(r); err != nil {
				return err
			}
			ctx.Forward(r)
			return nil
		}).Supplier())
	}
	topology.Count(g, "group-counts", serde.String).To(out, serde.String, serde.Int64)
	return top
}

// produceGroups produces records from..to-1 with values naming their
// group, padded with 100 random letters.
func produceGroups(t *testing.T, c *testkit.Cluster, topic string, from, to int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	// Random padding: the batches do not compress, so the records fill
	// segments on disk.
	rng := rand.New(rand.NewPCG(uint64(from), uint64(to)))
	pad := make([]byte, 100)
	recs := make([]*kgo.Record, 0, to-from)
	for i := from; i < to; i++ {
		for j := range pad {
			pad[j] = 'a' + byte(rng.IntN(26))
		}
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte("key-" + strconv.Itoa(i)),
			Value: []byte("g" + strconv.Itoa(i%purgeGroups) + "|" + string(pad))})
	}
	if err := c.Produce(ctx, false, recs...); err != nil {
		t.Fatal(err)
	}
}

// groupCounts reads the output and returns the last count per group.
func groupCounts(t *testing.T, c *testkit.Cluster, topic string) map[string]int64 {
	t.Helper()
	last := map[string]int64{}
	for _, r := range readAll(t, c, topic) {
		n, err := serde.Int64.Deserialize(topic, r.Value)
		if err != nil {
			t.Fatal(err)
		}
		last[string(r.Key)] = n
	}
	return last
}

// exactCounts reports whether every group counted n records exactly.
func exactCounts(got map[string]int64, n int64) error {
	if len(got) != purgeGroups {
		return fmt.Errorf("%d groups counted, want %d", len(got), purgeGroups)
	}
	for g, v := range got {
		if v != n {
			return fmt.Errorf("group %s counted %d, want %d", g, v, n)
		}
	}
	return nil
}

// repartitionOffsets returns, by partition, the log start offsets of a
// topic and then the offsets the group committed for it (0 when none).
// The start offsets are listed first: both only grow, so a start offset
// above the committed one is a purge that went too far, never a race of
// the two listings.
//
// The admin client answers from its metadata cache (5 s): a topic created
// since it was last asked about (the watcher asks before the App creates
// the repartition topic) shows as unknown for up to that long, so an
// unknown topic is asked about again for up to 10 s.
func repartitionOffsets(ctx context.Context, c *testkit.Cluster, group, topic string) (start, committed map[int32]int64, err error) {
	var los kadm.ListedOffsets
	for tries := 0; ; tries++ {
		los, err = c.Admin().ListStartOffsets(ctx, topic)
		if err == nil {
			err = los.Error()
		}
		if !errors.Is(err, kerr.UnknownTopicOrPartition) || tries == 100 || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return nil, nil, err
	}
	start = map[int32]int64{}
	los.Each(func(o kadm.ListedOffset) { start[o.Partition] = o.Offset })
	all, err := c.CommittedOffsets(ctx, group)
	if err != nil {
		return nil, nil, err
	}
	committed = map[int32]int64{}
	for p := range start {
		committed[p] = all[topic][p]
	}
	return start, committed, nil
}

// committedCatchesUp reports whether the group's committed offset of a
// partition reaches want within 5 s. Under exactly-once an offset commit
// is part of the transaction: EndTxn returns (and samsa purges) once the
// coordinator has logged the commit, and the group's offsets show the new
// value only when the coordinator has written the commit marker to
// __consumer_offsets, a moment later (a consumer that takes the partition
// over asks for stable offsets and waits for it). A log start offset
// seen above the committed offset is a violation only if the committed
// offset does not follow.
func committedCatchesUp(ctx context.Context, c *testkit.Cluster, group, topic string, p int32, want int64) bool {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		all, err := c.CommittedOffsets(ctx, group)
		if err == nil && all[topic][p] >= want {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return ctx.Err() != nil // the test is over: nothing to conclude
}

// topicSize returns the size on disk of a topic's partitions, summed over
// the log directories of every broker.
func topicSize(t *testing.T, c *testkit.Cluster, topic string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	td, err := c.Admin().ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var set kadm.TopicsSet
	set.Add(topic, td[topic].Partitions.Numbers()...)
	dirs, err := c.Admin().DescribeAllLogDirs(ctx, set)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	dirs.Each(func(d kadm.DescribedLogDir) {
		d.Topics.Each(func(p kadm.DescribedLogDirPartition) { n += p.Size })
	})
	return n
}

// TestRepartitionPurged: a GroupBy+Count over 100,000 records purges its
// repartition topic as it commits: at the end the topic's log start
// offsets are the offsets the group committed for it (and the counts are
// exact), and the disk holds only the active segments.
func TestRepartitionPurged(t *testing.T) {
	t.Run("at-least-once", func(t *testing.T) { runRepartitionPurged(t, samsa.AtLeastOnce) })
	t.Run("exactly-once", func(t *testing.T) { runRepartitionPurged(t, samsa.ExactlyOnce) })
}

func runRepartitionPurged(t *testing.T, g samsa.Guarantee) {
	const n, parts = 100_000, 3
	const segment = 1 << 20 // the smallest segment.bytes Kafka accepts
	c := testkit.RealCluster(t)
	in, out := c.Topic(t, "purge-in", parts), c.Topic(t, "purge-out", parts)
	appID := testkit.UniqueName("purge-app")
	rep := topology.RepartitionTopic(appID, "by-group")
	// Small segments, so that purged records leave the disk during the
	// test (the broker never deletes the active segment; samsa's own are
	// 50 MiB, as Kafka Streams').
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := c.CreateTopic(ctx, rep, parts, map[string]*string{
		"cleanup.policy": new("delete"), "retention.ms": new("-1"), "segment.bytes": new(strconv.Itoa(segment)),
	}); err != nil {
		t.Fatal(err)
	}
	produceGroups(t, c, in, 0, n)
	app, err := samsa.New(groupCountTopology(in, out, nil), samsa.Config{
		ApplicationID: appID, Bootstrap: c.Bootstrap, StateDir: t.TempDir(), Guarantee: g,
		CommitInterval: 100 * time.Millisecond, RepartitionPurgeInterval: 500 * time.Millisecond,
		Logger: testkit.Logger(t, slog.LevelInfo),
	})
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	run := testkit.Start(t, app)
	// Every record is processed twice: before and after the repartition.
	run.WaitFor(t, 3*time.Minute, "100,000 records through the repartition", func() bool { return app.Processed() >= 2*n })
	processed := time.Since(began)
	sizeBefore := topicSize(t, c, rep)
	// All outputs are in: the counts are exact (under exactly-once, once
	// the last transaction committed, with the offsets).
	var last error
	run.WaitFor(t, time.Minute, "exact counts", func() bool {
		if last = exactCounts(groupCounts(t, c, out), n/purgeGroups); last != nil {
			time.Sleep(200 * time.Millisecond)
			return false
		}
		return true
	})
	var start, committed map[int32]int64
	// Every record through the repartition committed (an at-least-once
	// commit may come well after the outputs are visible), and the log
	// start offsets moved up to the committed offsets.
	run.WaitFor(t, time.Minute, "log start offsets at the committed offsets", func() bool {
		start, committed, err = repartitionOffsets(ctx, c, appID, rep)
		if err != nil {
			t.Fatal(err)
		}
		var sum int64
		for p, s := range start {
			if s != committed[p] || s == 0 {
				return false
			}
			sum += committed[p]
		}
		return len(start) == parts && sum >= n
	})
	purged := time.Since(began)
	var total int64
	for _, o := range committed {
		total += o
	}
	if total < n {
		t.Fatalf("committed offsets %v of %s sum to %d, want at least %d (every record through the repartition)", committed, rep, total, n)
	}
	// The broker deletes purged segments at its next retention check
	// (dev/kafka: every minute): then only the active segments are left.
	run.WaitFor(t, 2*time.Minute, "purged segments deleted from the disk", func() bool {
		if topicSize(t, c, rep) <= parts*segment {
			return true
		}
		time.Sleep(time.Second) // the check runs every minute: ask less often
		return false
	})
	t.Logf("%s: %d records processed in %s, log start offsets at the committed offsets %v after %s; %s on disk: %d bytes before the purge, %d after",
		g, n, processed.Round(time.Millisecond), committed, purged.Round(time.Millisecond), rep, sizeBefore, topicSize(t, c, rep))
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}
}

// TestRepartitionNotPurgedEarly: an instance that fails on a record it
// read from the repartition topic, before committing it, leaves that
// record and the ones after it in place: at no time is the log start
// offset above the offset the group committed, and a second instance
// counts every record exactly once.
func TestRepartitionNotPurgedEarly(t *testing.T) {
	const n1, n2, parts = 20_000, 20_000, 3
	const failAt = 3000 // the first instance fails on this record of the second batch
	c := testkit.RealCluster(t)
	in, out := c.Topic(t, "early-in", parts), c.Topic(t, "early-out", parts)
	appID := testkit.UniqueName("early-app")
	rep := topology.RepartitionTopic(appID, "by-group")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	newApp := func(fail func(processor.Record[string, string]) error) *samsa.App {
		app, err := samsa.New(groupCountTopology(in, out, fail), samsa.Config{
			ApplicationID: appID, Bootstrap: c.Bootstrap, StateDir: t.TempDir(), Guarantee: samsa.ExactlyOnce,
			CommitInterval: 100 * time.Millisecond, RepartitionPurgeInterval: 100 * time.Millisecond,
			Logger: testkit.Logger(t, slog.LevelInfo),
		})
		if err != nil {
			t.Fatal(err)
		}
		return app
	}

	// Watch the repartition topic for the whole test: a log start offset
	// above the committed offset deleted a record not processed yet.
	var violation atomic.Pointer[string]
	watchCtx, stopWatch := context.WithCancel(ctx)
	var watched sync.WaitGroup
	watched.Go(func() {
		for watchCtx.Err() == nil {
			start, committed, err := repartitionOffsets(watchCtx, c, appID, rep)
			if err == nil {
				for p, s := range start {
					if s > committed[p] && !committedCatchesUp(watchCtx, c, appID, rep, p, s) {
						v := fmt.Sprintf("partition %d: log start offset %d above the committed offset %d", p, s, committed[p])
						violation.CompareAndSwap(nil, &v)
					}
				}
			}
			select {
			case <-watchCtx.Done():
			case <-time.After(10 * time.Millisecond):
			}
		}
	})
	stop := func() {
		stopWatch()
		watched.Wait()
		if v := violation.Load(); v != nil {
			t.Fatalf("purged too early: %s", *v)
		}
	}
	defer stop()

	// The first instance processes and purges the first batch, then fails
	// on a record of the second.
	var failing atomic.Bool
	var seen atomic.Int64
	var failedOn atomic.Pointer[kgo.Record]
	errPoison := errors.New("poison record")
	a := newApp(func(r processor.Record[string, string]) error {
		if failing.Load() && seen.Add(1) == failAt {
			failedOn.Store(&kgo.Record{Topic: r.Topic(), Partition: r.Partition(), Offset: r.Offset()})
			return errPoison
		}
		return nil
	})
	produceGroups(t, c, in, 0, n1)
	runA := testkit.Start(t, a)
	runA.WaitFor(t, 2*time.Minute, "the first batch processed and purged", func() bool {
		if a.Processed() < 2*n1 {
			return false
		}
		start, committed, err := repartitionOffsets(ctx, c, appID, rep)
		if err != nil {
			t.Fatal(err)
		}
		var total int64
		for p, s := range start {
			if s != committed[p] {
				return false
			}
			total += s
		}
		return total >= n1
	})
	failing.Store(true)
	produceGroups(t, c, in, n1, n1+n2)
	select {
	case <-time.After(2 * time.Minute):
		t.Fatal("the first instance did not fail on the poison record")
	case <-func() chan struct{} {
		ch := make(chan struct{})
		go func() {
			defer close(ch)
			for {
				if _, stopped := runA.Err(); stopped {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
		return ch
	}():
	}
	r := failedOn.Load()
	if r == nil || r.Topic != rep {
		t.Fatalf("the first instance stopped without failing on a record of %s (%+v)", rep, r)
	}
	start, committed, err := repartitionOffsets(ctx, c, appID, rep)
	if err != nil {
		t.Fatal(err)
	}
	if start[r.Partition] > r.Offset || committed[r.Partition] > r.Offset {
		t.Fatalf("the record the first instance failed on (%s partition %d offset %d) is gone or committed: log start offset %d, committed %d",
			rep, r.Partition, r.Offset, start[r.Partition], committed[r.Partition])
	}
	t.Logf("first instance failed on %s partition %d offset %d; log start offsets %v, committed %v", rep, r.Partition, r.Offset, start, committed)

	// The second instance takes over from the committed offsets: it finds
	// every record it needs and the counts are exact.
	b := newApp(nil)
	runB := testkit.Start(t, b)
	var last error
	runB.WaitFor(t, 3*time.Minute, "exact counts from the second instance", func() bool {
		last = exactCounts(groupCounts(t, c, out), (n1+n2)/purgeGroups)
		return last == nil
	})
	runB.WaitFor(t, time.Minute, "the second instance purges what it committed", func() bool {
		start, committed, err := repartitionOffsets(ctx, c, appID, rep)
		if err != nil {
			t.Fatal(err)
		}
		for p, s := range start {
			if s != committed[p] || (p == r.Partition && s <= r.Offset) {
				return false
			}
		}
		return true
	})
	if err := runB.Stop(); err != nil {
		t.Fatal(err)
	}
	stop()
}

// TestRepartitionTopicConfigs: samsa creates a repartition topic with
// cleanup.policy=delete and retention.ms=-1, removes the retention of an
// existing one, and refuses a compacted one naming the topic and setting.
func TestRepartitionTopicConfigs(t *testing.T) {
	c := testkit.RealCluster(t)
	in, out := c.Topic(t, "rpcfg-in", 2), c.Topic(t, "rpcfg-out", 2)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	produceGroups(t, c, in, 0, 100)
	run := func(appID string) error {
		app, err := samsa.New(groupCountTopology(in, out, nil), samsa.Config{
			ApplicationID: appID, Bootstrap: c.Bootstrap, StateDir: t.TempDir(), CommitInterval: 100 * time.Millisecond,
			Logger: testkit.Logger(t, slog.LevelInfo),
		})
		if err != nil {
			t.Fatal(err)
		}
		r := testkit.Start(t, app)
		for app.Processed() < 200 {
			if err, stopped := r.Err(); stopped {
				return err
			}
			time.Sleep(20 * time.Millisecond)
		}
		return r.Stop()
	}
	configs := func(topic string) map[string]string {
		rc, err := c.Admin().DescribeTopicConfigs(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		r, err := rc.On(topic, nil)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, cfg := range r.Configs {
			if cfg.Value != nil {
				m[cfg.Key] = *cfg.Value
			}
		}
		return m
	}
	check := func(topic string) {
		t.Helper()
		got := configs(topic)
		for k, want := range map[string]string{"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"} {
			if got[k] != want {
				t.Errorf("%s: %s=%s, want %s", topic, k, got[k], want)
			}
		}
	}

	// Created by samsa.
	appID := testkit.UniqueName("rpcfg-app")
	if err := run(appID); err != nil {
		t.Fatal(err)
	}
	check(topology.RepartitionTopic(appID, "by-group"))
	if got := configs(topology.RepartitionTopic(appID, "by-group"))["segment.bytes"]; got != "52428800" {
		t.Errorf("segment.bytes=%s, want 52428800 (Kafka Streams')", got)
	}

	// Existing, with a retention (as samsa created them before): the
	// retention is removed.
	appID = testkit.UniqueName("rpcfg-app")
	rep := topology.RepartitionTopic(appID, "by-group")
	if err := c.CreateTopic(ctx, rep, 2, map[string]*string{"cleanup.policy": new("delete"), "retention.ms": new("86400000")}); err != nil {
		t.Fatal(err)
	}
	if err := run(appID); err != nil {
		t.Fatal(err)
	}
	check(rep)

	// Existing and compacted: refused, naming the topic and the setting.
	appID = testkit.UniqueName("rpcfg-app")
	rep = topology.RepartitionTopic(appID, "by-group")
	if err := c.CreateTopic(ctx, rep, 2, map[string]*string{"cleanup.policy": new("compact")}); err != nil {
		t.Fatal(err)
	}
	err := run(appID)
	if !errors.Is(err, samsa.ErrInternalTopic) || !strings.Contains(err.Error(), rep) || !strings.Contains(err.Error(), "cleanup.policy=compact") {
		t.Fatalf("Run = %v, want ErrInternalTopic naming %s and cleanup.policy=compact", err, rep)
	}
}
