package samsa_test

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// TestStandbyFetchErrors: a standby whose changelog fetches fail does not
// fail the App; the failure is logged at most once per few seconds, listed
// by FailingStandbys, and cleared when the changelog delivers again; a
// broker outage does not fail it either.
func TestStandbyFetchErrors(t *testing.T) {
	kf, c := embeddedKfake(t)
	appID := testkit.UniqueName("standby-app")
	topic := topology.ChangelogTopic(appID, "counts")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.CreateTopic(ctx, topic, 1, nil); err != nil {
		t.Fatal(err)
	}
	var inject atomic.Bool
	inject.Store(true)
	kf.ControlKey(int16(kmsg.Fetch), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		kf.KeepControl()
		if !fetchesSomething(kreq) || !inject.Load() {
			return nil, nil, false
		}
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

	logs := &syncBuffer{}
	app, err := samsa.New(countTopology("in", "out"), samsa.Config{ApplicationID: appID, Bootstrap: c.Bootstrap, StateDir: t.TempDir(),
		StandbyReplicas: 1, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err != nil {
		t.Fatal(err)
	}
	task := processor.TaskID{Subtopology: 0, Partition: 0}
	if err := app.StartStandbyForTest(task); err != nil {
		t.Fatal(err)
	}
	defer app.StopStandbysForTest()
	tail := func(d time.Duration, until func() bool) bool {
		t.Helper()
		for end := time.Now().Add(d); time.Now().Before(end); {
			if err := app.TailStandbysForTest(); err != nil {
				t.Fatalf("tailStandbys = %v: a standby fetch error failed the App", err)
			}
			if until != nil && until() {
				return true
			}
			time.Sleep(5 * time.Millisecond)
		}
		return false
	}
	const line = "standby changelog fetch failed"
	if !tail(5*time.Second, func() bool { return strings.Contains(logs.String(), line) }) {
		t.Fatalf("no log line about the failing standby fetches:\n%s", logs.String())
	}
	tail(time.Second, nil) // many more failed fetches
	if n := strings.Count(logs.String(), line); n != 1 {
		t.Fatalf("%d log lines about the failing standby in a second, want 1 (rate-limited):\n%s", n, logs.String())
	}
	failing := app.FailingStandbys()
	if len(failing) != 1 {
		t.Fatalf("FailingStandbys = %+v, want one", failing)
	}
	f := failing[0]
	if f.Task != task || f.Topic != topic || f.Partition != 0 || !errors.Is(f.Err, kerr.TopicAuthorizationFailed) || f.Count < 2 {
		t.Fatalf("FailingStandbys = %+v, want task 0_0, %s, TOPIC_AUTHORIZATION_FAILED, several failures", f, topic)
	}

	// The fetches work again: the next record clears the failure.
	inject.Store(false)
	if err := c.Produce(ctx, true, &kgo.Record{Topic: topic, Partition: 0, Key: []byte("k"), Value: []byte("1")}); err != nil {
		t.Fatal(err)
	}
	if !tail(5*time.Second, func() bool { return len(app.FailingStandbys()) == 0 }) {
		t.Fatalf("FailingStandbys = %+v after the changelog delivered again", app.FailingStandbys())
	}

	// A broker outage: the standby waits, the App does not fail.
	kf.Close()
	tail(500*time.Millisecond, nil)
}

// TestStandbyTailsWhileProcessingBlocks: standbys are tailed by the state
// updater, not the poll loop: while a processor of one instance is stuck
// on a record, that instance's standby of the other instance's task keeps
// following its changelog.
func TestStandbyTailsWhileProcessingBlocks(t *testing.T) {
	c := testkit.RealCluster(t)
	in, out := c.Topic(t, "sbblock-in", 2), c.Topic(t, "sbblock-out", 2)
	appID := testkit.UniqueName("sbblock-app")
	release := make(chan struct{})
	var released atomic.Bool
	defer func() {
		if released.CompareAndSwap(false, true) {
			close(release)
		}
	}()
	entered := make(chan struct{}, 1)
	count := countInto("counts")
	top := topology.New()
	topology.AddSource(top, "src", topology.Source[string, string]{Topics: []string{in}, Key: serde.String, Value: serde.String})
	topology.AddProcessor(top, "count", func() processor.Processor[string, string, string, string] {
		return &blocking{Processor: count(), entered: entered, release: release}
	}, "src")
	topology.AddKeyValueStore(top, topology.KeyValueStore[string, int64]{Name: "counts", Key: serde.String, Value: serde.JSON[int64]()}, "count")
	topology.AddSink(top, "sink", topology.Sink[string, string]{Topic: out, Key: serde.String, Value: serde.String}, "count")
	newApp := func(name string) *samsa.App {
		app, err := samsa.New(top, samsa.Config{ApplicationID: appID, Bootstrap: c.Bootstrap, StateDir: t.TempDir(),
			StandbyReplicas: 1, CommitInterval: 100 * time.Millisecond, InstanceID: name,
			Logger: testkit.Logger(t, slog.LevelWarn)})
		if err != nil {
			t.Fatal(err)
		}
		return app
	}
	a, b := newApp("a"), newApp("b")
	runA := testkit.Start(t, a)
	runB := testkit.Start(t, b)
	// Both instances settle: one active task each, a standby of the other.
	var bActive, aActive processor.TaskID
	runB.WaitFor(t, time.Minute, "one active task and one standby each", func() bool {
		at, bt := a.ActiveTasks(), b.ActiveTasks()
		if len(at) != 1 || len(bt) != 1 {
			return false
		}
		aActive, bActive = at[0], bt[0]
		_, ok := b.StandbyPositionsForTest()[aActive]
		return ok
	})
	// b's processor gets stuck on a record of its own task.
	if err := c.Produce(context.Background(), true, &kgo.Record{Topic: in, Partition: bActive.Partition, Key: []byte("x"), Value: []byte("block")}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-entered: // b's poll loop is inside the processor now
	case <-time.After(30 * time.Second):
		t.Fatal("b never processed the blocking record")
	}
	before := b.StandbyPositionsForTest()[aActive]
	recs := make([]*kgo.Record, 500)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: in, Partition: aActive.Partition, Key: []byte("k" + strconv.Itoa(i%50)), Value: []byte("v")}
	}
	if err := c.Produce(context.Background(), true, recs...); err != nil {
		t.Fatal(err)
	}
	runA.WaitFor(t, 30*time.Second, "a processing its records", func() bool { return a.Processed() >= int64(len(recs)) })
	runB.WaitFor(t, 20*time.Second, "b's standby following a's changelog while b's processor is stuck", func() bool {
		return b.StandbyPositionsForTest()[aActive] >= before+int64(len(recs))
	})
	if b.Processed() != 0 {
		t.Fatalf("b processed %d records: its processor was not stuck, the test proves nothing", b.Processed())
	}
	released.Store(true)
	close(release)
	if err := runB.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := runA.Stop(); err != nil {
		t.Fatal(err)
	}
}

// blocking is a processor that waits for release on a record whose value
// is "block", after saying so on entered.
type blocking struct {
	processor.Processor[string, string, string, string]
	entered chan<- struct{}
	release <-chan struct{}
}

func (p *blocking) Process(r processor.Record[string, string]) error {
	if r.Value == "block" {
		select {
		case p.entered <- struct{}{}:
		default:
		}
		<-p.release
	}
	return p.Processor.Process(r)
}
