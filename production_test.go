package samsa_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// The broker's limit on the topics of these tests, and a value over it.
const (
	smallLimit = "2000"
	bigValue   = 50000
)

var guarantees = []samsa.Guarantee{samsa.AtLeastOnce, samsa.ExactlyOnce}

// smallTopic creates a topic whose records may not exceed smallLimit bytes.
func smallTopic(ctx context.Context, t *testing.T, c *testkit.Cluster, prefix string, partitions int32, configs map[string]*string) string {
	t.Helper()
	name := testkit.UniqueName(prefix)
	limit := smallLimit
	if configs == nil {
		configs = map[string]*string{}
	}
	configs["max.message.bytes"] = &limit
	if err := c.CreateTopic(ctx, name, partitions, configs); err != nil {
		t.Fatal(err)
	}
	return name
}

// raiseLimit lifts the topic's max.message.bytes to the broker default.
func raiseLimit(ctx context.Context, t *testing.T, c *testkit.Cluster, topic string) {
	t.Helper()
	big := "1048588"
	rs, err := c.Admin().AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "max.message.bytes", Value: &big}}, topic)
	if err == nil {
		_, err = rs.On(topic, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// inflating maps "inflate" to a value over smallLimit and everything else to itself.
func inflating(in, out string) *topology.Topology {
	top := topology.New()
	s := topology.StreamOf(top, serde.String, serde.String, in)
	topology.MapValues(s, func(_, v string) string {
		if strings.HasPrefix(v, "inflate") {
			return strings.Repeat("x", bigValue)
		}
		return v
	}).To(out, serde.String, serde.String)
	return top
}

// produceInputs writes n records "v-<i>" to partition 0 of in, "inflate-<i>" at the bad indexes.
func produceInputs(ctx context.Context, t *testing.T, c *testkit.Cluster, in string, n int, bad func(int) bool) {
	t.Helper()
	recs := make([]*kgo.Record, 0, n)
	for i := range n {
		v := "v-" + strconv.Itoa(i)
		if bad(i) {
			v = "inflate-" + strconv.Itoa(i)
		}
		recs = append(recs, &kgo.Record{Topic: in, Key: []byte("k" + strconv.Itoa(i%3)), Value: []byte(v)})
	}
	if err := c.Produce(ctx, true, recs...); err != nil {
		t.Fatal(err)
	}
}

func committed(ctx context.Context, t *testing.T, c *testkit.Cluster, group, topic string) int64 {
	t.Helper()
	offs, err := c.CommittedOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	o, ok := offs[topic][0]
	if !ok {
		return -1
	}
	return o
}

// runToCommit runs app until the group committed offset want on partition 0 of in.
func runToCommit(ctx context.Context, t *testing.T, c *testkit.Cluster, app *samsa.App, group, in string, want int64) {
	t.Helper()
	run := testkit.Start(t, app)
	run.WaitFor(t, 60*time.Second, fmt.Sprintf("offset %d committed", want), func() bool { return committed(ctx, t, c, group, in) >= want })
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}
}

func values(recs []*kgo.Record) map[string]int {
	m := map[string]int{}
	for _, r := range recs {
		v := string(r.Value)
		if len(v) > 100 {
			v = "big"
		}
		m[v]++
	}
	return m
}

// appConfig commits after every batch (CommitInterval 1ns): the rejection
// then surfaces in the flush of the commit that would carry the offsets.
func appConfig(t *testing.T, c *testkit.Cluster, appID string, g samsa.Guarantee, pol samsa.ErrorPolicy, dlq string) samsa.Config {
	return samsa.Config{ApplicationID: appID, Bootstrap: c.Bootstrap, StateDir: t.TempDir(), Guarantee: g,
		CommitInterval: time.Nanosecond, Errors: samsa.ErrorPolicies{Production: pol}, DeadLetterTopic: dlq,
		Logger: testkit.Logger(t, slog.LevelWarn)}
}

// TestProductionFailCommitsNothingPast: one output among 20 is over the
// output topic's limit. Under Fail, Run returns an error that names the
// output and the input record, the group's offset stays below that record,
// and once the limit is raised a restart writes every output (exactly once
// under exactly-once).
func TestProductionFailCommitsNothingPast(t *testing.T) {
	c := testkit.RealCluster(t)
	for _, g := range guarantees {
		t.Run(g.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			in := c.Topic(t, "fail-in", 1)
			out := smallTopic(ctx, t, c, "fail-out", 1, nil)
			produceInputs(ctx, t, c, in, 20, func(i int) bool { return i == 10 })
			appID := testkit.UniqueName("fail-app")
			app, err := samsa.New(inflating(in, out), appConfig(t, c, appID, g, samsa.Fail, ""))
			if err != nil {
				t.Fatal(err)
			}
			err = app.Run(ctx)
			want := fmt.Sprintf("topic %q partition 0", out)
			origin := fmt.Sprintf("topic %q partition 0 offset 10", in)
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), origin) || !errors.Is(err, samsa.ErrProduction) {
				t.Fatalf("Run = %v, want an ErrProduction naming %s and the input record at %s", err, want, origin)
			}
			if got := committed(ctx, t, c, appID, in); got > 10 {
				t.Fatalf("group committed offset %d past the rejected record at offset 10", got)
			}
			raiseLimit(ctx, t, c, out)
			app, err = samsa.New(inflating(in, out), appConfig(t, c, appID, g, samsa.Fail, ""))
			if err != nil {
				t.Fatal(err)
			}
			runToCommit(ctx, t, c, app, appID, in, 20)
			recs, err := c.ReadTopic(ctx, out)
			if err != nil {
				t.Fatal(err)
			}
			got := values(recs[0])
			for i := range 20 {
				v := "v-" + strconv.Itoa(i)
				if i == 10 {
					v = "big"
				}
				if got[v] == 0 || (g == samsa.ExactlyOnce && got[v] != 1) {
					t.Errorf("output %q written %d times", v, got[v])
				}
			}
		})
	}
}
