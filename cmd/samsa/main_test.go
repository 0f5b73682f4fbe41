package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streams/samsa/testkit"
)

func TestDemoOnEmbeddedCluster(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"demo", "--records", "2000"}, &out, &errb); err != nil {
		t.Fatalf("demo: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errb.String())
	}
	for _, want := range []string{"started an embedded Kafka cluster", "running under exactly-once", "clicks per minute of event time",
		"2000 clicks in", "malformed dead-lettered", "late dropped", "restarting as a new instance", "restoring [", "changelog records into 6 stores", "demo ok"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestDemoOnRealBroker(t *testing.T) {
	c := testkit.RealCluster(t)
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"demo", "--records", "2000", "--bootstrap", strings.Join(c.Bootstrap, ",")}, &out, &errb); err != nil {
		t.Fatalf("demo: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "demo ok") {
		t.Errorf("demo output lacks 'demo ok':\n%s", out.String())
	}
}

func TestDemoUnreachableBootstrapFailsFast(t *testing.T) {
	var out, errb bytes.Buffer
	start := time.Now()
	err := run(context.Background(), []string{"demo", "--bootstrap", "127.0.0.1:1"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("err = %v, want an error naming the address", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s to fail, want a few seconds at most", d)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"nope"}, {"demo", "--bogus"}, {"demo", "--records", "0"}, {"demo", "extra"}} {
		var out, errb bytes.Buffer
		if err := run(context.Background(), args, &out, &errb); !errors.Is(err, errUsage) {
			t.Errorf("run(%q) = %v, want a usage error", args, err)
		}
	}
}

func TestDescribe(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"describe"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "Topologies:\n   Sub-topology: 0\n    Source: KSTREAM-SOURCE-0000000000 (topics: [demo-clicks])") {
		t.Errorf("describe output:\n%s", out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"describe", "--mermaid"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "flowchart TD") {
		t.Errorf("mermaid output:\n%s", out.String())
	}
}
