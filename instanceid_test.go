package samsa_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// TestGeneratedInstanceIDIsKeptInTheStateDir runs an exactly-once App with
// no InstanceID twice on one StateDir: both runs use one transactional id
// (kept in StateDir/samsa-instance-id), so a restart after a crash fences
// its own unfinished transaction at once. With InMemoryState each App gets
// a new id.
func TestGeneratedInstanceIDIsKeptInTheStateDir(t *testing.T) {
	c := testkit.RealCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run := func(t *testing.T, appID, in, out, dir string, inMemory bool) {
		t.Helper()
		var recs []*kgo.Record
		for i := range 5 {
			recs = append(recs, &kgo.Record{Topic: in, Key: fmt.Appendf(nil, "k%d", i), Value: []byte("v")})
		}
		if err := c.Produce(ctx, false, recs...); err != nil {
			t.Fatal(err)
		}
		top := topology.New()
		topology.StreamOf(top, serde.String, serde.String, in).To(out, serde.String, serde.String)
		app, err := samsa.New(top, samsa.Config{ApplicationID: appID, Bootstrap: c.Bootstrap, Guarantee: samsa.ExactlyOnce,
			CommitInterval: 100 * time.Millisecond, StateDir: dir, InMemoryState: inMemory, Logger: testkit.Logger(t, 0)})
		if err != nil {
			t.Fatal(err)
		}
		r := testkit.Start(t, app)
		r.WaitFor(t, 60*time.Second, "5 records processed", func() bool { return app.Processed() >= 5 })
		if err := r.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	transactionalIDs := func(t *testing.T, appID string) []string {
		t.Helper()
		txns, err := c.Admin().ListTransactions(ctx, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for id := range txns {
			if strings.HasPrefix(id, appID+"-") {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		return ids
	}
	for _, inMemory := range []bool{false, true} {
		t.Run(fmt.Sprintf("in memory %v", inMemory), func(t *testing.T) {
			in, out := c.Topic(t, "iid-in", 1), c.Topic(t, "iid-out", 1)
			appID, dir := testkit.UniqueName("iid-app"), t.TempDir()
			run(t, appID, in, out, dir, inMemory)
			run(t, appID, in, out, dir, inMemory)
			ids := transactionalIDs(t, appID)
			kept, err := os.ReadFile(filepath.Join(dir, "samsa-instance-id"))
			switch {
			case inMemory && len(ids) != 2:
				t.Fatalf("transactional ids of two in-memory Apps: %v, want 2", ids)
			case inMemory && err == nil:
				t.Fatalf("an in-memory App kept its instance id in %s", dir)
			case !inMemory && len(ids) != 1:
				t.Fatalf("transactional ids of two Apps on one StateDir: %v, want 1", ids)
			case !inMemory && (err != nil || appID+"-"+strings.TrimSpace(string(kept)) != ids[0]):
				t.Fatalf("kept instance id %q (err %v), transactional id %s", kept, err, ids[0])
			}
		})
	}
}
