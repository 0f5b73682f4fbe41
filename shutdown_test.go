package samsa_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/testkit"
)

// TestMain runs the test binary as a child process when SAMSA_HELPER says
// so: the crash and shutdown tests start their app instances that way.
func TestMain(m *testing.M) {
	switch os.Getenv("SAMSA_HELPER") {
	case "sigterm":
		sigtermApp()
	case "counter":
		counterApp()
	}
	os.Exit(m.Run())
}

// sigtermApp is the child process of TestSIGTERMCommitsProcessedWork: an
// App that stops on SIGTERM.
func sigtermApp() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	app, err := samsa.New(passTopology(os.Getenv("IN"), os.Getenv("OUT")), samsa.Config{
		ApplicationID: os.Getenv("APP"),
		Bootstrap:     strings.Split(os.Getenv("BOOTSTRAP"), ","),
		Logger:        slog.New(slog.NewTextHandler(os.Stderr, nil)),
		// The default at-least-once interval (30s) is far longer than the
		// test: only the shutdown commit can commit anything.
	})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	go func() {
		for range time.Tick(20 * time.Millisecond) {
			fmt.Println("processed", app.Processed())
		}
	}()
	err = app.Run(ctx)
	fmt.Println("final", app.Processed())
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func TestSIGTERMCommitsProcessedWork(t *testing.T) {
	c := testkit.NewCluster(t)
	in, out := c.Topic(t, "term-in", 2), c.Topic(t, "term-out", 2)
	appID := testkit.UniqueName("term-app")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for i := range 500 {
		recs = append(recs, &kgo.Record{Topic: in, Key: []byte(strconv.Itoa(i)), Value: []byte("v")})
	}
	if err := c.Produce(ctx, false, recs...); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(os.Environ(), "SAMSA_HELPER=sigterm", "IN="+in, "OUT="+out, "APP="+appID, "BOOTSTRAP="+strings.Join(c.Bootstrap, ","))
	cmd.Stderr = &testWriter{t}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	signalled := false
	final := int64(-1)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "processed":
			if n, _ := strconv.ParseInt(f[1], 10, 64); n >= 500 && !signalled {
				signalled = true
				if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
			}
		case "final":
			final, _ = strconv.ParseInt(f[1], 10, 64)
		case "error":
			t.Errorf("child: %s", sc.Text())
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child exited with %v, want 0 after SIGTERM", err)
	}
	if final != 500 {
		t.Fatalf("child processed %d, want 500", final)
	}
	committed, err := c.CommittedOffsets(ctx, appID)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, o := range committed[in] {
		sum += o
	}
	if sum != 500 {
		t.Fatalf("committed offsets sum to %d after SIGTERM, want 500 (all processed work): %v", sum, committed)
	}
}

type testWriter struct{ t *testing.T }

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestCloseWhileWaitingForTheCluster: Close (or the context's end) while
// Run waits for an unreachable cluster at startup returns nil from Run, as
// a close at any other time does: nothing was processed, nothing is lost.
// Run returned "context canceled" before.
func TestCloseWhileWaitingForTheCluster(t *testing.T) {
	app, err := samsa.New(passTopology("in", "out"), samsa.Config{
		ApplicationID: "closed-early", Bootstrap: []string{"127.0.0.1:1"}, StateDir: t.TempDir(),
		Logger: testkit.Logger(t, slog.LevelInfo),
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- app.Run(context.Background()) }()
	time.Sleep(700 * time.Millisecond) // a few connection attempts
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after Close while waiting for the cluster = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10 s of Close")
	}
}
