package metrics

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestTwoAppsOwnRegistries(t *testing.T) {
	a, b := New("app", Sources{}), New("app", Sources{})
	a.Task("0_0").Processed(3)
	b.Task("0_0").Processed(5)
	if got := testutil.ToFloat64(a.processed.WithLabelValues("0_0")); got != 3 {
		t.Fatalf("a processed = %v, want 3", got)
	}
	if got := testutil.ToFloat64(b.processed.WithLabelValues("0_0")); got != 5 {
		t.Fatalf("b processed = %v, want 5", got)
	}
	// One user registry: two application ids fit, the same one twice fails
	// and leaves nothing behind.
	reg := prometheus.NewRegistry()
	c := New("other", Sources{Restored: func() int64 { return 7 }})
	if err := a.Register(reg); err != nil {
		t.Fatal(err)
	}
	if err := c.Register(reg); err != nil {
		t.Fatalf("two application ids on one registry: %v", err)
	}
	err := b.Register(reg)
	if err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Fatalf("same application id twice: err = %v", err)
	}
	a.Unregister(reg)
	if err := b.Register(reg); err != nil {
		t.Fatalf("after Unregister: %v", err)
	}
}

func TestStateAndLag(t *testing.T) {
	m := New("app", Sources{})
	m.State(2)
	if v := testutil.ToFloat64(m.state.WithLabelValues("RUNNING")); v != 1 {
		t.Fatalf("RUNNING = %v", v)
	}
	if v := testutil.ToFloat64(m.state.WithLabelValues("CREATED")); v != 0 {
		t.Fatalf("CREATED = %v", v)
	}
	m.Lag("in", 3, 42)
	m.Lag("in", 3, -1)
	if v := testutil.ToFloat64(m.lag.WithLabelValues("in", "3")); v != 0 {
		t.Fatalf("lag = %v, want 0 (never negative)", v)
	}
	m.ForgetLag("in", []int32{3})
	if n := testutil.CollectAndCount(m.lag); n != 0 {
		t.Fatalf("%d lag series after ForgetLag", n)
	}
	tk := m.Task("1_2")
	tk.Dropped("KSTREAM-AGGREGATE-0000000001", "null key")
	tk.Dropped("KSTREAM-AGGREGATE-0000000001", "null key")
	m.Restore("1_2", "counts", 10, 5)
	if v := testutil.ToFloat64(m.dropped.WithLabelValues("1_2", "KSTREAM-AGGREGATE-0000000001", "null key")); v != 2 {
		t.Fatalf("dropped = %v", v)
	}
	tk.Close()
	if n := testutil.CollectAndCount(m.dropped) + testutil.CollectAndCount(m.restoreDone); n != 0 {
		t.Fatalf("%d task series after Close", n)
	}
}

// TestNoAllocs: the per-record and per-batch calls do not allocate.
func TestNoAllocs(t *testing.T) {
	m := New("app", Sources{})
	tk := m.Task("0_0")
	m.Lag("in", 0, 1)
	if n := testing.AllocsPerRun(100, func() {
		tk.Processed(10)
		tk.ProcessLatency(time.Microsecond)
		m.Lag("in", 0, 5)
		m.Commit(time.Millisecond)
	}); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

func TestServer(t *testing.T) {
	m := New("app", Sources{})
	m.Task("0_0").Processed(1)
	st := Status{State: "REBALANCING", Healthy: true}
	s, err := Serve("127.0.0.1:0", m.Gatherer(), func() Status { return st }, "Topologies:\n   Sub-topology: 0\n    Source: KSTREAM-SOURCE-0000000000\n", slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + s.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "REBALANCING") {
		t.Fatalf("/readyz = %d %q", code, body)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Fatalf("/healthz = %d", code)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, `samsa_processed_records_total{application_id="app",task="0_0"} 1`) ||
		!strings.Contains(body, "go_goroutines") {
		t.Fatalf("/metrics = %d\n%s", code, body)
	}
	if code, body := get("/topology"); code != 200 || !strings.Contains(body, "KSTREAM-SOURCE-0000000000") {
		t.Fatalf("/topology = %d %q", code, body)
	}
	if code, _ := get("/nothing"); code != 404 {
		t.Fatalf("/nothing = %d", code)
	}
	if err := s.Close(time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + s.Addr() + "/healthz"); err == nil {
		t.Fatal("server still answers after Close")
	}
}

func TestCheckAddr(t *testing.T) {
	for addr, ok := range map[string]bool{"127.0.0.1:0": true, ":9090": true, "localhost:8080": true, "nohost": false, "1.2.3.4:": false, "": false} {
		if err := CheckAddr(addr); (err == nil) != ok {
			t.Errorf("CheckAddr(%q) = %v", addr, err)
		}
	}
}
