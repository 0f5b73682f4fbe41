package samsa_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// finalWindowsTopology is a metrics pipeline: per-minute counts per key by
// event time, on time up to 5 s behind the newest record, late records
// accepted for 10 s more, one final result per window and key, late
// records to a topic of their own.
func finalWindowsTopology(in, out, late string) *topology.Topology {
	top := topology.New()
	w := topology.TumblingWindows(time.Minute).WithMaxOutOfOrder(5 * time.Second).WithGrace(10 * time.Second).
		EmitFinal().LateRecordsTo(late)
	topology.WindowedCount(topology.StreamOf(top, serde.String, serde.String, in), w, "per-minute", serde.String).
		To(out, topology.TimeWindowedSerde(serde.String, time.Minute), serde.Int64)
	return top
}

// metricsInput is n records of 20 keys, 50 ms of event time apart from a
// whole minute 20 minutes ago, 15% of them out of order by up to 14 s and
// 5% by 20–60 s, each with a unique value and a fixed partition (of 2) by
// key. The event times are recent on purpose: the broker's time retention
// (7 days by default) deletes records whose timestamps are older, even
// from the active segment, within its retention check interval, which
// once made this test lose input and output records mid-run.
func metricsInput(topic string, n int) []*kgo.Record {
	rng := rand.New(rand.NewPCG(12, 1))
	base := time.Now().UTC().Truncate(time.Minute).Add(-20 * time.Minute)
	recs := make([]*kgo.Record, n)
	for i := range recs {
		ts := base.Add(time.Duration(i) * 50 * time.Millisecond)
		switch p := rng.Float64(); {
		case p < 0.05:
			ts = ts.Add(-20*time.Second - time.Duration(rng.Int64N(int64(40*time.Second))))
		case p < 0.20:
			ts = ts.Add(-time.Duration(rng.Int64N(int64(14 * time.Second))))
		}
		k := i % 20
		recs[i] = &kgo.Record{Topic: topic, Partition: int32(k % 2), Key: fmt.Appendf(nil, "host-%02d", k),
			Value: fmt.Appendf(nil, "r%d", i), Timestamp: ts}
	}
	return recs
}

// expectedFinalWindows runs the pipeline on testkit.Driver with the same
// partitions: the final results (key@window=count) and the values of the
// late records, sorted.
func expectedFinalWindows(t *testing.T, recs []*kgo.Record) (finals, late []string) {
	t.Helper()
	d, err := testkit.NewDriver(finalWindowsTopology("in", "out", "late"), testkit.DriverConfig{DefaultPartitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "in", serde.String, serde.String)
	for _, r := range recs {
		if err := in.PipeRaw(r.Key, r.Value, r.Timestamp, nil, r.Partition); err != nil {
			t.Fatal(err)
		}
	}
	o := testkit.OutputTopic(d, "out", topology.TimeWindowedSerde(serde.String, time.Minute), serde.Int64)
	for !o.IsEmpty() {
		r, err := o.ReadRecord()
		if err != nil {
			t.Fatal(err)
		}
		finals = append(finals, fmt.Sprintf("%s=%d", r.Key, r.Value))
	}
	l := testkit.OutputTopic(d, "late", serde.String, serde.String)
	for !l.IsEmpty() {
		r, err := l.ReadRecord()
		if err != nil {
			t.Fatal(err)
		}
		late = append(late, r.Value)
	}
	slices.Sort(finals)
	slices.Sort(late)
	return finals, late
}

// TestFinalWindowsExactlyOnceThroughSIGKILL: the metrics pipeline under
// exactly-once, fed while it runs and killed with SIGKILL twice, emits
// exactly the final results and late records that the same input gives on
// testkit.Driver: one final result per window and key (no duplicate, none
// missing, none too early), each late record once on the late topic.
func TestFinalWindowsExactlyOnceThroughSIGKILL(t *testing.T) {
	c := testkit.RealCluster(t)
	in, out, late := c.Topic(t, "fw-in", 2), c.Topic(t, "fw-out", 2), c.Topic(t, "fw-late", 2)
	const n = 12000
	recs := metricsInput(in, n)
	wantFinals, wantLate := expectedFinalWindows(t, recs)
	if len(wantFinals) < 150 || len(wantLate) < 100 {
		t.Fatalf("the input gives %d final results and %d late records: too few to prove anything", len(wantFinals), len(wantLate))
	}
	// The instances log (debug level) to one file, shown on failure.
	logFile := filepath.Join(t.TempDir(), "instances.log")
	defer func() {
		if t.Failed() {
			if b, err := os.ReadFile(logFile); err == nil {
				lines := strings.Split(string(b), "\n")
				t.Logf("last lines the instances logged:\n%s", strings.Join(lines[max(0, len(lines)-60):], "\n"))
			}
		}
	}()
	env := []string{"TOPOLOGY=final-windows", "IN=" + in, "OUT=" + out, "LATE=" + late,
		"APP=" + testkit.UniqueName("fw-app"), "GROUP_INSTANCE=fw-0",
		"BOOTSTRAP=" + strings.Join(c.Bootstrap, ","), "STATE_DIR=" + t.TempDir(), "LOG_FILE=" + logFile}

	// Input arrives while the instances run: 500 records every 200 ms.
	produced := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		for i := 0; i < n; i += 500 {
			if err := c.Produce(ctx, true, recs[i:min(i+500, n)]...); err != nil {
				produced <- err
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
		produced <- nil
	}()
	first := startCounter(t, env)
	first.waitProcessed(t, 2000)
	_ = first.cmd.Process.Kill()
	_ = first.cmd.Wait()
	second := startCounter(t, env)
	second.waitProcessed(t, 1500)
	_ = second.cmd.Process.Kill()
	_ = second.cmd.Wait()
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	third := startCounter(t, env)
	defer func() { _ = third.cmd.Process.Kill(); _ = third.cmd.Wait() }()

	var finals, lateVals []string
	deadline := time.Now().Add(90 * time.Second)
	for {
		finals, lateVals = nil, nil
		for _, r := range readAll(t, c, out) {
			w, err := topology.TimeWindowedSerde(serde.String, time.Minute).Deserialize(out, r.Key)
			if err != nil {
				t.Fatal(err)
			}
			v, err := serde.Int64.Deserialize(out, r.Value)
			if err != nil {
				t.Fatal(err)
			}
			finals = append(finals, fmt.Sprintf("%s=%d", w, v))
		}
		for _, r := range readAll(t, c, late) {
			lateVals = append(lateVals, string(r.Value))
		}
		if len(finals) >= len(wantFinals) && len(lateVals) >= len(wantLate) || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	slices.Sort(finals)
	slices.Sort(lateVals)
	if d := diffSorted(wantFinals, finals); d != "" {
		t.Errorf("final results (read_committed) differ from the driver's (%d expected, %d read):\n%s", len(wantFinals), len(finals), d)
	}
	if d := diffSorted(wantLate, lateVals); d != "" {
		t.Errorf("late records (read_committed) differ from the driver's (%d expected, %d read):\n%s", len(wantLate), len(lateVals), d)
	}
	if !t.Failed() {
		t.Logf("%d records, 2 SIGKILLs: %d final results and %d late records, each exactly once", n, len(finals), len(lateVals))
	}
}

// diffSorted lists, at most 10 of each, what want has and got lacks and
// what got has and want lacks (duplicates count), "" when equal.
func diffSorted(want, got []string) string {
	var missing, extra []string
	i, j := 0, 0
	for i < len(want) || j < len(got) {
		switch {
		case j == len(got) || i < len(want) && want[i] < got[j]:
			missing = append(missing, want[i])
			i++
		case i == len(want) || got[j] < want[i]:
			extra = append(extra, got[j])
			j++
		default:
			i++
			j++
		}
	}
	if len(missing)+len(extra) == 0 {
		return ""
	}
	return fmt.Sprintf("missing %d: %v\nextra %d: %v", len(missing), missing[:min(10, len(missing))], len(extra), extra[:min(10, len(extra))])
}
