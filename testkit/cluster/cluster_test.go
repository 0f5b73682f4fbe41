package cluster

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestEmbeddedRoundTrip drives every helper of the package against an
// in-process cluster: topics, records (keyed and manual partitions),
// read_committed reading, end offsets and committed group offsets.
func TestEmbeddedRoundTrip(t *testing.T) {
	c, err := Embedded(0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Ping(ctx, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if c.Real || len(c.Bootstrap) != 1 || !strings.HasPrefix(c.Bootstrap[0], "127.0.0.1:") {
		t.Fatalf("embedded cluster: Real=%v Bootstrap=%v, want not real on 127.0.0.1", c.Real, c.Bootstrap)
	}

	topic := UniqueName("rt")
	if !strings.HasPrefix(topic, "rt-") || len(topic) != len("rt-")+12 || topic == UniqueName("rt") {
		t.Fatalf("UniqueName(%q) = %q: want prefix, dash and 12 random hex digits", "rt", topic)
	}
	if err := c.CreateTopic(ctx, topic, 2, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Produce(ctx, true,
		&kgo.Record{Topic: topic, Partition: 1, Value: []byte("a")},
		&kgo.Record{Topic: topic, Partition: 1, Value: []byte("b")},
		&kgo.Record{Topic: topic, Partition: 0, Value: []byte("c")},
	); err != nil {
		t.Fatal(err)
	}
	got, err := c.ReadTopic(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	values := func(p int32) string {
		var s []string
		for _, r := range got[p] {
			s = append(s, string(r.Value))
		}
		return strings.Join(s, ",")
	}
	if values(0) != "c" || values(1) != "a,b" {
		t.Fatalf("ReadTopic: partition 0 = %q, 1 = %q; want \"c\" and \"a,b\"", values(0), values(1))
	}
	ends, err := c.EndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if ends[0] != 1 || ends[1] != 2 {
		t.Fatalf("EndOffsets = %v, want map[0:1 1:2]", ends)
	}

	group := UniqueName("g")
	if _, err := c.Admin().CommitOffsets(ctx, group, offsetsOf(topic, map[int32]int64{0: 1, 1: 2})); err != nil {
		t.Fatal(err)
	}
	committed, err := c.CommittedOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	if committed[topic][0] != 1 || committed[topic][1] != 2 {
		t.Fatalf("CommittedOffsets = %v, want %s: map[0:1 1:2]", committed, topic)
	}
	if c.Client() == nil {
		t.Fatal("Client() is nil")
	}
}

// TestConnectNowhere shows that Ping fails, naming the address, when no
// broker answers.
func TestConnectNowhere(t *testing.T) {
	c, err := Connect("127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Ping(context.Background(), 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("Ping of a closed port = %v, want an error naming 127.0.0.1:1", err)
	}
}

// TestNoTestingDependency fails if the package links package testing or
// package testkit: a program such as the samsa CLI must be able to use it.
func TestNoTestingDependency(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is not on PATH: this test needs it to list the package's dependencies: %v", err)
	}
	out, err := exec.Command(gobin, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps .: %v\n%s", err, out)
	}
	for p := range strings.FieldsSeq(string(out)) {
		if p == "testing" || strings.HasPrefix(p, "testing/") || p == "github.com/samsa-streams/samsa/testkit" {
			t.Errorf("testkit/cluster depends on %s", p)
		}
	}
}

func offsetsOf(topic string, at map[int32]int64) kadm.Offsets {
	offs := make(kadm.Offsets)
	for p, o := range at {
		offs.Add(kadm.Offset{Topic: topic, Partition: p, At: o, LeaderEpoch: -1})
	}
	return offs
}
