package samsa

import (
	"testing"
	"time"

	"github.com/samsa-streams/samsa/internal/runtime"
)

// TestConfigGroupSettingsReachTheRuntime: the group timeouts, static
// membership and fetch bounds get their defaults (Kafka Streams') and reach
// the runtime's Config, which builds the group client from them.
func TestConfigGroupSettingsReachTheRuntime(t *testing.T) {
	c, err := (&Config{ApplicationID: "app", Bootstrap: []string{"x:1"}}).withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	rc := c.runtime()
	want := runtime.Config{SessionTimeout: 45 * time.Second, HeartbeatInterval: 3 * time.Second,
		RebalanceTimeout: 5 * time.Minute, FetchMaxBytes: 50 << 20, FetchMaxPartitionBytes: 1 << 20}
	if rc.SessionTimeout != want.SessionTimeout || rc.HeartbeatInterval != want.HeartbeatInterval ||
		rc.RebalanceTimeout != want.RebalanceTimeout || rc.FetchMaxBytes != want.FetchMaxBytes ||
		rc.FetchMaxPartitionBytes != want.FetchMaxPartitionBytes || rc.GroupInstanceID != "" {
		t.Errorf("defaults reach the runtime as %+v, want %+v", rc, want)
	}
	c, err = (&Config{ApplicationID: "app", Bootstrap: []string{"x:1"}, SessionTimeout: 6 * time.Second,
		HeartbeatInterval: time.Second, RebalanceTimeout: 20 * time.Second, GroupInstanceID: "pod-1",
		FetchMaxBytes: 1000, FetchMaxPartitionBytes: 100}).withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	rc = c.runtime()
	if rc.SessionTimeout != 6*time.Second || rc.HeartbeatInterval != time.Second || rc.RebalanceTimeout != 20*time.Second ||
		rc.GroupInstanceID != "pod-1" || rc.FetchMaxBytes != 1000 || rc.FetchMaxPartitionBytes != 100 {
		t.Errorf("settings reach the runtime as %+v", rc)
	}
}
