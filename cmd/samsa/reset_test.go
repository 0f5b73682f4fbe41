package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// resetApp counts the records per key of in into out, through a
// repartition topic (Map changes the key to its first letter) and a
// changelogged store.
func resetApp(t *testing.T, c *testkit.Cluster, appID, in, out, stateDir string) *samsa.App {
	t.Helper()
	top := topology.New()
	s := topology.StreamOf(top, serde.String, serde.String, in)
	byLetter := topology.Map(s, func(k, v string) (string, string) { return k[:1], v })
	topology.Count(byLetter, "letters", serde.String).To(out, serde.String, serde.Int64)
	app, err := samsa.New(top, samsa.Config{
		ApplicationID: appID, Bootstrap: c.Bootstrap, StateDir: stateDir,
		CommitInterval: 100 * time.Millisecond, Logger: testkit.Logger(t, 0),
		CacheMaxBytes: -1, // the test counts every update of the counts
	})
	if err != nil {
		t.Fatal(err)
	}
	return app
}

// lastCounts reads out and returns the last count written per key, and the
// number of records.
func lastCounts(t *testing.T, c *testkit.Cluster, out string) (map[string]int64, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	parts, err := c.ReadTopic(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	last, n := map[string]int64{}, 0
	for _, recs := range parts {
		for _, r := range recs {
			v, err := serde.Int64.Deserialize(out, r.Value)
			if err != nil {
				t.Fatal(err)
			}
			last[string(r.Key)] = v
			n++
		}
	}
	return last, n
}

func resetCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), append([]string{"reset"}, args...), &out, &errb)
	t.Logf("samsa reset %s:\n%s%s", strings.Join(args, " "), out.String(), errb.String())
	return out.String(), err
}

// TestResetReprocessesFromScratch: an application counts 12 records; with an
// instance running, reset refuses; a dry run changes nothing; reset rewinds
// the input to offset 0, deletes the changelog, the repartition topic and the
// local state, so that a second run computes the same counts again (not
// doubled, which a rewind without deleting the state would give).
func TestResetReprocessesFromScratch(t *testing.T) {
	c := testkit.RealCluster(t)
	in, out := c.Topic(t, "reset-in", 2), c.Topic(t, "reset-out", 1)
	appID := testkit.UniqueName("reset-app")
	stateDir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var recs []*kgo.Record
	for i := range 12 {
		key := fmt.Sprintf("%c%d", "abc"[i%3], i)
		recs = append(recs, &kgo.Record{Topic: in, Key: []byte(key), Value: []byte("v")})
	}
	if err := c.Produce(ctx, false, recs...); err != nil {
		t.Fatal(err)
	}
	bootstrap := strings.Join(c.Bootstrap, ",")
	base := []string{"--application-id", appID, "--bootstrap", bootstrap, "--state-dir", stateDir}

	run1 := testkit.Start(t, resetApp(t, c, appID, in, out, stateDir))
	run1.WaitFor(t, 60*time.Second, "12 counts", func() bool { _, n := lastCounts(t, c, out); return n >= 12 })
	// Refused while an instance runs.
	if _, err := resetCmd(t, base...); err == nil || !strings.Contains(err.Error(), "active member") || !strings.Contains(err.Error(), appID) {
		t.Fatalf("reset with a running instance: err = %v, want a refusal naming the group and its active members", err)
	}
	if err := run1.Stop(); err != nil {
		t.Fatal(err)
	}
	first, _ := lastCounts(t, c, out)
	if first["a"] != 4 || first["b"] != 4 || first["c"] != 4 {
		t.Fatalf("first run counts %v, want a=4 b=4 c=4", first)
	}

	changelog := appID + "-letters-changelog"
	repartition := appID + "-letters-repartition"
	topicExists := func(name string) bool {
		td, err := c.Admin().ListTopics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_, ok := td[name]
		return ok
	}
	if !topicExists(changelog) || !topicExists(repartition) {
		t.Fatalf("the app did not create %s and %s", changelog, repartition)
	}

	// Dry run: says everything, changes nothing.
	got, err := resetCmd(t, append(base, "--dry-run")...)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		fmt.Sprintf("would set offset of input topic %q partition 0:", in),
		"-> 0",
		fmt.Sprintf("would delete internal topic %q", changelog),
		fmt.Sprintf("would delete internal topic %q", repartition),
		fmt.Sprintf("would delete the committed offsets on internal topic %q", repartition),
		"would delete local state in " + stateDir,
		"dry run: nothing changed",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("dry run output lacks %q", want)
		}
	}
	committed, err := c.CommittedOffsets(ctx, appID)
	if err != nil {
		t.Fatal(err)
	}
	if committed[in][0]+committed[in][1] != 12 || !topicExists(changelog) {
		t.Fatalf("the dry run changed something: committed %v", committed[in])
	}
	if _, err := os.Stat(filepath.Join(stateDir, "pebble")); err != nil {
		t.Fatalf("the dry run deleted the local state: %v", err)
	}

	// Shift and latest are computed within the partitions' bounds.
	got, err = resetCmd(t, append(base, "--dry-run", "--shift-by", "-1000")...)
	if err != nil || strings.Count(got, "-> 0\n") != 2 {
		t.Fatalf("--shift-by -1000 should rewind both partitions to 0: err %v", err)
	}
	got, err = resetCmd(t, append(base, "--dry-run", "--to-latest")...)
	if err != nil || !strings.Contains(got, fmt.Sprintf("-> %d\n", committed[in][0])) {
		t.Fatalf("--to-latest should keep the offsets at the end (%v): err %v", committed[in], err)
	}

	// The reset itself.
	if _, err := resetCmd(t, base...); err != nil {
		t.Fatal(err)
	}
	committed, err = c.CommittedOffsets(ctx, appID)
	if err != nil {
		t.Fatal(err)
	}
	if committed[in][0] != 0 || committed[in][1] != 0 {
		t.Fatalf("committed offsets of %s after reset: %v, want 0 and 0", in, committed[in])
	}
	if _, ok := committed[repartition]; ok {
		t.Fatalf("committed offsets on %s survived the reset", repartition)
	}
	deadline := time.Now().Add(30 * time.Second)
	for topicExists(changelog) || topicExists(repartition) {
		if time.Now().After(deadline) {
			t.Fatal("internal topics still listed 30 s after the reset")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(stateDir, "pebble")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("local state survived the reset: %v", err)
	}

	// A second run starts from scratch: the same counts again.
	run2 := testkit.Start(t, resetApp(t, c, appID, in, out, stateDir))
	run2.WaitFor(t, 60*time.Second, "24 counts", func() bool { _, n := lastCounts(t, c, out); return n >= 24 })
	if err := run2.Stop(); err != nil {
		t.Fatal(err)
	}
	second, n := lastCounts(t, c, out)
	if n != 24 || second["a"] != 4 || second["b"] != 4 || second["c"] != 4 {
		t.Fatalf("after reset: %d count records, last %v; want 24 and a=4 b=4 c=4 (the state was not reset if doubled)", n, second)
	}
}

func TestResetUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--application-id", "a"},
		{"--application-id", "a", "--bootstrap", "x:1", "--to-latest", "--shift-by", "1"},
		{"--application-id", "a", "--bootstrap", "x:1", "--to-datetime", "yesterday"},
	} {
		if _, err := resetCmd(t, args...); !errors.Is(err, errUsage) {
			t.Errorf("reset %q = %v, want a usage error", args, err)
		}
	}
	if _, err := resetCmd(t, "--bootstrap", "x:1"); err == nil || !strings.Contains(err.Error(), "--application-id") {
		t.Errorf("missing --application-id: %v", err)
	}
}
