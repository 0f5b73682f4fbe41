package samsa

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// SASLMechanism names a SASL mechanism as Kafka's sasl.mechanism does.
type SASLMechanism string

// The SASL mechanisms samsa speaks.
const (
	// SASLPlain sends the user and password as they are: use it over TLS only.
	SASLPlain SASLMechanism = "PLAIN"
	// SASLScramSHA256 is SCRAM with SHA-256 (the password never crosses the wire).
	SASLScramSHA256 SASLMechanism = "SCRAM-SHA-256"
	// SASLScramSHA512 is SCRAM with SHA-512.
	SASLScramSHA512 SASLMechanism = "SCRAM-SHA-512"
	// SASLOAuthBearer sends a bearer token from SASL.TokenSource.
	SASLOAuthBearer SASLMechanism = "OAUTHBEARER"
)

// SASL authenticates the connections to the brokers (Kafka's sasl.*
// settings). The zero value turns SASL off. PLAIN and SCRAM take User and
// Password; OAUTHBEARER takes TokenSource. New refuses a half-configured
// SASL, naming the field. Its String, GoString and LogValue never show the
// password: a Config may be printed or logged as it is.
type SASL struct {
	// Mechanism is one of the SASL* constants; empty turns SASL off.
	Mechanism SASLMechanism
	// User and Password are the credentials of PLAIN and SCRAM.
	User     string
	Password string
	// TokenSource returns the OAUTHBEARER token, when a connection
	// authenticates (so a refreshed token is picked up by new connections).
	TokenSource func(context.Context) (string, error)
}

// redacted stands in for a secret in every rendering of a SASL.
const redacted = "[REDACTED]"

// String renders the SASL configuration with the password redacted.
func (s SASL) String() string {
	if s.Mechanism == "" && s.User == "" && s.Password == "" && s.TokenSource == nil {
		return "SASL{off}"
	}
	parts := []string{"Mechanism=" + string(s.Mechanism)}
	if s.User != "" {
		parts = append(parts, "User="+s.User)
	}
	if s.Password != "" {
		parts = append(parts, "Password="+redacted)
	}
	if s.TokenSource != nil {
		parts = append(parts, "TokenSource=set")
	}
	return "SASL{" + strings.Join(parts, " ") + "}"
}

// GoString is String, so that %#v redacts the password too.
func (s SASL) GoString() string { return s.String() }

// LogValue renders the SASL configuration for log/slog, password redacted.
func (s SASL) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("mechanism", string(s.Mechanism)), slog.String("user", s.User)}
	if s.Password != "" {
		attrs = append(attrs, slog.String("password", redacted))
	}
	if s.TokenSource != nil {
		attrs = append(attrs, slog.Bool("token_source", true))
	}
	return slog.GroupValue(attrs...)
}

// enabled reports whether any field is set.
func (s SASL) enabled() bool {
	return s.Mechanism != "" || s.User != "" || s.Password != "" || s.TokenSource != nil
}

// validate returns what is wrong with the configuration, one message per
// problem, each naming its field. The messages never hold the password.
func (s SASL) validate() []string {
	if !s.enabled() {
		return nil
	}
	var bad []string
	userPassword := func() {
		if s.User == "" {
			bad = append(bad, fmt.Sprintf("field SASL.User is empty (mechanism %s needs a user and a password)", s.Mechanism))
		}
		if s.Password == "" {
			bad = append(bad, fmt.Sprintf("field SASL.Password is empty (mechanism %s needs a user and a password)", s.Mechanism))
		}
		if s.TokenSource != nil {
			bad = append(bad, fmt.Sprintf("field SASL.TokenSource is set but mechanism %s does not use it (OAUTHBEARER does)", s.Mechanism))
		}
	}
	switch s.Mechanism {
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
		userPassword()
	case SASLOAuthBearer:
		if s.TokenSource == nil {
			bad = append(bad, "field SASL.TokenSource is nil (mechanism OAUTHBEARER needs it)")
		}
		if s.User != "" || s.Password != "" {
			bad = append(bad, "field SASL.User or SASL.Password is set but mechanism OAUTHBEARER does not use them (give the token through SASL.TokenSource)")
		}
	case "":
		bad = append(bad, "field SASL.Mechanism is empty but other SASL fields are set (one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER)")
	default:
		bad = append(bad, fmt.Sprintf("field SASL.Mechanism %q is unknown (one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER)", s.Mechanism))
	}
	return bad
}

// mechanism returns franz-go's mechanism for a validated configuration,
// nil when SASL is off.
func (s SASL) mechanism() sasl.Mechanism {
	switch s.Mechanism {
	case SASLPlain:
		return plain.Auth{User: s.User, Pass: s.Password}.AsMechanism()
	case SASLScramSHA256:
		return scram.Auth{User: s.User, Pass: s.Password}.AsSha256Mechanism()
	case SASLScramSHA512:
		return scram.Auth{User: s.User, Pass: s.Password}.AsSha512Mechanism()
	case SASLOAuthBearer:
		src := s.TokenSource
		return oauth.Oauth(func(ctx context.Context) (oauth.Auth, error) {
			tok, err := src(ctx)
			if err != nil {
				return oauth.Auth{}, fmt.Errorf("samsa: SASL.TokenSource: %w", err)
			}
			return oauth.Auth{Token: tok}, nil
		})
	}
	return nil
}

// TLSConfig returns a *tls.Config for Config.TLS from PEM files: caFile,
// when not empty, is the CA bundle the brokers' certificates are checked
// against (instead of the system's); certFile and keyFile, both or
// neither, are the client certificate for mutual TLS. The server name is
// left empty: each broker's certificate is checked against the host it is
// dialed at.
func TLSConfig(caFile, certFile, keyFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("%w: TLS CA file: %w", ErrConfig, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: TLS CA file %s holds no PEM certificate", ErrConfig, caFile)
		}
		cfg.RootCAs = pool
	}
	switch {
	case certFile != "" && keyFile != "":
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: TLS client certificate %s and key %s: %w", ErrConfig, certFile, keyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	case certFile != "" || keyFile != "":
		return nil, fmt.Errorf("%w: TLS client certificate (%q) and key (%q) go together: give both or neither", ErrConfig, certFile, keyFile)
	}
	return cfg, nil
}

// ErrSecurity is wrapped by Run's error when the brokers refuse the
// connection's SASL authentication, the TLS handshake fails on their
// certificate, or an ACL the application needs is missing. The error says
// which Config field to check, or what was refused.
var ErrSecurity = errors.New("samsa: broker connection security")

// security is what Run's errors say of Config.TLS and Config.SASL: never
// the password.
type security struct {
	tls       bool
	mechanism SASLMechanism
	user      string
}

// security returns what Run's errors may say of the configuration.
func (c Config) security() security {
	return security{tls: c.TLS != nil, mechanism: c.SASL.Mechanism, user: c.SASL.User}
}

// explain wraps err with ErrSecurity and the Config field to check when it
// is a failed SASL authentication, an authorization failure or an
// untrusted broker certificate.
func (s security) explain(err error) error {
	if err == nil {
		return nil
	}
	var unknownCA x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.Is(err, kerr.SaslAuthenticationFailed):
		who := string(s.mechanism)
		if s.user != "" {
			who += fmt.Sprintf(" as user %q", s.user)
		}
		return fmt.Errorf("%w: SASL authentication failed (Config.SASL: %s): %w", ErrSecurity, who, err)
	case errors.Is(err, kerr.GroupAuthorizationFailed), errors.Is(err, kerr.TopicAuthorizationFailed),
		errors.Is(err, kerr.TransactionalIDAuthorizationFailed), errors.Is(err, kerr.ClusterAuthorizationFailed):
		return fmt.Errorf("%w: the brokers refused an operation to the application's principal: an ACL is missing (README.md, Security, lists them): %w", ErrSecurity, err)
	case errors.As(err, &unknownCA):
		return fmt.Errorf("%w: the brokers' TLS certificate is signed by an authority Config.TLS does not trust (RootCAs): %w", ErrSecurity, err)
	case errors.As(err, &host):
		return fmt.Errorf("%w: the brokers' TLS certificate is not valid for the host dialed (Config.TLS ServerName, Config.Bootstrap): %w", ErrSecurity, err)
	case errors.As(err, &invalid):
		return fmt.Errorf("%w: the brokers' TLS certificate is invalid (Config.TLS): %w", ErrSecurity, err)
	}
	return err
}
