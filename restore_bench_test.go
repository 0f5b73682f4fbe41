package samsa_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// BenchmarkRestore restores a 1,000,000-key changelog into an empty state
// directory, in a child process, and reports the rate and the child's peak
// RSS (VmHWM). The engine is configured with a 64 MiB cache and 2×16 MiB
// memtables; the design bound is those plus 200 MB. Run with
//
//	SAMSA_BOOTSTRAP=… go test -run '^$' -bench Restore -benchtime 1x .
func BenchmarkRestore(b *testing.B) {
	c := testkit.RealCluster(b)
	const keys = 1000000
	for range b.N {
		in, out := c.Topic(b, "restore-in", 1), c.Topic(b, "restore-out", 1)
		appID := testkit.UniqueName("restore-app")
		changelog := topology.ChangelogTopic(appID, "counts")
		ctx := context.Background()
		compact := "compact"
		if err := c.CreateTopic(ctx, changelog, 1, map[string]*string{"cleanup.policy": &compact}); err != nil {
			b.Fatal(err)
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap...), kgo.ProducerLinger(10*time.Millisecond))
		if err != nil {
			b.Fatal(err)
		}
		batch := make([]*kgo.Record, 0, 10000)
		for i := range keys {
			batch = append(batch, &kgo.Record{Topic: changelog, Key: []byte("key-" + strconv.Itoa(i)), Value: []byte("1")}) // a count, as JSON
			if len(batch) == cap(batch) {
				if err := cl.ProduceSync(ctx, batch...).FirstErr(); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
		cl.Close()

		start := time.Now()
		child := startCounter(b, []string{"IN=" + in, "OUT=" + out, "APP=" + appID,
			"BOOTSTRAP=" + strings.Join(c.Bootstrap, ","), "STATE_DIR=" + b.TempDir()})
		var p [2]int64
		deadline := time.After(5 * time.Minute)
	wait:
		for {
			select {
			case q, ok := <-child.processed:
				if !ok {
					b.Fatal("child exited")
				}
				if p = q; p[1] >= keys {
					break wait
				}
			case <-deadline:
				b.Fatalf("restored %d of %d", p[1], keys)
			}
		}
		el := time.Since(start)
		status, _ := os.ReadFile("/proc/" + strconv.Itoa(child.cmd.Process.Pid) + "/status")
		var hwmKB int64
		for _, line := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(line, "VmHWM:") {
				hwmKB, _ = strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			}
		}
		_ = child.cmd.Process.Kill()
		_ = child.cmd.Wait()
		b.ReportMetric(float64(keys)/el.Seconds(), "records/s")
		b.ReportMetric(float64(hwmKB)/1024, "peak-RSS-MiB")
		if bound := 64.0 + 32 + 200; float64(hwmKB)/1024 > bound {
			b.Errorf("peak RSS %.0f MiB over the bound of %.0f MiB (cache + memtable + 200 MB)", float64(hwmKB)/1024, bound)
		}
	}
}
