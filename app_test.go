package samsa_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

func passTopology(in, out string) *topology.Topology {
	t := topology.New()
	topology.StreamOf(t, serde.String, serde.String, in).To(out, serde.String, serde.String)
	return t
}

func TestConfigErrorsNameTheField(t *testing.T) {
	top := passTopology("a", "b")
	for _, c := range []struct {
		cfg  samsa.Config
		want string
	}{
		{samsa.Config{Bootstrap: []string{"x:1"}}, "ApplicationID"},
		{samsa.Config{ApplicationID: "a"}, "Bootstrap"},
		{samsa.Config{ApplicationID: "a", Bootstrap: []string{"x:1"}, CommitInterval: -time.Second}, "CommitInterval"},
		{samsa.Config{ApplicationID: "a", Bootstrap: []string{"x:1"}, Guarantee: 7}, "Guarantee"},
	} {
		_, err := samsa.New(top, c.cfg)
		if !errors.Is(err, samsa.ErrConfig) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v) = %v, want ErrConfig naming %s", c.cfg, err, c.want)
		}
	}
}

func TestStartupFailsOnMissingTopic(t *testing.T) {
	c := testkit.EmbeddedCluster(t)
	in := c.Topic(t, "in", 2)
	app, err := samsa.New(passTopology(in, "no-such-output"), samsa.Config{
		ApplicationID: testkit.UniqueName("app"), Bootstrap: c.Bootstrap, Logger: testkit.Logger(t, slog.LevelInfo),
		StartupTimeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	err = app.Run(context.Background())
	if !errors.Is(err, samsa.ErrMissingTopic) || !strings.Contains(err.Error(), `"no-such-output"`) || !strings.Contains(err.Error(), "StartupTimeout") {
		t.Fatalf("Run = %v, want ErrMissingTopic naming the topic and StartupTimeout", err)
	}
	if took := time.Since(began); took < time.Second || took > 10*time.Second {
		t.Errorf("Run failed after %s, want about StartupTimeout (2s) of waiting for the topic", took)
	}
	if app.State() != samsa.StateError {
		t.Errorf("state = %s, want ERROR", app.State())
	}
}

func TestStartupFailsOnCopartitionMismatch(t *testing.T) {
	c := testkit.EmbeddedCluster(t)
	a := c.Topic(t, "left", 4)
	b := c.Topic(t, "right", 3)
	out := c.Topic(t, "out", 4)
	top := topology.New()
	l := topology.StreamOf(top, serde.String, serde.String, a)
	r := topology.StreamOf(top, serde.String, serde.String, b)
	l.Merge(r).To(out, serde.String, serde.String)
	app, err := samsa.New(top, samsa.Config{ApplicationID: testkit.UniqueName("app"), Bootstrap: c.Bootstrap, Logger: testkit.Logger(t, slog.LevelInfo)})
	if err != nil {
		t.Fatal(err)
	}
	err = app.Run(context.Background())
	if !errors.Is(err, samsa.ErrCopartition) || !strings.Contains(err.Error(), a+"=4") || !strings.Contains(err.Error(), b+"=3") {
		t.Fatalf("Run = %v, want ErrCopartition naming both topics and counts", err)
	}
}

func TestBadRecordStopsTheAppNamingItsPlace(t *testing.T) {
	c := testkit.EmbeddedCluster(t)
	in := c.Topic(t, "in", 1)
	out := c.Topic(t, "out", 1)
	top := topology.New()
	topology.StreamOf(top, serde.String, serde.JSON[map[string]int](), in).To(out, serde.String, serde.JSON[map[string]int]())
	var mu sync.Mutex
	var states []samsa.State
	app, err := samsa.New(top, samsa.Config{
		ApplicationID: testkit.UniqueName("app"), Bootstrap: c.Bootstrap, Logger: testkit.Logger(t, slog.LevelInfo),
		StateListener: func(_, s samsa.State) { mu.Lock(); states = append(states, s); mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Produce(ctx, true,
		&kgo.Record{Topic: in, Key: []byte("k"), Value: []byte(`{"a":1}`)},
		&kgo.Record{Topic: in, Key: []byte("k"), Value: []byte(`{"a":`)},
	); err != nil {
		t.Fatal(err)
	}
	err = app.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), `topic "`+in+`" partition 0 offset 1`) || !errors.Is(err, serde.ErrDeserialize) {
		t.Fatalf("Run = %v, want a deserialization error naming topic, partition 0 and offset 1", err)
	}
	mu.Lock()
	defer mu.Unlock()
	got := make([]string, len(states))
	for i, s := range states {
		got[i] = s.String()
	}
	if strings.Join(got, ",") != "REBALANCING,RUNNING,PENDING_SHUTDOWN,ERROR" {
		t.Errorf("states = %v", got)
	}
}

// counter counts records per key in a store and emits the running count; a
// wall-clock punctuator emits a heartbeat record.
type counter struct {
	ctx   processor.Context[string, int64]
	store processor.KeyValueStore[string, int64]
}

func (p *counter) Init(ctx processor.Context[string, int64]) error {
	p.ctx = ctx
	s, err := processor.GetKeyValueStore[string, int64](ctx, "counts")
	if err != nil {
		return err
	}
	p.store = s
	ctx.Schedule(50*time.Millisecond, processor.WallClockTime, func(now time.Time) error {
		ctx.Forward(processor.NewRecord("heartbeat", int64(-1), now))
		return nil
	})
	return nil
}

func (p *counter) Process(r processor.Record[string, string]) error {
	n, _, err := p.store.Get(r.Key)
	if err != nil {
		return err
	}
	n++
	if err := p.store.Put(r.Key, n); err != nil {
		return err
	}
	p.ctx.Forward(processor.WithValue(r, n))
	return nil
}

func (p *counter) Close() error { return nil }

func TestStoreAndWallClockPunctuation(t *testing.T) {
	c := testkit.EmbeddedCluster(t)
	in := c.Topic(t, "in", 2)
	out := c.Topic(t, "out", 2)
	top := topology.New()
	topology.AddSource(top, "src", topology.Source[string, string]{Topics: []string{in}, Key: serde.String, Value: serde.String})
	topology.AddProcessor(top, "count", func() processor.Processor[string, string, string, int64] { return &counter{} }, "src")
	topology.AddKeyValueStore(top, topology.KeyValueStore[string, int64]{Name: "counts", Key: serde.String, Value: serde.JSON[int64]()}, "count")
	topology.AddSink(top, "sink", topology.Sink[string, int64]{Topic: out, Key: serde.String, Value: serde.JSON[int64]()}, "count")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for i := range 300 {
		recs = append(recs, &kgo.Record{Topic: in, Key: []byte([]string{"a", "b", "c"}[i%3]), Value: []byte("x")})
	}
	if err := c.Produce(ctx, false, recs...); err != nil {
		t.Fatal(err)
	}
	app, err := samsa.New(top, samsa.Config{ApplicationID: testkit.UniqueName("app"), Bootstrap: c.Bootstrap, CommitInterval: 100 * time.Millisecond, Logger: testkit.Logger(t, slog.LevelInfo)})
	if err != nil {
		t.Fatal(err)
	}
	run := testkit.Start(t, app)
	run.WaitFor(t, 30*time.Second, "input processed", func() bool { return app.Processed() >= 300 })
	time.Sleep(300 * time.Millisecond) // let heartbeats fire
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}
	got, err := c.ReadTopic(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	last := map[string]int64{}
	heartbeats := 0
	for _, rs := range got {
		for _, r := range rs {
			n, err := serde.JSON[int64]().Deserialize(out, r.Value)
			if err != nil {
				t.Fatal(err)
			}
			if string(r.Key) == "heartbeat" {
				heartbeats++
				continue
			}
			if n != last[string(r.Key)]+1 {
				t.Fatalf("key %s: count %d after %d", r.Key, n, last[string(r.Key)])
			}
			last[string(r.Key)] = n
		}
	}
	for _, k := range []string{"a", "b", "c"} {
		if last[k] != 100 {
			t.Errorf("count of %s = %d, want 100", k, last[k])
		}
	}
	if heartbeats < 2 {
		t.Errorf("%d wall-clock heartbeats in 300ms+ of running at 50ms, want several", heartbeats)
	}
}

func TestRequestCommitCommitsBeforeTheInterval(t *testing.T) {
	c := testkit.EmbeddedCluster(t)
	in, out := c.Topic(t, "in", 1), c.Topic(t, "out", 1)
	top := topology.New()
	s := topology.StreamOf(top, serde.String, serde.String, in)
	topology.Process(s, processor.Func[string, string, string, string](func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
		if r.Value == "commit" {
			ctx.RequestCommit()
		}
		ctx.Forward(r)
		return nil
	}).Supplier()).To(out, serde.String, serde.String)
	appID := testkit.UniqueName("app")
	app, err := samsa.New(top, samsa.Config{ApplicationID: appID, Bootstrap: c.Bootstrap, CommitInterval: time.Hour, Logger: testkit.Logger(t, slog.LevelInfo)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Produce(ctx, true, &kgo.Record{Topic: in, Value: []byte("a")}, &kgo.Record{Topic: in, Value: []byte("commit")}); err != nil {
		t.Fatal(err)
	}
	run := testkit.Start(t, app)
	run.WaitFor(t, 20*time.Second, "the commit request to commit offset 2", func() bool {
		off, err := c.CommittedOffsets(ctx, appID)
		return err == nil && off[in][0] == 2
	})
}

// TestStartupWaitsForTopics: an App started just before its topics exist
// waits for them (up to StartupTimeout) instead of failing.
func TestStartupWaitsForTopics(t *testing.T) {
	c := testkit.EmbeddedCluster(t)
	in, out := testkit.UniqueName("late-in"), testkit.UniqueName("late-out")
	logs := &syncBuffer{}
	app, err := samsa.New(passTopology(in, out), samsa.Config{
		ApplicationID: testkit.UniqueName("app"), Bootstrap: c.Bootstrap,
		Logger:         slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
		StartupTimeout: 20 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	run := testkit.Start(t, app)
	run.WaitFor(t, 10*time.Second, "a log line about the missing topics", func() bool {
		return strings.Contains(logs.String(), "waiting for topics to exist") && strings.Contains(logs.String(), in)
	})
	ctx := context.Background()
	for _, topic := range []string{in, out} {
		if err := c.CreateTopic(ctx, topic, 1, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Produce(ctx, false, &kgo.Record{Topic: in, Key: []byte("k"), Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	run.WaitFor(t, 30*time.Second, "the record processed", func() bool { return app.Processed() >= 1 })
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}
}

// TestCopartitionCheckedBeforeInternalTopics: a topology that cannot run
// for its partition counts fails before any internal topic is created.
func TestCopartitionCheckedBeforeInternalTopics(t *testing.T) {
	c := testkit.EmbeddedCluster(t)
	a := c.Topic(t, "left", 4)
	b := c.Topic(t, "right", 3)
	out := c.Topic(t, "out", 4)
	top := topology.New()
	l := topology.StreamOf(top, serde.String, serde.String, a)
	r := topology.StreamOf(top, serde.String, serde.String, b)
	topology.Count(l.Merge(r), "counts", serde.String).To(out, serde.String, serde.Int64)
	appID := testkit.UniqueName("app")
	app, err := samsa.New(top, samsa.Config{ApplicationID: appID, Bootstrap: c.Bootstrap, Logger: testkit.Logger(t, slog.LevelInfo)})
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Run(context.Background()); !errors.Is(err, samsa.ErrCopartition) {
		t.Fatalf("Run = %v, want ErrCopartition", err)
	}
	changelog := topology.ChangelogTopic(appID, "counts")
	topics, err := c.Admin().ListTopics(context.Background(), changelog)
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := topics[changelog]; ok && d.Err == nil {
		t.Fatalf("changelog topic %q was created for a topology that cannot run", changelog)
	}
}
