package samsa_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/testkit"
)

// saslBroker is the SASL_SSL listener of the real broker, as
// `dev/kafka/run start --sasl-ssl` prints it.
type saslBroker struct {
	bootstrap      []string
	ca             string
	user, password string
}

// saslEnv returns the SASL_SSL listener from the SAMSA_SASL_* variables.
// Without them the test fails when CI=true and is skipped elsewhere.
func saslEnv(t *testing.T) saslBroker {
	t.Helper()
	bs := os.Getenv("SAMSA_SASL_BOOTSTRAP")
	if bs == "" {
		msg := "this test needs the broker's SASL_SSL listener: run ./dev/test, or `dev/kafka/run start --sasl-ssl` and export the SAMSA_BOOTSTRAP and SAMSA_SASL_* lines it prints"
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but SAMSA_SASL_BOOTSTRAP is not set: %s", msg)
		}
		t.Skipf("SKIPPED (no SASL_SSL listener): %s", msg)
	}
	b := saslBroker{bootstrap: strings.Split(bs, ","), ca: os.Getenv("SAMSA_SASL_CA"),
		user: os.Getenv("SAMSA_SASL_USER"), password: os.Getenv("SAMSA_SASL_PASSWORD")}
	if b.ca == "" || b.user == "" || b.password == "" {
		t.Fatal("SAMSA_SASL_BOOTSTRAP is set but SAMSA_SASL_CA, SAMSA_SASL_USER or SAMSA_SASL_PASSWORD is not")
	}
	return b
}

// unsecuredJWT is a token Kafka's default (unsecured) OAUTHBEARER
// validator accepts: alg none, a subject, an expiry.
func unsecuredJWT(sub string) string {
	enc := base64.RawURLEncoding.EncodeToString
	now := time.Now().Unix()
	return enc([]byte(`{"alg":"none"}`)) + "." +
		enc(fmt.Appendf(nil, `{"sub":%q,"iat":%d,"exp":%d}`, sub, now, now+3600)) + "."
}

// TestSecurityExactlyOnceCountOverSASLSSL: an exactly-once Count over
// SASL_SSL, with each mechanism, processes its input; a second instance
// (in-memory state) restores the counts from the changelog over the same
// listener and goes on from them. No log line holds the password.
func TestSecurityExactlyOnceCountOverSASLSSL(t *testing.T) {
	b := saslEnv(t)
	c := testkit.RealCluster(t) // the PLAINTEXT listener of the same broker: setup and checks
	tlsCfg, err := samsa.TLSConfig(b.ca, "", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		name string
		sasl samsa.SASL
	}{
		{"scram-sha-512", samsa.SASL{Mechanism: samsa.SASLScramSHA512, User: b.user, Password: b.password}},
		{"scram-sha-256", samsa.SASL{Mechanism: samsa.SASLScramSHA256, User: b.user, Password: b.password}},
		{"plain", samsa.SASL{Mechanism: samsa.SASLPlain, User: b.user, Password: b.password}},
		{"oauthbearer", samsa.SASL{Mechanism: samsa.SASLOAuthBearer, TokenSource: func(context.Context) (string, error) { return unsecuredJWT(b.user), nil }}},
	} {
		t.Run(m.name, func(t *testing.T) {
			const keys = 10
			in, out := c.Topic(t, "sec-in", 2), c.Topic(t, "sec-out", 2)
			appID := testkit.UniqueName("sec-app")
			logs := &syncBuffer{}
			defer func() {
				if t.Failed() {
					t.Log(logs.String())
				}
			}()
			cfg := samsa.Config{ApplicationID: appID, Bootstrap: b.bootstrap, Guarantee: samsa.ExactlyOnce,
				InMemoryState: true, TLS: tlsCfg, SASL: m.sasl,
				Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
			produceKeys(t, c, in, 100, keys)
			first, err := samsa.New(countTopology(in, out), cfg)
			if err != nil {
				t.Fatal(err)
			}
			runUntil(t, first, 100)
			for k, n := range lastCounts(t, c, out) {
				if n != 10 {
					t.Errorf("key %s counted %d, want 10", k, n)
				}
			}

			produceKeys(t, c, in, 100, keys)
			second, err := samsa.New(countTopology(in, out), cfg)
			if err != nil {
				t.Fatal(err)
			}
			runUntil(t, second, 100)
			if second.Restored() < keys {
				t.Errorf("second instance restored %d records, want at least %d (one per key)", second.Restored(), keys)
			}
			counts := lastCounts(t, c, out)
			if len(counts) != keys {
				t.Errorf("%d keys counted, want %d", len(counts), keys)
			}
			for k, n := range counts {
				if n != 20 {
					t.Errorf("key %s counted %d after the restore, want 20", k, n)
				}
			}
			if logs.String() == "" {
				t.Fatal("no log line captured: the password scan below would prove nothing")
			}
			if strings.Contains(logs.String(), b.password) {
				t.Error("the password appears in the logs")
			}
		})
	}
}

// runSecureStartup runs an App with cfg against the SASL_SSL listener and
// returns how long Run took and its error, failing the test if Run does
// not return within a minute.
func runSecureStartup(t *testing.T, cfg samsa.Config) (time.Duration, error) {
	t.Helper()
	c := testkit.RealCluster(t)
	in, out := c.Topic(t, "sec-in", 1), c.Topic(t, "sec-out", 1)
	cfg.ApplicationID = testkit.UniqueName("sec-app")
	cfg.Guarantee = samsa.ExactlyOnce
	cfg.InMemoryState = true
	app, err := samsa.New(countTopology(in, out), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	began := time.Now()
	err = app.Run(ctx)
	took := time.Since(began)
	if err == nil || ctx.Err() != nil {
		t.Fatalf("Run = %v after %s, want a startup error", err, took)
	}
	return took, err
}

// TestSecurityWrongPasswordFailsFast: a wrong password fails the start
// within seconds with an error that says authentication failed and holds
// neither password; neither do the logs.
func TestSecurityWrongPasswordFailsFast(t *testing.T) {
	b := saslEnv(t)
	tlsCfg, err := samsa.TLSConfig(b.ca, "", "")
	if err != nil {
		t.Fatal(err)
	}
	wrong := "wrong-" + b.password
	logs := &syncBuffer{}
	took, err := runSecureStartup(t, samsa.Config{Bootstrap: b.bootstrap, TLS: tlsCfg,
		SASL:   samsa.SASL{Mechanism: samsa.SASLScramSHA512, User: b.user, Password: wrong},
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	t.Logf("Run after %s: %v", took.Round(time.Millisecond), err)
	if took > 15*time.Second {
		t.Errorf("Run failed after %s, want within seconds", took)
	}
	if !strings.Contains(strings.ToLower(err.Error()), "authentication failed") || !errors.Is(err, samsa.ErrSecurity) ||
		!strings.Contains(err.Error(), "Config.SASL") {
		t.Errorf("Run = %v, want ErrSecurity saying authentication failed, naming Config.SASL", err)
	}
	for _, secret := range []string{wrong, b.password} {
		if strings.Contains(err.Error(), secret) {
			t.Error("the error holds a password")
		}
		if strings.Contains(logs.String(), secret) {
			t.Error("the logs hold a password")
		}
	}
}

// TestSecurityUntrustedCAFailsFast: a broker certificate signed by a CA
// the client does not trust fails the start within seconds with a
// certificate error.
func TestSecurityUntrustedCAFailsFast(t *testing.T) {
	b := saslEnv(t)
	tlsCfg, err := samsa.TLSConfig("", "", "") // the system's CAs, which do not hold the dev CA
	if err != nil {
		t.Fatal(err)
	}
	took, err := runSecureStartup(t, samsa.Config{Bootstrap: b.bootstrap, TLS: tlsCfg,
		SASL:   samsa.SASL{Mechanism: samsa.SASLScramSHA512, User: b.user, Password: b.password},
		Logger: testkit.Logger(t, slog.LevelInfo)})
	t.Logf("Run after %s: %v", took.Round(time.Millisecond), err)
	if took > 15*time.Second {
		t.Errorf("Run failed after %s, want within seconds", took)
	}
	if !strings.Contains(err.Error(), "certificate") || !errors.Is(err, samsa.ErrSecurity) || !strings.Contains(err.Error(), "Config.TLS") {
		t.Errorf("Run = %v, want ErrSecurity, a certificate error naming Config.TLS", err)
	}
	if strings.Contains(err.Error(), b.password) {
		t.Error("the error holds the password")
	}
}

// TestSecurityACLsOfTheREADME: an application run by a user that holds
// only the ACLs README.md lists (group <id>; topics and transactional ids
// prefixed <id>-; read on the input, write on the output) counts exactly
// once and restores; without the group ACL, the same start fails at once.
func TestSecurityACLsOfTheREADME(t *testing.T) {
	b := saslEnv(t)
	user := os.Getenv("SAMSA_SASL_ACL_USER")
	if user == "" {
		t.Fatal("SAMSA_SASL_BOOTSTRAP is set but SAMSA_SASL_ACL_USER is not: restart the broker with the current dev/kafka/run start --sasl-ssl")
	}
	c := testkit.RealCluster(t) // PLAINTEXT: a super user, which creates the ACLs
	tlsCfg, err := samsa.TLSConfig(b.ca, "", "")
	if err != nil {
		t.Fatal(err)
	}
	const keys = 10
	in, out := c.Topic(t, "acl-in", 2), c.Topic(t, "acl-out", 2)
	appID := testkit.UniqueName("acl-app")
	principal := "User:" + user
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	grant := func(acl *kadm.ACLBuilder) {
		t.Helper()
		res, err := c.Admin().CreateACLs(ctx, acl.Allow(principal).AllowHosts())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatalf("create ACL %s %s: %v", r.Type, r.Name, r.Err)
			}
		}
	}
	grant(kadm.NewACLs().Topics(appID + "-").ResourcePatternType(kadm.ACLPatternPrefixed).Operations(kadm.OpAll))
	grant(kadm.NewACLs().TransactionalIDs(appID+"-").ResourcePatternType(kadm.ACLPatternPrefixed).Operations(kadm.OpWrite, kadm.OpDescribe))
	grant(kadm.NewACLs().Topics(in).Operations(kadm.OpRead, kadm.OpDescribe))
	grant(kadm.NewACLs().Topics(out).Operations(kadm.OpWrite, kadm.OpDescribe))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = c.Admin().DeleteACLs(ctx, kadm.NewACLs().Allow(principal).AllowHosts().AnyResource().
			ResourcePatternType(kadm.ACLPatternMatch).Operations(kadm.OpAny))
	})
	logs := &syncBuffer{}
	defer func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	}()
	cfg := samsa.Config{ApplicationID: appID, Bootstrap: b.bootstrap, Guarantee: samsa.ExactlyOnce, InMemoryState: true,
		StartupTimeout: 10 * time.Second, TLS: tlsCfg,
		SASL:   samsa.SASL{Mechanism: samsa.SASLScramSHA512, User: user, Password: b.password},
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	produceKeys(t, c, in, 100, keys)

	// No group ACL yet: refused.
	noGroup, err := samsa.New(countTopology(in, out), cfg)
	if err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
	began := time.Now()
	err = noGroup.Run(rctx)
	rcancel()
	t.Logf("without the group ACL, Run after %s: %v", time.Since(began).Round(time.Millisecond), err)
	if !errors.Is(err, samsa.ErrSecurity) || !strings.Contains(err.Error(), "GROUP_AUTHORIZATION_FAILED") || !strings.Contains(err.Error(), appID) {
		t.Fatalf("without the group ACL, Run = %v, want ErrSecurity, GROUP_AUTHORIZATION_FAILED naming group %s", err, appID)
	}
	if took := time.Since(began); took > 20*time.Second {
		t.Errorf("without the group ACL, Run failed after %s, want within seconds", took)
	}

	grant(kadm.NewACLs().Groups(appID).Operations(kadm.OpRead, kadm.OpDescribe))
	first, err := samsa.New(countTopology(in, out), cfg)
	if err != nil {
		t.Fatal(err)
	}
	runUntil(t, first, 100)
	produceKeys(t, c, in, 100, keys)
	second, err := samsa.New(countTopology(in, out), cfg)
	if err != nil {
		t.Fatal(err)
	}
	runUntil(t, second, 100)
	if second.Restored() < keys {
		t.Errorf("second instance restored %d records, want at least %d", second.Restored(), keys)
	}
	counts := lastCounts(t, c, out)
	if len(counts) != keys {
		t.Errorf("%d keys counted, want %d", len(counts), keys)
	}
	for k, n := range counts {
		if n != 20 {
			t.Errorf("key %s counted %d, want 20", k, n)
		}
	}
}

// TestSecuritySliceOverSASLSSL: the stateless vertical slice (a
// pass-through, at-least-once) over SASL_SSL with SCRAM-SHA-512: every input
// record reaches the output.
func TestSecuritySliceOverSASLSSL(t *testing.T) {
	b := saslEnv(t)
	c := testkit.RealCluster(t)
	tlsCfg, err := samsa.TLSConfig(b.ca, "", "")
	if err != nil {
		t.Fatal(err)
	}
	in, out := c.Topic(t, "sec-slice-in", 2), c.Topic(t, "sec-slice-out", 2)
	app, err := samsa.New(passTopology(in, out), samsa.Config{
		ApplicationID: testkit.UniqueName("sec-slice"), Bootstrap: b.bootstrap, StateDir: t.TempDir(),
		TLS: tlsCfg, SASL: samsa.SASL{Mechanism: samsa.SASLScramSHA512, User: b.user, Password: b.password},
		CommitInterval: 100 * time.Millisecond, Logger: testkit.Logger(t, slog.LevelInfo),
	})
	if err != nil {
		t.Fatal(err)
	}
	run := testkit.Start(t, app)
	produceValues(t, c, in, 0, 500)
	run.WaitFor(t, 60*time.Second, "500 records through", func() bool { return len(echoCounts(t, c, out)) >= 500 })
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, echoCounts(t, c, out), 0, 500) // no restart: no duplicate either
}
