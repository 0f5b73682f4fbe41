package samsa_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streams/samsa"
)

const secret = "s3cr3t-Pa55word"

// TestSASLValidationNamesTheField: a half-configured SASL fails New with
// ErrConfig naming the field, and the error never holds the password.
func TestSASLValidationNamesTheField(t *testing.T) {
	token := func(context.Context) (string, error) { return "t", nil }
	for _, tc := range []struct {
		name string
		sasl samsa.SASL
		want []string // each must appear in the error
	}{
		{"user without password", samsa.SASL{Mechanism: samsa.SASLScramSHA512, User: "u"}, []string{"field SASL.Password is empty", "SCRAM-SHA-512"}},
		{"password without user", samsa.SASL{Mechanism: samsa.SASLPlain, Password: secret}, []string{"field SASL.User is empty", "PLAIN"}},
		{"unknown mechanism", samsa.SASL{Mechanism: "SCRAM-MD5", User: "u", Password: secret}, []string{`field SASL.Mechanism "SCRAM-MD5" is unknown`}},
		{"no mechanism", samsa.SASL{User: "u", Password: secret}, []string{"field SASL.Mechanism is empty"}},
		{"oauth without token source", samsa.SASL{Mechanism: samsa.SASLOAuthBearer}, []string{"field SASL.TokenSource is nil"}},
		{"oauth with a password", samsa.SASL{Mechanism: samsa.SASLOAuthBearer, TokenSource: token, Password: secret}, []string{"SASL.Password is set but mechanism OAUTHBEARER"}},
		{"token source with scram", samsa.SASL{Mechanism: samsa.SASLScramSHA256, User: "u", Password: secret, TokenSource: token}, []string{"field SASL.TokenSource is set"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := samsa.New(passTopology("in", "out"), samsa.Config{ApplicationID: "a", Bootstrap: []string{"127.0.0.1:1"}, SASL: tc.sasl})
			if !errors.Is(err, samsa.ErrConfig) {
				t.Fatalf("New = %v, want ErrConfig", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New = %v, want it to say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("New = %v: holds the password", err)
			}
		})
	}
	for _, ok := range []samsa.SASL{
		{},
		{Mechanism: samsa.SASLPlain, User: "u", Password: secret},
		{Mechanism: samsa.SASLScramSHA256, User: "u", Password: secret},
		{Mechanism: samsa.SASLScramSHA512, User: "u", Password: secret},
		{Mechanism: samsa.SASLOAuthBearer, TokenSource: token},
	} {
		if _, err := samsa.New(passTopology("in", "out"), samsa.Config{ApplicationID: "a", Bootstrap: []string{"127.0.0.1:1"}, SASL: ok}); err != nil {
			t.Errorf("New with %v = %v, want it accepted", ok, err)
		}
	}
}

// TestSASLRedactsThePassword: every way of printing or logging a Config
// or its SASL shows the user and the mechanism, never the password.
func TestSASLRedactsThePassword(t *testing.T) {
	cfg := samsa.Config{ApplicationID: "a", Bootstrap: []string{"b:9092"},
		SASL: samsa.SASL{Mechanism: samsa.SASLScramSHA512, User: "alice", Password: secret}}
	var logged bytes.Buffer
	text := slog.New(slog.NewTextHandler(&logged, nil))
	text.Info("config", "sasl", cfg.SASL)
	json := slog.New(slog.NewJSONHandler(&logged, nil))
	json.Info("config", "sasl", cfg.SASL, "ptr", &cfg.SASL)
	for name, s := range map[string]string{
		"%v":         fmt.Sprintf("%v", cfg.SASL),
		"%+v":        fmt.Sprintf("%+v", cfg.SASL),
		"%#v":        fmt.Sprintf("%#v", cfg.SASL),
		"String":     cfg.SASL.String(),
		"Config %v":  fmt.Sprintf("%v", cfg),
		"Config %+v": fmt.Sprintf("%+v", cfg),
		"Config %#v": fmt.Sprintf("%#v", cfg),
		"*Config %v": fmt.Sprintf("%v", &cfg),
		"slog":       logged.String(),
	} {
		if strings.Contains(s, secret) {
			t.Errorf("%s shows the password: %s", name, s)
		}
		if !strings.Contains(s, "alice") || !strings.Contains(s, "SCRAM-SHA-512") {
			t.Errorf("%s lost the user or the mechanism: %s", name, s)
		}
	}
	if !strings.Contains(logged.String(), "[REDACTED]") {
		t.Errorf("slog output %s does not say the password is redacted", logged.String())
	}
}

// TestTLSConfigFromFiles: TLSConfig loads the CA into RootCAs and the
// client key pair, and names the file or the field when they are wrong.
func TestTLSConfigFromFiles(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	ca, crt, k, junk := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem"), filepath.Join(dir, "junk.pem")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	for f, b := range map[string][]byte{ca: certPEM, crt: certPEM, k: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), junk: []byte("nope")} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := samsa.TLSConfig(ca, crt, k)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RootCAs == nil || len(cfg.Certificates) != 1 || cfg.ServerName != "" {
		t.Errorf("TLSConfig = RootCAs %v, %d certificates, ServerName %q; want the CA, one certificate, no server name", cfg.RootCAs != nil, len(cfg.Certificates), cfg.ServerName)
	}
	if cfg, err := samsa.TLSConfig("", "", ""); err != nil || cfg.RootCAs != nil {
		t.Errorf("TLSConfig() = %v, %v: want the system's CAs", cfg, err)
	}
	for _, bad := range []struct {
		ca, cert, key, want string
	}{
		{filepath.Join(dir, "missing.pem"), "", "", "missing.pem"},
		{junk, "", "", "junk.pem holds no PEM certificate"},
		{"", crt, "", "give both or neither"},
		{"", crt, junk, "junk.pem"},
	} {
		_, err := samsa.TLSConfig(bad.ca, bad.cert, bad.key)
		if !errors.Is(err, samsa.ErrConfig) || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("TLSConfig(%q, %q, %q) = %v, want ErrConfig saying %q", bad.ca, bad.cert, bad.key, err, bad.want)
		}
	}
}
