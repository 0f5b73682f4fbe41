package samsa_test

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// TestOperatorErrorsReachThePolicy: an aggregation whose adder fails, and a
// mapper or predicate that fails, hand the record to the processing-error
// policy: under Skip it is counted and left out, the aggregate is not
// touched, and the app goes on.
func TestOperatorErrorsReachThePolicy(t *testing.T) {
	c := testkit.EmbeddedCluster(t)
	in, out := c.Topic(t, "amounts", 1), c.Topic(t, "totals", 1)
	top := topology.New()
	s := topology.StreamOf(top, serde.String, serde.String, in)
	parsed := topology.MapValuesErr(s, func(_ string, v string) (int64, error) { return strconv.ParseInt(v, 10, 64) }).
		FilterErr(func(_ string, n int64) (bool, error) {
			if n == 13 {
				return false, errors.New("unlucky amount")
			}
			return true, nil
		})
	topology.AggregateErr(parsed, "totals", func() int64 { return 0 }, func(_ string, n, total int64) (int64, error) {
		if total+n > 1000 {
			return 0, errors.New("total over the limit")
		}
		return total + n, nil
	}, serde.String, serde.Int64).To(out, serde.String, serde.Int64)

	var recs []*kgo.Record
	for _, v := range []string{"100", "x", "13", "900", "200", "50"} {
		recs = append(recs, &kgo.Record{Topic: in, Key: []byte("acct"), Value: []byte(v)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Produce(ctx, false, recs...); err != nil {
		t.Fatal(err)
	}
	app, err := samsa.New(top, samsa.Config{ApplicationID: testkit.UniqueName("totals-app"), Bootstrap: c.Bootstrap,
		StateDir: t.TempDir(), CommitInterval: 100 * time.Millisecond,
		Errors: samsa.ErrorPolicies{Processing: samsa.Skip}, Logger: testkit.Logger(t, slog.LevelError),
		CacheMaxBytes: -1}) // every total is emitted, to be compared
	if err != nil {
		t.Fatal(err)
	}
	run := testkit.Start(t, app)
	run.WaitFor(t, 20*time.Second, "all six records handled", func() bool { return app.Processed() >= 6 })
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}
	// "x" fails to parse and 13 fails the predicate; the total goes to 100,
	// then 1000; 200 and then 50 would pass the limit: four skipped.
	got, err := c.ReadTopic(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	var totals []int64
	for _, r := range got[0] {
		n, err := serde.Int64.Deserialize(out, r.Value)
		if err != nil {
			t.Fatal(err)
		}
		totals = append(totals, n)
	}
	want := []int64{100, 1000}
	if len(totals) != len(want) || totals[0] != want[0] || totals[1] != want[1] {
		t.Fatalf("totals %v, want %v (the failing records skipped, the aggregate untouched by them)", totals, want)
	}
	if app.Skipped() != 4 {
		t.Fatalf("skipped %d, want 4 (x, 13, 200 and 50 over the limit)", app.Skipped())
	}
}
