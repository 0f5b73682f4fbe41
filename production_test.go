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
		Logger: testkit.Logger(t, slog.LevelWarn),
		// The record cache off: every update is written and emitted, one
		// per input record, for the policies to act on.
		CacheMaxBytes: -1}
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

func headerMap(r *kgo.Record) map[string]string {
	h := map[string]string{}
	for _, x := range r.Headers {
		h[x.Key] = string(x.Value)
	}
	return h
}

// checkDeadLetter asserts that dl holds exactly the input record at offset
// 10 of in, with the production headers of task 0_0.
func checkDeadLetter(t *testing.T, dl []*kgo.Record, in, appID string) {
	t.Helper()
	if len(dl) != 1 {
		t.Fatalf("%d dead letters, want 1: %v", len(dl), values(dl))
	}
	h := headerMap(dl[0])
	if string(dl[0].Value) != "inflate-10" || string(dl[0].Key) != "k1" {
		t.Errorf("dead letter %s=%s, want the original input k1=inflate-10", dl[0].Key, dl[0].Value)
	}
	if h[samsa.HeaderErrorKind] != "production" || h[samsa.HeaderSourceTopic] != in || h[samsa.HeaderSourcePartition] != "0" ||
		h[samsa.HeaderSourceOffset] != "10" || h[samsa.HeaderTask] != "0_0" || h[samsa.HeaderApplicationID] != appID ||
		!strings.Contains(h[samsa.HeaderErrorMessage], "MESSAGE_TOO_LARGE") {
		t.Errorf("dead letter headers %v", h)
	}
}

// TestProductionSkipAndDeadLetter: under both guarantees, the input record
// whose output is over the topic's limit is skipped or dead-lettered (its
// original bytes, the real task id), every other output is written (once
// under exactly-once), and the group commits past it.
func TestProductionSkipAndDeadLetter(t *testing.T) {
	c := testkit.RealCluster(t)
	for _, g := range guarantees {
		for _, pol := range []samsa.ErrorPolicy{samsa.Skip, samsa.DeadLetter} {
			t.Run(g.String()+"/"+pol.String(), func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
				defer cancel()
				in, dlq := c.Topic(t, "pol-in", 1), c.Topic(t, "pol-dlq", 1)
				out := smallTopic(ctx, t, c, "pol-out", 1, nil)
				produceInputs(ctx, t, c, in, 20, func(i int) bool { return i == 10 })
				appID := testkit.UniqueName("pol-app")
				app, err := samsa.New(inflating(in, out), appConfig(t, c, appID, g, pol, dlq))
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
					switch {
					case i == 10 && got["big"] != 0:
						t.Errorf("the rejected output was written")
					case i != 10 && (got[v] == 0 || g == samsa.ExactlyOnce && got[v] != 1):
						t.Errorf("output %q written %d times", v, got[v])
					}
				}
				checkPolicyOutcome(ctx, t, c, app, pol, dlq, in, appID)
			})
		}
	}
}

// TestProductionDeadLetterRejected: a dead letter the broker rejects stops
// the app before the offsets are committed.
func TestProductionDeadLetterRejected(t *testing.T) {
	c := testkit.RealCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	in := c.Topic(t, "dlr-in", 1)
	out := smallTopic(ctx, t, c, "dlr-out", 1, nil)
	tiny := "100" // smaller than the dead letter's headers
	dlq := testkit.UniqueName("dlr-dlq")
	if err := c.CreateTopic(ctx, dlq, 1, map[string]*string{"max.message.bytes": &tiny}); err != nil {
		t.Fatal(err)
	}
	produceInputs(ctx, t, c, in, 20, func(i int) bool { return i == 10 })
	appID := testkit.UniqueName("dlr-app")
	app, err := samsa.New(inflating(in, out), appConfig(t, c, appID, samsa.AtLeastOnce, samsa.DeadLetter, dlq))
	if err != nil {
		t.Fatal(err)
	}
	err = app.Run(ctx)
	if !errors.Is(err, samsa.ErrProduction) || !strings.Contains(err.Error(), fmt.Sprintf("dead letter to topic %q", dlq)) {
		t.Fatalf("Run = %v, want an ErrProduction naming the dead-letter topic", err)
	}
	if got := committed(ctx, t, c, appID, in); got > 10 {
		t.Fatalf("group committed offset %d past the record whose dead letter was rejected", got)
	}
}

// TestProductionPromiseNeverBlocks: with a producer buffer of 10 records,
// 500 inputs whose outputs are all rejected are all dead-lettered and
// committed. Producing dead letters inside the promise deadlocks here.
func TestProductionPromiseNeverBlocks(t *testing.T) {
	c := testkit.RealCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	in, dlq := c.Topic(t, "pnb-in", 1), c.Topic(t, "pnb-dlq", 1)
	out := smallTopic(ctx, t, c, "pnb-out", 1, nil)
	const n = 500
	produceInputs(ctx, t, c, in, n, func(int) bool { return true })
	appID := testkit.UniqueName("pnb-app")
	cfg := appConfig(t, c, appID, samsa.AtLeastOnce, samsa.DeadLetter, dlq)
	cfg.ClientOptions = []kgo.Opt{kgo.MaxBufferedRecords(10)}
	app, err := samsa.New(inflating(in, out), cfg)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- app.Run(runCtx) }()
	deadline := time.Now().Add(40 * time.Second)
	for committed(ctx, t, c, appID, in) < n {
		select {
		case err := <-done:
			t.Fatalf("Run returned %v before committing %d offsets", err, n)
		default:
		}
		if time.Now().After(deadline) {
			stop() // Run may be deadlocked: do not wait for it
			t.Fatalf("offset %d not committed after 40s (committed %d, dead-lettered %d): the app hangs", n, committed(ctx, t, c, appID, in), app.DeadLettered())
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	dl, err := c.ReadTopic(ctx, dlq)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range dl[0] {
		seen[string(r.Value)] = true
	}
	if len(seen) != n || app.DeadLettered() != n {
		t.Fatalf("%d distinct dead letters (%d records), dead-lettered %d; want %d", len(seen), len(dl[0]), app.DeadLettered(), n)
	}
}

// lastValue keeps the last value of each key in the store "last" (logged)
// and emits it: "inflate" values are over the changelog topic's limit.
func lastValue(in, out string) *topology.Topology {
	top := topology.New()
	s := topology.StreamOf(top, serde.String, serde.String, in)
	s = topology.MapValues(s, func(_, v string) string {
		if strings.HasPrefix(v, "inflate") {
			return strings.Repeat("x", bigValue)
		}
		return v
	})
	topology.Aggregate(s, "last", func() string { return "" }, func(_, v, _ string) string { return v }, serde.String, serde.String).
		To(out, serde.String, serde.String)
	return top
}

// TestProductionChangelogRejected: a store value over the changelog topic's
// limit is never committed past: Fail stops the app naming the changelog
// and the store with the offset below the record; Skip and DeadLetter hand
// the input record to the policy and commit the rest.
func TestProductionChangelogRejected(t *testing.T) {
	c := testkit.RealCluster(t)
	for _, g := range guarantees {
		for _, pol := range []samsa.ErrorPolicy{samsa.Fail, samsa.Skip, samsa.DeadLetter} {
			t.Run(g.String()+"/"+pol.String(), func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
				defer cancel()
				in, out, dlq := c.Topic(t, "cl-in", 1), c.Topic(t, "cl-out", 1), c.Topic(t, "cl-dlq", 1)
				produceInputs(ctx, t, c, in, 20, func(i int) bool { return i == 10 })
				appID := testkit.UniqueName("cl-app")
				changelog := topology.ChangelogTopic(appID, "last")
				compact := "compact"
				if err := c.CreateTopic(ctx, changelog, 1, map[string]*string{"cleanup.policy": &compact, "max.message.bytes": ptr(smallLimit)}); err != nil {
					t.Fatal(err)
				}
				app, err := samsa.New(lastValue(in, out), appConfig(t, c, appID, g, pol, dlq))
				if err != nil {
					t.Fatal(err)
				}
				if pol == samsa.Fail {
					err := app.Run(ctx)
					if !errors.Is(err, samsa.ErrProduction) || !strings.Contains(err.Error(), fmt.Sprintf("changelog topic %q", changelog)) || !strings.Contains(err.Error(), `store "last"`) {
						t.Fatalf("Run = %v, want an ErrProduction naming changelog topic %q and store \"last\"", err, changelog)
					}
					if got := committed(ctx, t, c, appID, in); got > 10 {
						t.Fatalf("group committed offset %d past the record whose changelog write was rejected", got)
					}
					return
				}
				runToCommit(ctx, t, c, app, appID, in, 20)
				cl, err := c.ReadTopic(ctx, changelog)
				if err != nil {
					t.Fatal(err)
				}
				// An aggregate's changelog value is the timestamped
				// format: 8 bytes of milliseconds, then the value.
				last := map[string]string{}
				for _, r := range cl[0] {
					if len(r.Value) < 8 {
						t.Fatalf("changelog record %q of %d bytes, want a timestamped value", r.Key, len(r.Value))
					}
					last[string(r.Key)] = string(r.Value[8:])
				}
				want := map[string]string{"k0": "v-18", "k1": "v-19", "k2": "v-17"}
				for k, v := range want {
					if last[k] != v {
						t.Errorf("changelog: last value of %s = %.20q, want %q", k, last[k], v)
					}
				}
				outs, err := c.ReadTopic(ctx, out)
				if err != nil {
					t.Fatal(err)
				}
				// Under at-least-once the first attempt's outputs stay
				// visible; under exactly-once only the 19 good ones.
				got := values(outs[0])
				for i := range 20 {
					if v := "v-" + strconv.Itoa(i); i != 10 && got[v] == 0 {
						t.Errorf("output %q missing", v)
					}
				}
				if g == samsa.ExactlyOnce && (got["big"] != 0 || len(outs[0]) != 19) {
					t.Errorf("outputs %v, want the 19 good records once", got)
				}
				checkPolicyOutcome(ctx, t, c, app, pol, dlq, in, appID)
			})
		}
	}
}

func ptr(s string) *string { return &s }

// checkPolicyOutcome checks that one input record was skipped (no dead
// letter) or dead-lettered once with its headers, as the policy says.
func checkPolicyOutcome(ctx context.Context, t *testing.T, c *testkit.Cluster, app *samsa.App, pol samsa.ErrorPolicy, dlq, in, appID string) {
	t.Helper()
	dl, err := c.ReadTopic(ctx, dlq)
	if err != nil {
		t.Fatal(err)
	}
	switch pol {
	case samsa.Skip:
		if app.Skipped() != 1 || len(dl[0]) != 0 {
			t.Errorf("skipped %d, %d dead letters; want 1 and 0", app.Skipped(), len(dl[0]))
		}
	case samsa.DeadLetter:
		if app.DeadLettered() != 1 {
			t.Errorf("dead-lettered %d, want 1", app.DeadLettered())
		}
		checkDeadLetter(t, dl[0], in, appID)
	}
}
