package samsa_test

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// topicConfigs returns the configs of a topic that have a value.
func topicConfigs(t *testing.T, c *testkit.Cluster, topic string) map[string]string {
	t.Helper()
	m, _ := describeTopic(t, c, topic)
	return m
}

// describeTopic returns the configs of a topic that have a value, and the
// names of those set on the topic itself (not broker defaults).
func describeTopic(t *testing.T, c *testkit.Cluster, topic string) (map[string]string, map[string]bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rc, err := c.Admin().DescribeTopicConfigs(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	r, err := rc.On(topic, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, set := map[string]string{}, map[string]bool{}
	for _, cfg := range r.Configs {
		if cfg.Value != nil {
			m[cfg.Key] = *cfg.Value
		}
		set[cfg.Key] = cfg.Source == kmsg.ConfigSourceDynamicTopicConfig
	}
	return m, set
}

// TestInternalTopicConfigsValidation: New refuses the settings samsa sets
// itself and empty keys or values, naming the field and the key.
func TestInternalTopicConfigsValidation(t *testing.T) {
	top := countTopology("in", "out")
	for _, tc := range []struct {
		cfgs map[string]string
		want []string
	}{
		{map[string]string{"cleanup.policy": "delete"}, []string{"InternalTopicConfigs", "cleanup.policy"}},
		{map[string]string{"retention.ms": "1000"}, []string{"InternalTopicConfigs", "retention.ms"}},
		{map[string]string{"retention.bytes": "1000"}, []string{"InternalTopicConfigs", "retention.bytes"}},
		{map[string]string{"": "1"}, []string{"InternalTopicConfigs", "empty key"}},
		{map[string]string{"segment.bytes": ""}, []string{`InternalTopicConfigs["segment.bytes"] is empty`}},
		{map[string]string{"topic.segment.bytes": "1048576"}, []string{"InternalTopicConfigs", `"topic.segment.bytes"`, "prefix"}},
	} {
		_, err := samsa.New(top, samsa.Config{ApplicationID: "app", Bootstrap: []string{"127.0.0.1:1"}, InternalTopicConfigs: tc.cfgs})
		if !errors.Is(err, samsa.ErrConfig) {
			t.Errorf("New with InternalTopicConfigs %v = %v, want ErrConfig", tc.cfgs, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("New with InternalTopicConfigs %v = %v, want it to name %s", tc.cfgs, err, w)
			}
		}
	}
	// Both problems of one map are reported.
	_, err := samsa.New(top, samsa.Config{ApplicationID: "app", Bootstrap: []string{"127.0.0.1:1"},
		InternalTopicConfigs: map[string]string{"cleanup.policy": "compact", "retention.ms": "1"}})
	if err == nil || !strings.Contains(err.Error(), "cleanup.policy") || !strings.Contains(err.Error(), "retention.ms") {
		t.Errorf("New = %v, want both cleanup.policy and retention.ms named", err)
	}
	// Other settings are accepted.
	if _, err := samsa.New(top, samsa.Config{ApplicationID: "app", Bootstrap: []string{"127.0.0.1:1"},
		InternalTopicConfigs: map[string]string{"segment.bytes": "2097152", "min.insync.replicas": "1"}}); err != nil {
		t.Errorf("New with segment.bytes and min.insync.replicas = %v", err)
	}
}

// TestInternalTopicConfigsApplied: the changelog and repartition topics
// samsa creates carry InternalTopicConfigs, over samsa's own defaults
// (segment.bytes of repartition topics), beside samsa's own settings.
func TestInternalTopicConfigsApplied(t *testing.T) {
	c := testkit.RealCluster(t)
	in, out := c.Topic(t, "itc-in", 2), c.Topic(t, "itc-out", 2)
	produceGroups(t, c, in, 0, 100)
	appID := testkit.UniqueName("itc-app")
	app, err := samsa.New(groupCountTopology(in, out, nil), samsa.Config{
		ApplicationID: appID, Bootstrap: c.Bootstrap, StateDir: t.TempDir(), CommitInterval: 100 * time.Millisecond,
		Logger:               testkit.Logger(t, slog.LevelInfo),
		InternalTopicConfigs: map[string]string{"segment.bytes": "2097152", "min.insync.replicas": "1", "max.message.bytes": "2000000"},
	})
	if err != nil {
		t.Fatal(err)
	}
	runUntil(t, app, 200)
	for topic, policy := range map[string]string{
		topology.ChangelogTopic(appID, "group-counts"): "compact",
		topology.RepartitionTopic(appID, "by-group"):   "delete",
	} {
		got, set := describeTopic(t, c, topic)
		for k, want := range map[string]string{"segment.bytes": "2097152", "min.insync.replicas": "1", "max.message.bytes": "2000000", "cleanup.policy": policy} {
			if got[k] != want || !set[k] {
				t.Errorf("%s: %s=%q (set on the topic: %t), want %q set on the topic", topic, k, got[k], set[k], want)
			}
		}
	}
	if got := topicConfigs(t, c, topology.RepartitionTopic(appID, "by-group"))["retention.ms"]; got != "-1" {
		t.Errorf("repartition retention.ms=%q, want -1", got)
	}
}

// windowTopology counts per key and minute in the window store
// "per-minute" (retention 1h: its changelog needs 25h).
func windowTopology(in, out string) *topology.Topology {
	top := topology.New()
	topology.AddSource(top, "src", topology.Source[string, string]{Topics: []string{in}, Key: serde.String, Value: serde.String})
	topology.AddProcessor(top, "window-count", processor.Func[string, string, string, int64](func(ctx processor.Context[string, int64], r processor.Record[string, string]) error {
		ws, err := processor.GetWindowStore[string, int64](ctx, "per-minute")
		if err != nil {
			return err
		}
		start := r.Timestamp.Truncate(time.Minute)
		if err := ws.Put(r.Key, 1, start); err != nil {
			return err
		}
		ctx.Forward(processor.WithValue(r, int64(1)))
		return nil
	}).Supplier(), "src")
	topology.AddWindowStore(top, topology.WindowStore[string, int64]{Name: "per-minute", Key: serde.String, Value: serde.Int64, Retention: time.Hour}, "window-count")
	topology.AddSink(top, "sink", topology.Sink[string, int64]{Topic: out, Key: serde.String, Value: serde.Int64}, "window-count")
	return top
}

// TestInternalTopicChecks: an existing internal topic that does not have
// what samsa needs makes Run fail with ErrInternalTopic naming the topic
// and the setting.
func TestInternalTopicChecks(t *testing.T) {
	c := testkit.RealCluster(t)
	in, out := c.Topic(t, "itchk-in", 2), c.Topic(t, "itchk-out", 2)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	day := strconv.FormatInt((24 * time.Hour).Milliseconds(), 10)
	for _, tc := range []struct {
		name       string
		top        func(appID string) (*topology.Topology, string)
		partitions int32
		configs    map[string]*string
		want       []string
	}{
		{"changelog partitions", func(appID string) (*topology.Topology, string) {
			return countTopology(in, out), topology.ChangelogTopic(appID, "counts")
		}, 3, map[string]*string{"cleanup.policy": new("compact")}, []string{"changelog topic", "has 3 partitions", "needs 2"}},
		{"changelog delete", func(appID string) (*topology.Topology, string) {
			return countTopology(in, out), topology.ChangelogTopic(appID, "counts")
		}, 2, map[string]*string{"cleanup.policy": new("delete")}, []string{"changelog topic", "cleanup.policy=delete", "want compact"}},
		{"changelog compact,delete", func(appID string) (*topology.Topology, string) {
			return countTopology(in, out), topology.ChangelogTopic(appID, "counts")
		}, 2, map[string]*string{"cleanup.policy": new("compact,delete")}, []string{"changelog topic", "cleanup.policy=compact,delete", "want compact"}},
		{"repartition partitions", func(appID string) (*topology.Topology, string) {
			return groupCountTopology(in, out, nil), topology.RepartitionTopic(appID, "by-group")
		}, 3, map[string]*string{"cleanup.policy": new("delete")}, []string{"repartition topic", "has 3 partitions", "needs 2"}},
		{"window changelog retention.ms", func(appID string) (*topology.Topology, string) {
			return windowTopology(in, out), topology.ChangelogTopic(appID, "per-minute")
		}, 2, map[string]*string{"cleanup.policy": new("compact,delete"), "retention.ms": new(day)}, []string{"changelog topic", "retention.ms=" + day, "at least 90000000"}},
		{"window changelog retention.bytes", func(appID string) (*topology.Topology, string) {
			return windowTopology(in, out), topology.ChangelogTopic(appID, "per-minute")
		}, 2, map[string]*string{"cleanup.policy": new("compact,delete"), "retention.ms": new("90000000"), "retention.bytes": new("1048576")}, []string{"changelog topic", "retention.bytes=1048576", "want -1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			appID := testkit.UniqueName("itchk-app")
			top, topic := tc.top(appID)
			if err := c.CreateTopic(ctx, topic, tc.partitions, tc.configs); err != nil {
				t.Fatal(err)
			}
			app, err := samsa.New(top, samsa.Config{ApplicationID: appID, Bootstrap: c.Bootstrap, StateDir: t.TempDir(),
				StartupTimeout: 10 * time.Second, Logger: testkit.Logger(t, slog.LevelInfo)})
			if err != nil {
				t.Fatal(err)
			}
			runCtx, stop := context.WithTimeout(ctx, 30*time.Second)
			defer stop()
			err = app.Run(runCtx)
			if !errors.Is(err, samsa.ErrInternalTopic) || !strings.Contains(err.Error(), strconv.Quote(topic)) {
				t.Fatalf("Run = %v, want ErrInternalTopic naming %q", err, topic)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Run = %v, want it to say %q", err, w)
				}
			}
		})
	}
}

// TestStartupDoesNotWaitForTheMetadataCache: a fresh application creates
// its changelog topic and waits for its leaders by asking a broker, not
// through the client's metadata cache, which would answer "no leader" for
// MetadataMinAge after the creation (5 s by default, set to 60 s here so
// that the difference cannot be missed).
func TestStartupDoesNotWaitForTheMetadataCache(t *testing.T) {
	c := testkit.RealCluster(t)
	in, out := c.Topic(t, "fresh-in", 2), c.Topic(t, "fresh-out", 2)
	produceKeys(t, c, in, 100, 10)
	app, err := samsa.New(countTopology(in, out), samsa.Config{
		ApplicationID: testkit.UniqueName("fresh"), Bootstrap: c.Bootstrap, StateDir: t.TempDir(),
		Logger: testkit.Logger(t, slog.LevelInfo), ClientOptions: []kgo.Opt{kgo.MetadataMinAge(60 * time.Second)},
	})
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	run := testkit.Start(t, app)
	run.WaitFor(t, 20*time.Second, "the first record processed (well before the 60 s MetadataMinAge)", func() bool { return app.Processed() > 0 })
	t.Logf("first record processed %v after Run (changelog topic created)", time.Since(began).Round(time.Millisecond))
}
