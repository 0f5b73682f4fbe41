package samsa_test

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/testkit"
)

// httpGet returns the status and body of an endpoint of a running App.
func httpGet(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + addr + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, string(b)
}

// metricValues returns the values of the samples of a metric in Prometheus'
// text format whose labels include every one given (k="v").
func metricValues(body, name string, labels ...string) []float64 {
	var out []float64
	for line := range strings.SplitSeq(body, "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(line, l)
		}
		if !ok {
			continue
		}
		f := strings.Fields(line)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			out = append(out, v)
		}
	}
	return out
}

// sum adds the values.
func sum(vs []float64) float64 {
	var s float64
	for _, v := range vs {
		s += v
	}
	return s
}

// TestObservabilityEndpoints runs a counting App over a few thousand
// records on the real broker and scrapes its endpoints during the run:
// /readyz answers 503 before the first assignment and during a restore and
// 200 once running, /metrics has the processed, commit, lag and restore
// series, /topology the description, /healthz 200; the server stops with
// Run.
func TestObservabilityEndpoints(t *testing.T) {
	c := testkit.RealCluster(t)
	const records, keys = 4000, 50
	in, out := c.Topic(t, "obs-in", 2), c.Topic(t, "obs-out", 2)
	appID := testkit.UniqueName("obs-app")
	produceKeys(t, c, in, records, keys)
	cfg := samsa.Config{
		ApplicationID: appID, Bootstrap: c.Bootstrap, StateDir: t.TempDir(),
		CommitInterval: 200 * time.Millisecond, HTTPAddr: "127.0.0.1:0",
		Logger: testkit.Logger(t, slog.LevelWarn),
	}

	// First run: from scratch.
	app, err := samsa.New(countTopology(in, out), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if app.HTTPAddr() != "" {
		t.Fatalf("HTTPAddr before Run = %q", app.HTTPAddr())
	}
	run := testkit.Start(t, app)
	run.WaitFor(t, 10*time.Second, "the HTTP server", func() bool { return app.HTTPAddr() != "" })
	addr := app.HTTPAddr()
	if code, body := httpGet(t, addr, "/readyz"); code != http.StatusServiceUnavailable || strings.TrimSpace(body) == "RUNNING" {
		t.Fatalf("/readyz before the first assignment = %d %q, want 503 and a state other than RUNNING", code, body)
	}
	if code, body := httpGet(t, addr, "/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz = %d %q", code, body)
	}
	if code, body := httpGet(t, addr, "/topology"); code != http.StatusOK || !strings.Contains(body, "Processor: count (stores: [counts])") || !strings.Contains(body, "Source: src") {
		t.Fatalf("/topology = %d\n%s", code, body)
	}
	// During the run: processed records per task, commits, lag.
	var body string
	run.WaitFor(t, 90*time.Second, "records processed, commits and lag in /metrics", func() bool {
		_, body = httpGet(t, addr, "/metrics")
		return sum(metricValues(body, "samsa_processed_records_total", `application_id="`+appID+`"`)) >= records &&
			sum(metricValues(body, "samsa_commits_total")) > 0 &&
			len(metricValues(body, "samsa_consumer_lag_records", `topic="`+in+`"`, `partition="0"`)) == 1 &&
			len(metricValues(body, "samsa_consumer_lag_records", `topic="`+in+`"`, `partition="1"`)) == 1
	})
	for _, task := range []string{"0_0", "0_1"} {
		if v := metricValues(body, "samsa_processed_records_total", `task="`+task+`"`); len(v) != 1 || v[0] == 0 {
			t.Errorf("samsa_processed_records_total for task %s = %v, want > 0", task, v)
		}
		if v := metricValues(body, "samsa_process_latency_seconds_count", `task="`+task+`"`); len(v) != 1 || v[0] == 0 {
			t.Errorf("samsa_process_latency_seconds_count for task %s = %v, want > 0 (sampled)", task, v)
		}
	}
	if v := metricValues(body, "samsa_commit_latency_seconds_count"); len(v) != 1 || v[0] == 0 {
		t.Errorf("samsa_commit_latency_seconds_count = %v", v)
	}
	if v := metricValues(body, "samsa_rebalances_total"); len(v) != 1 || v[0] == 0 {
		t.Errorf("samsa_rebalances_total = %v", v)
	}
	// Store sizes: one series per task and store (Pebble's estimate; its
	// value may still be 0 while the data sits in the memtable).
	for _, task := range []string{"0_0", "0_1"} {
		if v := metricValues(body, "samsa_store_disk_bytes", `task="`+task+`"`, `store="counts"`); len(v) != 1 {
			t.Errorf("samsa_store_disk_bytes for task %s store counts = %v, want one series", task, v)
		}
	}
	// Event time per task: the records were produced just now, so the
	// stream time is within the last hour and the watermark (one input per
	// task: the stream time once nothing waits) not above it.
	for _, task := range []string{"0_0", "0_1"} {
		st := metricValues(body, "samsa_task_stream_time_seconds", `task="`+task+`"`)
		wm := metricValues(body, "samsa_task_watermark_seconds", `task="`+task+`"`)
		now := float64(time.Now().Unix())
		if len(st) != 1 || len(wm) != 1 || st[0] < now-3600 || st[0] > now+60 || wm[0] <= 0 || wm[0] > st[0] {
			t.Errorf("task %s: samsa_task_stream_time_seconds %v, samsa_task_watermark_seconds %v, want a time of the last hour and a watermark not above it", task, st, wm)
		}
	}
	run.WaitFor(t, 30*time.Second, "/readyz 200", func() bool {
		code, _ := httpGet(t, addr, "/readyz")
		return code == http.StatusOK
	})
	// Everything was read: the lag falls to 0.
	run.WaitFor(t, 30*time.Second, "zero lag", func() bool {
		_, body = httpGet(t, addr, "/metrics")
		v := metricValues(body, "samsa_consumer_lag_records", `topic="`+in+`"`)
		return len(v) == 2 && sum(v) == 0
	})
	if v := metricValues(body, "samsa_state", `state="RUNNING"`); len(v) != 1 || v[0] != 1 {
		t.Errorf("samsa_state{state=RUNNING} = %v", v)
	}
	if v := metricValues(body, "samsa_state_value"); len(v) != 1 || v[0] != float64(samsa.StateRunning) {
		t.Errorf("samsa_state_value = %v", v)
	}
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}
	if app.HTTPAddr() != "" {
		t.Errorf("HTTPAddr after Run = %q", app.HTTPAddr())
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Errorf("the HTTP server still listens on %s after Run returned", addr)
	}

	// Second run, empty state directory: the counts are restored from the
	// changelog. The restore listener holds the restore until /readyz
	// was seen answering 503, with the restore's progress in /metrics;
	// the metrics also go to the user's registry.
	cfg.StateDir = t.TempDir()
	reg := prometheus.NewRegistry()
	cfg.MetricsRegisterer = reg
	release := make(chan struct{})
	var once sync.Once
	cfg.RestoreListener = func(samsa.RestoreProgress) { <-release }
	app, err = samsa.New(countTopology(in, out), cfg)
	if err != nil {
		t.Fatal(err)
	}
	run = testkit.Start(t, app)
	defer once.Do(func() { close(release) })
	run.WaitFor(t, 10*time.Second, "the HTTP server", func() bool { return app.HTTPAddr() != "" })
	addr = app.HTTPAddr()
	run.WaitFor(t, 60*time.Second, "a restore in /metrics", func() bool {
		_, body = httpGet(t, addr, "/metrics")
		return sum(metricValues(body, "samsa_restore_records_remaining", `store="counts"`)) > 0
	})
	if code, body := httpGet(t, addr, "/readyz"); code != http.StatusServiceUnavailable || strings.TrimSpace(body) != "REBALANCING" {
		t.Fatalf("/readyz during the restore = %d %q, want 503 REBALANCING", code, body)
	}
	if code, _ := httpGet(t, addr, "/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz during the restore = %d", code)
	}
	once.Do(func() { close(release) })
	run.WaitFor(t, 60*time.Second, "/readyz 200 after the restore", func() bool {
		code, _ := httpGet(t, addr, "/readyz")
		return code == http.StatusOK
	})
	_, body = httpGet(t, addr, "/metrics")
	if v := metricValues(body, "samsa_restored_records_total"); len(v) != 1 || v[0] == 0 {
		t.Errorf("samsa_restored_records_total = %v", v)
	}
	if v := metricValues(body, "samsa_restore_records_remaining", `store="counts"`); len(v) == 0 || sum(v) != 0 {
		t.Errorf("samsa_restore_records_remaining after the restore = %v, want zeros", v)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if !hasFamily(mfs, "samsa_restored_records_total") {
		t.Errorf("the user's registry lacks samsa_restored_records_total")
	}
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}
	if mfs, _ := reg.Gather(); hasFamily(mfs, "samsa_restored_records_total") {
		t.Errorf("the metrics are still on the user's registry after Run returned")
	}
}

func hasFamily[M interface{ GetName() string }](mfs []M, name string) bool {
	for _, mf := range mfs {
		if mf.GetName() == name {
			return true
		}
	}
	return false
}

// TestMetricsTwoAppsOneProcess: two Apps with the same application id in
// one process each have a registry of their own, and Prometheus' default
// registry holds none of their metrics; on one user registry the second
// fails at Run, naming the field, before contacting any broker.
func TestMetricsTwoAppsOneProcess(t *testing.T) {
	cfg := samsa.Config{ApplicationID: "twins", Bootstrap: []string{"127.0.0.1:1"}, StateDir: t.TempDir()}
	a, err := samsa.New(passTopology("a", "b"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := samsa.New(passTopology("a", "b"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, app := range []*samsa.App{a, b} {
		mfs, err := app.Metrics().Gather()
		if err != nil {
			t.Fatal(err)
		}
		if !hasFamily(mfs, "samsa_state") || !hasFamily(mfs, "go_goroutines") {
			t.Fatalf("an App's registry lacks samsa_state or go_goroutines")
		}
	}
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "samsa_") {
			t.Fatalf("%s is on the default registry", mf.GetName())
		}
	}

	// One user registry: the second App with the same id fails at Run.
	reg := prometheus.NewRegistry()
	cfg.MetricsRegisterer = reg
	cfg.StartupTimeout, cfg.TaskTimeout = time.Second, 2*time.Second
	first, err := samsa.New(passTopology("a", "b"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	run := testkit.Start(t, first) // waits for the unreachable cluster
	deadline := time.Now().Add(5 * time.Second)
	for mfs, _ := reg.Gather(); !hasFamily(mfs, "samsa_state") && time.Now().Before(deadline); mfs, _ = reg.Gather() {
		time.Sleep(10 * time.Millisecond)
	}
	second, err := samsa.New(passTopology("a", "b"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = second.Run(t.Context())
	if !errors.Is(err, samsa.ErrConfig) || !strings.Contains(err.Error(), "field MetricsRegisterer") || !strings.Contains(err.Error(), "already registered") {
		t.Fatalf("second App on the same registerer: Run = %v", err)
	}
	if second.State() != samsa.StateError {
		t.Errorf("state = %s, want ERROR", second.State())
	}
	_ = run.Stop()
}

// TestHTTPAddrInUse: an address that cannot be listened on fails Run at
// once, naming the field.
func TestHTTPAddrInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	app, err := samsa.New(passTopology("a", "b"), samsa.Config{ApplicationID: "busy", Bootstrap: []string{"127.0.0.1:1"}, StateDir: t.TempDir(), HTTPAddr: ln.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	err = app.Run(t.Context())
	if !errors.Is(err, samsa.ErrConfig) || !strings.Contains(err.Error(), `field HTTPAddr "`+ln.Addr().String()+`"`) {
		t.Fatalf("Run = %v, want ErrConfig naming HTTPAddr", err)
	}
}
