package samsa_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streams/samsa"
)

// problems splits a configuration error into its joined problems and checks
// that each wraps ErrConfig.
func problems(t *testing.T, err error) []string {
	t.Helper()
	if !errors.Is(err, samsa.ErrConfig) {
		t.Fatalf("err = %v, want ErrConfig", err)
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("err = %v (%T), want the problems joined", err, err)
	}
	var out []string
	for _, e := range joined.Unwrap() {
		if !errors.Is(e, samsa.ErrConfig) {
			t.Errorf("problem %q does not wrap ErrConfig", e)
		}
		out = append(out, e.Error())
	}
	return out
}

// TestConfigEmptyReportsEveryRequiredField: the empty Config names both
// required fields at once, not the first one only.
func TestConfigEmptyReportsEveryRequiredField(t *testing.T) {
	_, err := samsa.New(passTopology("a", "b"), samsa.Config{})
	got := problems(t, err)
	want := []string{
		"samsa: invalid configuration: field ApplicationID is empty",
		"samsa: invalid configuration: field Bootstrap is empty",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("New(top, Config{}) reports\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestConfigMessages asserts the message of every problem New
// reports, each naming its field, and that all problems of one Config come
// together.
func TestConfigMessages(t *testing.T) {
	const p = "samsa: invalid configuration: "
	ok := samsa.Config{ApplicationID: "app", Bootstrap: []string{"x:1"}}
	with := func(f func(*samsa.Config)) samsa.Config { c := ok; f(&c); return c }
	for _, c := range []struct {
		name string
		cfg  samsa.Config
		want []string
	}{
		{"illegal characters", with(func(c *samsa.Config) { c.ApplicationID = "a b/c" }),
			[]string{p + `field ApplicationID "a b/c" has characters other than the allowed [a-zA-Z0-9._-]: ' ' '/' (it prefixes topic names and ids)`}},
		{"dot", with(func(c *samsa.Config) { c.ApplicationID = "." }),
			[]string{p + `field ApplicationID "." is "." or "..", not allowed in Kafka topic names (it prefixes topic names and ids)`}},
		{"dot dot", with(func(c *samsa.Config) { c.ApplicationID = ".." }),
			[]string{p + `field ApplicationID ".." is "." or "..", not allowed in Kafka topic names (it prefixes topic names and ids)`}},
		{"too long", with(func(c *samsa.Config) { c.ApplicationID = strings.Repeat("a", 201) }),
			[]string{p + `field ApplicationID "` + strings.Repeat("a", 201) + `" is 201 characters long, more than 200 (it prefixes topic names and ids)`}},
		{"instance id", with(func(c *samsa.Config) { c.InstanceID = "pod#1" }),
			[]string{p + `field InstanceID "pod#1" has characters other than the allowed [a-zA-Z0-9._-]: '#' (it is part of the transactional id)`}},
		{"group instance id", with(func(c *samsa.Config) { c.GroupInstanceID = "pod 1" }),
			[]string{p + `field GroupInstanceID "pod 1" has characters other than the allowed [a-zA-Z0-9._-]: ' '`}},
		{"group instance id too long", with(func(c *samsa.Config) { c.GroupInstanceID = strings.Repeat("g", 49) }),
			[]string{p + `field GroupInstanceID "` + strings.Repeat("g", 49) + `" is 49 characters long, more than 48`}},
		{"empty broker", with(func(c *samsa.Config) { c.Bootstrap = []string{"x:1", ""} }),
			[]string{p + "field Bootstrap[1] is empty"}},
		{"guarantee", with(func(c *samsa.Config) { c.Guarantee = 7 }),
			[]string{p + "field Guarantee has unknown value 7"}},
		{"dead letter", with(func(c *samsa.Config) { c.Errors.Processing = samsa.DeadLetter }),
			[]string{p + "field DeadLetterTopic is empty but an error policy is DeadLetter"}},
		{"heartbeat not below session", with(func(c *samsa.Config) { c.SessionTimeout = 6 * time.Second; c.HeartbeatInterval = 6 * time.Second }),
			[]string{p + "field HeartbeatInterval (6s) is not below SessionTimeout (6s); a third of it at most is advised"}},
		{"session below default heartbeat", with(func(c *samsa.Config) { c.SessionTimeout = 2 * time.Second }),
			[]string{p + "field HeartbeatInterval (3s) is not below SessionTimeout (2s); a third of it at most is advised"}},
		{"negative durations", with(func(c *samsa.Config) {
			c.CommitInterval, c.StartupTimeout, c.TaskTimeout, c.CloseTimeout = -1, -2, -3, -4
			c.TransactionTimeout, c.SessionTimeout, c.HeartbeatInterval, c.RebalanceTimeout = -5, -6, -7, -8
		}), []string{
			p + "field CommitInterval is negative (-1ns)", p + "field StartupTimeout is negative (-2ns)",
			p + "field TaskTimeout is negative (-3ns)", p + "field CloseTimeout is negative (-4ns)",
			p + "field TransactionTimeout is negative (-5ns)", p + "field SessionTimeout is negative (-6ns)",
			p + "field HeartbeatInterval is negative (-7ns)", p + "field RebalanceTimeout is negative (-8ns)",
		}},
		{"negative sizes", with(func(c *samsa.Config) {
			c.MaxPollRecords, c.MaxUncommittedBytes, c.StateCacheSize, c.StandbyReplicas = -1, -2, -3, -4
			c.FetchMaxBytes, c.FetchMaxPartitionBytes = -5, -6
		}), []string{
			p + "field MaxPollRecords is negative (-1)", p + "field MaxUncommittedBytes is negative (-2)",
			p + "field StateCacheSize is negative (-3)", p + "field StandbyReplicas is negative (-4)",
			p + "field FetchMaxBytes is negative (-5)", p + "field FetchMaxPartitionBytes is negative (-6)",
		}},
		{"http addr", with(func(c *samsa.Config) { c.HTTPAddr = "9090" }),
			[]string{p + `field HTTPAddr "9090" is not host:port: address 9090: missing port in address`}},
		{"http addr no port", with(func(c *samsa.Config) { c.HTTPAddr = "localhost:" }),
			[]string{p + `field HTTPAddr "localhost:" is not host:port: missing port`}},
		{"all at once", samsa.Config{ApplicationID: "a b", Guarantee: 9, HeartbeatInterval: time.Minute, GroupInstanceID: ".."}, []string{
			p + `field ApplicationID "a b" has characters other than the allowed [a-zA-Z0-9._-]: ' ' (it prefixes topic names and ids)`,
			p + "field Bootstrap is empty",
			p + `field GroupInstanceID ".." is "." or "..", not allowed in Kafka topic names`,
			p + "field HeartbeatInterval (1m0s) is not below SessionTimeout (45s); a third of it at most is advised",
			p + "field Guarantee has unknown value 9",
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := samsa.New(passTopology("a", "b"), c.cfg)
			got := problems(t, err)
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Fatalf("reports\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

// TestConfigAcceptsLegalIDs: every allowed character, the longest ids, and
// the group settings at their limits are accepted.
func TestConfigAcceptsLegalIDs(t *testing.T) {
	for _, cfg := range []samsa.Config{
		{ApplicationID: "Az09._-", InstanceID: "pod-1.a_B", GroupInstanceID: "pod-1.a_B"},
		{ApplicationID: strings.Repeat("a", 200), InstanceID: strings.Repeat("i", 48), GroupInstanceID: strings.Repeat("g", 48)},
		{ApplicationID: "app", SessionTimeout: 6 * time.Second, HeartbeatInterval: 5999 * time.Millisecond,
			RebalanceTimeout: time.Second, FetchMaxBytes: 1 << 30, FetchMaxPartitionBytes: 1},
		{ApplicationID: "app", HTTPAddr: "127.0.0.1:0"}, {ApplicationID: "app", HTTPAddr: ":9090"},
	} {
		cfg.Bootstrap = []string{"x:1"}
		if _, err := samsa.New(passTopology("a", "b"), cfg); err != nil {
			t.Errorf("New(%+v) = %v, want accepted", cfg, err)
		}
	}
}
