package samsa_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/changelog"
	"github.com/samsa-streams/samsa/internal/runtime"
	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// restoreFixture is one store of task 0_0 and its changelog partition.
type restoreFixture struct {
	c       *testkit.Cluster
	appID   string
	topic   string
	task    processor.TaskID
	engine  *changelog.Engine
	store   *changelog.Store
	harness *runtime.RestoreHarness
	logs    *syncBuffer

	mu      sync.Mutex
	reports []samsa.RestoreProgress
}

func newRestoreFixture(t *testing.T, c *testkit.Cluster, opts ...kgo.Opt) *restoreFixture {
	t.Helper()
	f := &restoreFixture{c: c, appID: testkit.UniqueName("restore-app"), logs: &syncBuffer{}}
	f.topic = topology.ChangelogTopic(f.appID, "kv")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	compact := "compact"
	if err := c.CreateTopic(ctx, f.topic, 1, map[string]*string{"cleanup.policy": &compact}); err != nil {
		t.Fatal(err)
	}
	var err error
	f.engine, err = changelog.NewEngine(changelog.Options{Dir: t.TempDir(), ApplicationID: f.appID, Logger: testkit.Logger(t, slog.LevelWarn)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.engine.Close() })
	if f.store, err = f.engine.Open(f.task, "kv"); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	f.harness, err = samsa.NewRestoreHarness(f.appID, c.Bootstrap, log, func(p samsa.RestoreProgress) {
		f.mu.Lock()
		f.reports = append(f.reports, p)
		f.mu.Unlock()
	}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.harness.Close)
	return f
}

// produce appends n records with unique keys, from the given index.
func (f *restoreFixture) produce(t testing.TB, from, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: f.topic, Partition: 0, Key: fmt.Appendf(nil, "k%07d", from+i), Value: fmt.Appendf(nil, "v%d", from+i)}
	}
	if err := f.c.Produce(ctx, true, recs...); err != nil {
		t.Error(err)
	}
}

// verify checks that the store holds exactly the changelog's records below
// its checkpoint and returns the checkpoint and the number of keys.
func (f *restoreFixture) verify(t *testing.T) (int64, int) {
	t.Helper()
	ck, ok, err := f.store.Checkpoint()
	if err != nil || !ok {
		t.Fatalf("checkpoint: %d %v %v", ck, ok, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recs, err := f.c.ReadTopic(ctx, f.topic)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, r := range recs[0] {
		if r.Offset < ck {
			want[string(r.Key)] = string(r.Value)
		}
	}
	got := map[string]string{}
	for kv, err := range f.store.Range(nil, nil) {
		if err != nil {
			t.Fatal(err)
		}
		got[string(kv.Key)] = string(kv.Value)
	}
	missing := 0
	for k, v := range want {
		if got[k] != v {
			missing++
		}
	}
	if missing > 0 || len(got) != len(want) {
		t.Fatalf("checkpoint %d claims %d records, the store has %d keys, %d of them missing or wrong", ck, len(want), len(got), missing)
	}
	return ck, len(got)
}

func (f *restoreFixture) lastReport() samsa.RestoreProgress {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reports) == 0 {
		return samsa.RestoreProgress{}
	}
	return f.reports[len(f.reports)-1]
}

// embeddedKfake starts an in-process cluster whose requests the test can
// intercept.
func embeddedKfake(t *testing.T) (*kfake.Cluster, *testkit.Cluster) {
	t.Helper()
	kf, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.ListenFn(func(network, _ string) (net.Listener, error) {
		return net.Listen(network, "127.0.0.1:0")
	}))
	if err != nil {
		t.Fatal(err)
	}
	c, err := testkit.Connect(kf.ListenAddrs()...)
	if err != nil {
		kf.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); kf.Close() })
	return kf, c
}

func fetchesSomething(kreq kmsg.Request) bool {
	req, ok := kreq.(*kmsg.FetchRequest)
	if !ok {
		return false
	}
	for _, t := range req.Topics {
		if len(t.Partitions) > 0 {
			return true
		}
	}
	return false
}

// TestRestoreChangelogGrowsDuringRestore: records committed after the end
// offset was listed and returned by a fetch are applied, and the checkpoint
// never claims a record the store does not hold.
func TestRestoreChangelogGrowsDuringRestore(t *testing.T) {
	t.Run("embedded", func(t *testing.T) {
		kf, c := embeddedKfake(t)
		f := newRestoreFixture(t, c)
		f.produce(t, 0, 1000)
		// The first fetch of the restore waits until 500 more records are
		// in: the end offset moved between listing and fetching.
		var grown atomic.Bool
		kf.ControlKey(int16(kmsg.Fetch), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
			kf.KeepControl()
			if !fetchesSomething(kreq) || grown.Swap(true) {
				return nil, nil, false
			}
			done := make(chan struct{})
			go func() { defer close(done); f.produce(t, 1000, 500) }()
			kf.SleepControl(func() { <-done })
			return nil, nil, false
		})
		if err := f.harness.Restore(context.Background(), f.task, "kv", f.store); err != nil {
			t.Fatal(err)
		}
		if !grown.Load() {
			t.Fatal("the changelog did not grow during the restore")
		}
		ck, n := f.verify(t)
		if ck < 1000 {
			t.Fatalf("checkpoint %d before the end offset listed (1000)", ck)
		}
		if p := f.lastReport(); !p.Finished || p.Done != int64(n) || f.harness.Restored() != int64(n) {
			t.Fatalf("last report %+v, Restored %d: want Done = Restored = %d records applied", p, f.harness.Restored(), n)
		}
	})
	t.Run("real", func(t *testing.T) {
		c := testkit.RealCluster(t)
		// Small fetches: the restore takes several, and the last ones
		// return records appended after the end offset was listed.
		f := newRestoreFixture(t, c, kgo.FetchMaxPartitionBytes(32<<10), kgo.FetchMaxBytes(32<<10))
		f.produce(t, 0, 20000)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // the changelog keeps growing while the restore runs
			defer wg.Done()
			for i := 20000; ; i += 200 {
				select {
				case <-stop:
					return
				default:
				}
				f.produce(t, i, 200)
			}
		}()
		err := f.harness.Restore(context.Background(), f.task, "kv", f.store)
		close(stop)
		wg.Wait()
		if err != nil {
			t.Fatal(err)
		}
		ck, n := f.verify(t)
		if ck < 20000 {
			t.Fatalf("checkpoint %d before the end offset listed (20000)", ck)
		}
		if p := f.lastReport(); !p.Finished || p.Done != int64(n) || f.harness.Restored() != int64(n) {
			t.Fatalf("last report %+v, Restored %d: want Done = Restored = %d records applied", p, f.harness.Restored(), n)
		}
	})
}

// TestRestoreRetriesFetchErrors: a fetch error (here a topic authorization
// failure while ACLs are being re-applied) is retried with backoff and
// logged; the restore then completes.
func TestRestoreRetriesFetchErrors(t *testing.T) {
	kf, c := embeddedKfake(t)
	f := newRestoreFixture(t, c)
	f.produce(t, 0, 1000)
	var failed atomic.Int32
	kf.ControlKey(int16(kmsg.Fetch), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		kf.KeepControl()
		if !fetchesSomething(kreq) || failed.Load() >= 3 {
			return nil, nil, false
		}
		failed.Add(1)
		req := kreq.(*kmsg.FetchRequest)
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewFetchResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewFetchResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
				sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := f.harness.Restore(ctx, f.task, "kv", f.store); err != nil {
		t.Fatalf("Restore = %v, want the fetch error retried", err)
	}
	if failed.Load() != 3 {
		t.Fatalf("%d fetches failed, want 3", failed.Load())
	}
	if ck, n := f.verify(t); ck != 1000 || n != 1000 {
		t.Fatalf("checkpoint %d with %d keys, want 1000", ck, n)
	}
	if got := strings.Count(f.logs.String(), "restore fetch failed"); got < 1 {
		t.Fatalf("no log line about the retried fetch errors:\n%s", f.logs.String())
	}
}

// TestRestoreCancel: a restore whose context is cancelled mid-way returns
// at once with the context's error; its checkpoint covers exactly what it
// applied, Restored counts it, and the next restore continues from there.
func TestRestoreCancel(t *testing.T) {
	t.Run("mid-way", func(t *testing.T) {
		c := testkit.NewCluster(t)
		f := newRestoreFixture(t, c)
		const total = 30000
		f.produce(t, 0, total)
		ctx, cancel := context.WithCancel(context.Background())
		var cancelled atomic.Int64
		f.store.OnRestore(func() {
			if cancelled.Load() == 0 {
				cancelled.Store(time.Now().UnixNano())
				cancel()
			}
		})
		err := f.harness.Restore(ctx, f.task, "kv", f.store)
		returned := time.Now()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Restore = %v, want context.Canceled", err)
		}
		d := returned.Sub(time.Unix(0, cancelled.Load()))
		if d > time.Second {
			t.Fatalf("Restore returned %s after the cancellation, want < 1s", d)
		}
		t.Logf("returned %s after the cancellation", d)
		ck, n := f.verify(t)
		if ck >= total {
			t.Fatalf("checkpoint %d: the restore was not cancelled mid-way", ck)
		}
		if f.harness.Restored() != int64(n) {
			t.Fatalf("Restored = %d after a cancelled restore that applied %d records", f.harness.Restored(), n)
		}
		if err := f.harness.Restore(context.Background(), f.task, "kv", f.store); err != nil {
			t.Fatal(err)
		}
		if ck, n := f.verify(t); ck != total || n != total || f.harness.Restored() != total {
			t.Fatalf("after resuming: checkpoint %d, %d keys, Restored %d; want %d each", ck, n, f.harness.Restored(), total)
		}
	})
	t.Run("broker-down-at-start", func(t *testing.T) {
		c := testkit.EmbeddedCluster(t)
		f := newRestoreFixture(t, c)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		dead := ln.Addr().String()
		_ = ln.Close()
		h, err := samsa.NewRestoreHarness(f.appID, []string{dead}, testkit.Logger(t, slog.LevelInfo), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(300*time.Millisecond, cancel)
		err = h.Restore(ctx, f.task, "kv", f.store)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Restore with no broker = %v, want it to wait for the broker until cancelled", err)
		}
		if ctx.Err() == nil {
			t.Fatal("Restore returned before the cancellation")
		}
	})
	t.Run("broker-down-mid-way", func(t *testing.T) {
		kf, c := embeddedKfake(t)
		f := newRestoreFixture(t, c)
		f.produce(t, 0, 1000)
		ctx, cancel := context.WithCancel(context.Background())
		var cancelled atomic.Int64
		var down atomic.Bool
		// The broker stops when the restore first fetches: after the
		// offsets were listed. The restore waits for it until cancelled.
		kf.ControlKey(int16(kmsg.Fetch), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
			kf.KeepControl()
			if !fetchesSomething(kreq) || down.Swap(true) {
				return nil, nil, false
			}
			go kf.Close()
			time.AfterFunc(300*time.Millisecond, func() { cancelled.Store(time.Now().UnixNano()); cancel() })
			return nil, errors.New("broker going down"), true
		})
		err := f.harness.Restore(ctx, f.task, "kv", f.store)
		returned := time.Now()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Restore = %v, want context.Canceled", err)
		}
		d := returned.Sub(time.Unix(0, cancelled.Load()))
		if d > time.Second {
			t.Fatalf("Restore returned %s after the cancellation, want < 1s", d)
		}
		t.Logf("returned %s after the cancellation", d)
	})
}

// TestRestoreProgressCountsRecords: over a transactional changelog (a
// marker after each transaction), Done, Rate and Restored count the records
// applied, not the offsets read; ToGo and ETA end at zero.
func TestRestoreProgressCountsRecords(t *testing.T) {
	t.Run("embedded", func(t *testing.T) { runRestoreProgress(t, testkit.EmbeddedCluster(t)) })
	t.Run("real", func(t *testing.T) { runRestoreProgress(t, testkit.RealCluster(t)) })
}

func runRestoreProgress(t *testing.T, c *testkit.Cluster) {
	f := newRestoreFixture(t, c)
	const txns, per = 20, 50
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap...), kgo.TransactionalID(testkit.UniqueName("restore-txn")),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range txns {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		recs := make([]*kgo.Record, per)
		for j := range recs {
			recs[j] = &kgo.Record{Topic: f.topic, Partition: 0, Key: fmt.Appendf(nil, "k%07d", i*per+j), Value: []byte("v")}
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.harness.Restore(ctx, f.task, "kv", f.store); err != nil {
		t.Fatal(err)
	}
	ck, n := f.verify(t)
	if n != txns*per || ck != txns*(per+1) {
		t.Fatalf("checkpoint %d with %d keys, want %d records and %d offsets", ck, n, txns*per, txns*(per+1))
	}
	p := f.lastReport()
	if !p.Finished || p.Done != txns*per || f.harness.Restored() != txns*per || p.ToGo != 0 || p.ETA != 0 || p.Rate <= 0 {
		t.Fatalf("last report %+v, Restored %d: want Done = Restored = %d records, nothing to go", p, f.harness.Restored(), txns*per)
	}
}
