package cluster

import (
	"context"
	"os"
	"strings"
	"time"
)

// TB is the part of testing.TB that Real uses, so that this package does
// not link package testing into the binaries that use it.
type TB interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
	Cleanup(fn func())
}

// Real returns the real broker named by SAMSA_BOOTSTRAP, closed when the
// test ends. Without it, the test fails when CI=true and is skipped,
// loudly, elsewhere: run ./dev/test, or dev/kafka/run start and export the
// line it prints.
func Real(t TB) *Cluster {
	t.Helper()
	bs := os.Getenv(EnvBootstrap)
	if bs == "" {
		msg := "this test needs a real Kafka broker: run ./dev/test, or `dev/kafka/run start` and export the SAMSA_BOOTSTRAP line it prints"
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but SAMSA_BOOTSTRAP is not set: %s", msg)
		}
		t.Skipf("SKIPPED (no real broker): %s", msg)
	}
	c, err := Connect(strings.Split(bs, ",")...)
	if err != nil {
		t.Fatal(err)
	}
	c.Real = true
	t.Cleanup(c.Close)
	if err := c.Ping(context.Background(), 15*time.Second); err != nil {
		t.Fatal(err)
	}
	return c
}
