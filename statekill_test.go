package samsa_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
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

// counterApp is a child process: the count topology (or, with
// TOPOLOGY=final-windows, finalWindowsTopology) under exactly-once with
// Pebble state in STATE_DIR, printing its progress until killed.
func counterApp() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	instance := os.Getenv("INSTANCE")
	if instance == "" {
		instance = "only"
	}
	standby, _ := strconv.Atoi(os.Getenv("STANDBY"))
	cfg := samsa.Config{
		ApplicationID: os.Getenv("APP"), Bootstrap: strings.Split(os.Getenv("BOOTSTRAP"), ","),
		Guarantee: samsa.ExactlyOnce, StateDir: os.Getenv("STATE_DIR"), InstanceID: instance,
		StandbyReplicas: standby,
		Logger:          childLogger(),
		// The killed instance leaves the group only when its session
		// times out: keep that short.
		ClientOptions: []kgo.Opt{kgo.SessionTimeout(6 * time.Second), kgo.HeartbeatInterval(time.Second)},
	}
	// SESSION_TIMEOUT and HEARTBEAT_INTERVAL set the group timeouts through
	// Config instead ("0s": samsa's defaults); GROUP_INSTANCE makes the
	// instance a static member.
	if s := os.Getenv("SESSION_TIMEOUT"); s != "" {
		cfg.ClientOptions = nil
		cfg.SessionTimeout, _ = time.ParseDuration(s)
		cfg.HeartbeatInterval, _ = time.ParseDuration(os.Getenv("HEARTBEAT_INTERVAL"))
	}
	cfg.GroupInstanceID = os.Getenv("GROUP_INSTANCE")
	top := countTopology(os.Getenv("IN"), os.Getenv("OUT"))
	if os.Getenv("TOPOLOGY") == "final-windows" {
		top = finalWindowsTopology(os.Getenv("IN"), os.Getenv("OUT"), os.Getenv("LATE"))
	}
	app, err := samsa.New(top, cfg)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	go func() {
		for range time.Tick(20 * time.Millisecond) {
			fmt.Println("progress", app.Processed(), app.Restored())
		}
	}()
	if err := app.Run(ctx); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// childLogger logs to $LOG_FILE at debug level, or nowhere.
func childLogger() *slog.Logger {
	var w io.Writer = io.Discard
	if path := os.Getenv("LOG_FILE"); path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		w = f
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type child struct {
	cmd       *exec.Cmd
	processed chan [2]int64
}

func startCounter(t testing.TB, env []string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(append(os.Environ(), "SAMSA_HELPER=counter"), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, processed: make(chan [2]int64, 1000)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 3 && f[0] == "progress" {
				p, _ := strconv.ParseInt(f[1], 10, 64)
				r, _ := strconv.ParseInt(f[2], 10, 64)
				select {
				case c.processed <- [2]int64{p, r}:
				default:
				}
			} else if len(f) > 0 && f[0] == "error" {
				t.Errorf("child: %s", sc.Text())
			}
		}
		close(c.processed)
	}()
	return c
}

// waitProcessed waits until the child reports at least n processed records
// and returns the last (processed, restored) pair.
func (c *child) waitProcessed(t *testing.T, n int64) [2]int64 {
	t.Helper()
	deadline := time.After(90 * time.Second)
	for {
		select {
		case p, ok := <-c.processed:
			if !ok {
				t.Fatal("the child exited")
			}
			if p[0] >= n {
				return p
			}
		case <-deadline:
			t.Fatalf("the child did not process %d records", n)
		}
	}
}

// TestSIGKILLKeepsCommittedState kills an exactly-once instance with
// SIGKILL between commits: on restart, local state is the last committed
// state, so only the changelog's tail is restored, and every count is exact.
func TestSIGKILLKeepsCommittedState(t *testing.T) {
	c := testkit.RealCluster(t)
	const keys = 1000
	in, out := c.Topic(t, "kill-in", 1), c.Topic(t, "kill-out", 1)
	env := []string{"IN=" + in, "OUT=" + out, "APP=" + testkit.UniqueName("kill-app"),
		"BOOTSTRAP=" + strings.Join(c.Bootstrap, ","), "STATE_DIR=" + t.TempDir()}

	produceKeys(t, c, in, 30000, keys)
	first := startCounter(t, env)
	first.waitProcessed(t, 30000)
	time.Sleep(500 * time.Millisecond) // let the last commits land
	// More input, and a kill while it is being processed.
	produceKeys(t, c, in, 10000, keys)
	first.waitProcessed(t, 32000)
	_ = first.cmd.Process.Kill()
	_ = first.cmd.Wait()

	second := startCounter(t, env)
	p := second.waitProcessed(t, 1)
	restored := p[1]
	// Let it finish the input, then stop it gracefully.
	deadline := time.Now().Add(90 * time.Second)
	for {
		counts := lastCounts(t, c, out)
		done := len(counts) == keys
		for _, n := range counts {
			if n != 40 { // 40,000 records over 1,000 keys
				done = false
			}
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("counts not exact after the kill: e.g. %v", sample(counts))
		}
		time.Sleep(300 * time.Millisecond)
	}
	_ = second.cmd.Process.Signal(syscall.SIGTERM)
	_ = second.cmd.Wait()
	// The changelog holds at least 32,000 records. After the kill only the
	// records committed to Kafka after the last local checkpoint are
	// replayed: at most the 10,000 of the second batch (one transaction,
	// when the kill lands between the Kafka commit and the local apply),
	// usually none. A wiped state would replay all 32,000 or more.
	t.Logf("restored %d changelog records after SIGKILL (changelog holds >= 32000)", restored)
	if restored > 10000 {
		t.Errorf("restored %d records after SIGKILL: local state was not kept (want at most the tail, <= 10000)", restored)
	}
}

func sample(m map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, v := range m {
		if len(out) == 3 {
			break
		}
		out[k] = v
	}
	return out
}

// TestStandbyFailover: with one standby replica, killing the active
// instance moves the task to the standby, which restores less than 1% of
// the changelog.
func TestStandbyFailover(t *testing.T) {
	c := testkit.RealCluster(t)
	const keys = 100000
	with := failover(t, c, keys, 1)
	if with >= keys/100 {
		t.Fatalf("with a standby the new owner restored %d records, want < 1%% of %d", with, keys)
	}
	// The control: without a standby the same failover restores it all,
	// so the figure above measures the standby.
	if without := failover(t, c, keys, 0); without < keys*9/10 {
		t.Fatalf("without a standby the new owner restored only %d of %d: the test measures nothing", without, keys)
	}
}

// failover runs an active and a second instance with the given standby
// replicas, kills the active one and returns how many changelog records
// the new owner restored.
func failover(t *testing.T, c *testkit.Cluster, keys, standbys int) int64 {
	in, out := c.Topic(t, "standby-in", 1), c.Topic(t, "standby-out", 1)
	common := []string{"IN=" + in, "OUT=" + out, "APP=" + testkit.UniqueName("standby-app"),
		"BOOTSTRAP=" + strings.Join(c.Bootstrap, ","), "STANDBY=" + strconv.Itoa(standbys)}
	produceKeys(t, c, in, 10, keys)
	active := startCounter(t, append(common, "INSTANCE=a", "STATE_DIR="+t.TempDir()))
	active.waitProcessed(t, 10)
	standby := startCounter(t, append(common, "INSTANCE=b", "STATE_DIR="+t.TempDir()))
	standby.waitProcessed(t, 0)
	time.Sleep(3 * time.Second) // the group settles: a active, b standby
	produceKeys(t, c, in, keys, keys)
	active.waitProcessed(t, int64(keys+10))
	time.Sleep(3 * time.Second) // the standby tails the changelog
	_ = active.cmd.Process.Kill()
	_ = active.cmd.Wait()
	produceKeys(t, c, in, 100, keys)
	p := standby.waitProcessed(t, 100)
	_ = standby.cmd.Process.Signal(syscall.SIGTERM)
	_ = standby.cmd.Wait()
	t.Logf("standby replicas %d: after failover the new owner processed %d and restored %d of a %d-key changelog", standbys, p[0], p[1], keys)
	return p[1]
}
