package samsa_test

import (
	"context"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa/testkit"
)

// TestSessionTimeoutMovesAKilledInstancesPartition: two instances with
// Config.SessionTimeout 6s and HeartbeatInterval 1s; the one owning a
// partition is SIGKILLed (it cannot leave the group) and the survivor
// processes that partition's new records once the session times out. The
// control, with the default 45s session timeout, takes longer than 40s.
func TestSessionTimeoutMovesAKilledInstancesPartition(t *testing.T) {
	c := testkit.RealCluster(t)
	short := killedPartitionMoves(t, c, []string{"SESSION_TIMEOUT=6s", "HEARTBEAT_INTERVAL=1s"}, false)
	t.Logf("SessionTimeout 6s: the survivor processed the killed instance's partition %.1fs after the kill", short.Seconds())
	if short >= 20*time.Second {
		t.Fatalf("with SessionTimeout 6s the killed instance's partition moved after %s, want < 20s", short)
	}
	long := killedPartitionMoves(t, c, []string{"SESSION_TIMEOUT=0s", "HEARTBEAT_INTERVAL=0s"}, false)
	t.Logf("default SessionTimeout (45s): the survivor processed it %.1fs after the kill", long.Seconds())
	if long < 40*time.Second {
		t.Fatalf("with the default 45s session timeout the partition moved after %s: the test measures nothing", long)
	}
}

// TestStaticMemberRestartKeepsItsPartition: with GroupInstanceID set and a
// 60s session timeout, an instance SIGKILLed and restarted with the same
// GroupInstanceID gets its partition back at once, with no rebalance: a
// dynamic member would wait for the dead member's session to expire (60s)
// before the group could rebalance.
func TestStaticMemberRestartKeepsItsPartition(t *testing.T) {
	c := testkit.RealCluster(t)
	restart := killedPartitionMoves(t, c, []string{"SESSION_TIMEOUT=60s", "HEARTBEAT_INTERVAL=1s"}, true)
	t.Logf("static member: its restart processed its partition %.1fs after the kill", restart.Seconds())
	if restart >= 30*time.Second {
		t.Fatalf("the restarted static member processed its partition after %s, want < 30s (half the session timeout)", restart)
	}
}

// killedPartitionMoves starts two counter instances on a two-partition
// topic, waits until each owns one partition, SIGKILLs the first and
// returns how long after the kill new records on both partitions are
// processed (counted in the output). With restart, the first instance is
// started again at once with the same GroupInstanceID and state directory.
func killedPartitionMoves(t *testing.T, c *testkit.Cluster, group []string, restart bool) time.Duration {
	t.Helper()
	in, out := c.Topic(t, "session-in", 2), c.Topic(t, "session-out", 2)
	common := append([]string{"IN=" + in, "OUT=" + out, "APP=" + testkit.UniqueName("session-app"),
		"BOOTSTRAP=" + strings.Join(c.Bootstrap, ",")}, group...)
	envA := append(append([]string{}, common...), "INSTANCE=a", "STATE_DIR="+t.TempDir())
	envB := append(append([]string{}, common...), "INSTANCE=b", "STATE_DIR="+t.TempDir())
	if restart {
		envA = append(envA, "GROUP_INSTANCE=ga")
		envB = append(envB, "GROUP_INSTANCE=gb")
	}
	round := 0
	produceBoth := func(prefix string) {
		t.Helper()
		round++
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.Produce(ctx, true,
			&kgo.Record{Topic: in, Partition: 0, Key: []byte(prefix + strconv.Itoa(round) + "-p0"), Value: []byte("x")},
			&kgo.Record{Topic: in, Partition: 1, Key: []byte(prefix + strconv.Itoa(round) + "-p1"), Value: []byte("x")},
		); err != nil {
			t.Fatal(err)
		}
	}
	produceBoth("warm-")
	a := startCounter(t, envA)
	t.Cleanup(func() { _ = a.cmd.Process.Kill(); _ = a.cmd.Wait() })
	a.waitProcessed(t, 2)
	b := startCounter(t, envB)
	t.Cleanup(func() { _ = b.cmd.Process.Kill(); _ = b.cmd.Wait() })
	// B takes a partition in the rebalance its join starts: feed both
	// partitions until it processes a record.
	var pa, pb [2]int64
	deadline := time.Now().Add(60 * time.Second)
	for pb[0] == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the second instance got no partition within 60s")
		}
		produceBoth("join-")
		time.Sleep(500 * time.Millisecond) // a poll interval, not an assertion
		pa, pb = latest(a, pa), latest(b, pb)
	}
	// Both own one partition once both process a record of the next round.
	pa, pb = latest(a, pa), latest(b, pb)
	produceBoth("owned-")
	a.waitProcessed(t, pa[0]+1)
	b.waitProcessed(t, pb[0]+1)

	_ = a.cmd.Process.Kill()
	_ = a.cmd.Wait()
	killed := time.Now()
	if restart {
		a = startCounter(t, envA)
		t.Cleanup(func() { _ = a.cmd.Process.Kill(); _ = a.cmd.Wait() })
	}
	produceBoth("after-")
	keys := []string{"after-" + strconv.Itoa(round) + "-p0", "after-" + strconv.Itoa(round) + "-p1"}
	for {
		counts := lastCounts(t, c, out)
		if counts[keys[0]] == 1 && counts[keys[1]] == 1 {
			break
		}
		if time.Since(killed) > 90*time.Second {
			t.Fatalf("the new records %v were not processed within 90s of the kill: %v", keys, counts)
		}
		time.Sleep(100 * time.Millisecond) // a poll interval, not an assertion
	}
	took := time.Since(killed)
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	if restart {
		_ = a.cmd.Process.Signal(syscall.SIGTERM)
	}
	return took
}

// latest drains the child's progress reports without blocking and returns
// the last one, or last when there is none.
func latest(c *child, last [2]int64) [2]int64 {
	for {
		select {
		case p, ok := <-c.processed:
			if !ok {
				return last
			}
			last = p
		default:
			return last
		}
	}
}
