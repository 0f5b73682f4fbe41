package samsa

import (
	"testing"
	"time"

	"github.com/samsa-streams/samsa/internal/runtime"
)

// TestLimitsAgreeWithTheRuntime: the limits this package documents are
// the runtime's.
func TestLimitsAgreeWithTheRuntime(t *testing.T) {
	if MaxApplicationIDLength != runtime.MaxApplicationIDLength || DefaultCacheMaxBytes != runtime.DefaultCacheMaxBytes {
		t.Fatalf("MaxApplicationIDLength %d, DefaultCacheMaxBytes %d; the runtime's %d, %d",
			MaxApplicationIDLength, DefaultCacheMaxBytes, runtime.MaxApplicationIDLength, runtime.DefaultCacheMaxBytes)
	}
}

// TestConfigGroupSettingsReachTheRuntime: the group timeouts, static
// membership and fetch bounds get their defaults (Kafka Streams') and reach
// the runtime's Config, which builds the group client from them.
func TestConfigGroupSettingsReachTheRuntime(t *testing.T) {
	rc := Config{ApplicationID: "app", Bootstrap: []string{"x:1"}}.runtime()
	if errs := rc.FillDefaults(); errs != nil {
		t.Fatal(errs)
	}
	want := runtime.Config{SessionTimeout: 45 * time.Second, HeartbeatInterval: 3 * time.Second,
		RebalanceTimeout: 5 * time.Minute, FetchMaxBytes: 50 << 20, FetchMaxPartitionBytes: 1 << 20}
	if rc.SessionTimeout != want.SessionTimeout || rc.HeartbeatInterval != want.HeartbeatInterval ||
		rc.RebalanceTimeout != want.RebalanceTimeout || rc.FetchMaxBytes != want.FetchMaxBytes ||
		rc.FetchMaxPartitionBytes != want.FetchMaxPartitionBytes || rc.GroupInstanceID != "" {
		t.Errorf("defaults reach the runtime as %+v, want %+v", rc, want)
	}
	rc = Config{ApplicationID: "app", Bootstrap: []string{"x:1"}, SessionTimeout: 6 * time.Second,
		HeartbeatInterval: time.Second, RebalanceTimeout: 20 * time.Second, GroupInstanceID: "pod-1",
		FetchMaxBytes: 1000, FetchMaxPartitionBytes: 100}.runtime()
	if errs := rc.FillDefaults(); errs != nil {
		t.Fatal(errs)
	}
	if rc.SessionTimeout != 6*time.Second || rc.HeartbeatInterval != time.Second || rc.RebalanceTimeout != 20*time.Second ||
		rc.GroupInstanceID != "pod-1" || rc.FetchMaxBytes != 1000 || rc.FetchMaxPartitionBytes != 100 {
		t.Errorf("settings reach the runtime as %+v", rc)
	}
}
