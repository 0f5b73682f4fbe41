package runtime

import (
	"crypto/tls"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

// TestEveryClientHasTheSecurityOptions: the clients built by clientOpts
// (all of them, see TestOnlyClientsGoMakesClients) carry the TLS config
// and the SASL mechanism, and Config.ClientOptions come last, so they win.
func TestEveryClientHasTheSecurityOptions(t *testing.T) {
	tlsCfg := &tls.Config{ServerName: "broker.example", MinVersion: tls.VersionTLS12}
	mech := plain.Auth{User: "u", Pass: "p"}.AsMechanism()
	a := &App{log: slog.New(slog.DiscardHandler), cfg: Config{Bootstrap: []string{"127.0.0.1:1"}, TLS: tlsCfg, SASL: mech,
		ClientOptions: []kgo.Opt{kgo.ClientID("user-wins")}}}
	build := map[string]func() (*kgo.Client, error){
		"admin":     func() (*kgo.Client, error) { return a.newClient() },
		"changelog": func() (*kgo.Client, error) { return a.newChangelogClient(nil) },
		"group":     func() (*kgo.Client, error) { return kgo.NewClient(a.clientOpts(kgo.ClientID("samsa"))...) },
	}
	for name, b := range build {
		cl, err := b()
		if err != nil {
			t.Fatalf("%s client: %v", name, err)
		}
		got, _ := cl.OptValue(kgo.DialTLSConfig).(*tls.Config)
		if got == nil || got.ServerName != "broker.example" {
			t.Errorf("%s client: TLS config %v, want the configured one", name, got)
		}
		if got == tlsCfg {
			t.Errorf("%s client: shares the caller's *tls.Config, want a clone", name)
		}
		mechs, _ := cl.OptValue(kgo.SASL).([]sasl.Mechanism)
		if len(mechs) != 1 || mechs[0].Name() != "PLAIN" {
			t.Errorf("%s client: SASL %v, want PLAIN", name, mechs)
		}
		if id := cl.OptValue(kgo.ClientID); id != "user-wins" {
			t.Errorf("%s client: client id %v, want Config.ClientOptions' user-wins", name, id)
		}
		cl.Close()
	}
	plainApp := &App{log: slog.New(slog.DiscardHandler), cfg: Config{Bootstrap: []string{"127.0.0.1:1"}}}
	cl, err := plainApp.newClient()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if got := cl.OptValue(kgo.DialTLSConfig); got != (*tls.Config)(nil) {
		t.Errorf("without Config.TLS: TLS config %v, want none", got)
	}
	if mechs, _ := cl.OptValue(kgo.SASL).([]sasl.Mechanism); len(mechs) != 0 {
		t.Errorf("without Config.SASL: SASL %v, want none", mechs)
	}
}

// TestOnlyClientsGoMakesClients: no file of the package but clients.go
// calls kgo.NewClient or kgo.SeedBrokers, so every Kafka client the App
// makes goes through clientOpts and gets TLS, SASL and ClientOptions.
func TestOnlyClientsGoMakesClients(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || f == "clients.go" {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		file, err := parser.ParseFile(fset, f, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		ast.Inspect(file, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok && isSel(call.Fun, "exactlyonce", "Open") {
				// exactlyonce.Open makes the group client from its options.
				if len(call.Args) != 2 || !isCall(call.Args[1], "clientOpts") {
					t.Errorf("%s: exactlyonce.Open without a.clientOpts(...)... as its options", fset.Position(call.Pos()))
				}
			}
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); ok && x.Name == "kgo" && (sel.Sel.Name == "NewClient" || sel.Sel.Name == "SeedBrokers") {
				t.Errorf("%s: kgo.%s outside clients.go: build the client with App.newClient or App.clientOpts", fset.Position(sel.Pos()), sel.Sel.Name)
			}
			return true
		})
	}
	if checked < 5 {
		t.Fatalf("checked %d files, want the package's sources", checked)
	}
}

// isSel reports whether e is pkg.name.
func isSel(e ast.Expr, pkg, name string) bool {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	x, ok := sel.X.(*ast.Ident)
	return ok && x.Name == pkg && sel.Sel.Name == name
}

// isCall reports whether e calls a method or function called name.
func isCall(e ast.Expr, name string) bool {
	call, ok := e.(*ast.CallExpr)
	if !ok {
		return false
	}
	switch f := call.Fun.(type) {
	case *ast.SelectorExpr:
		return f.Sel.Name == name
	case *ast.Ident:
		return f.Name == name
	}
	return false
}

// TestRefusedEndsRunOnAuthorizationErrors: a fetch error that says an ACL
// is missing ends Run, naming the group or the topic; others are retried.
func TestRefusedEndsRunOnAuthorizationErrors(t *testing.T) {
	for _, tc := range []struct {
		fe   kgo.FetchError
		want string
	}{
		{kgo.FetchError{Err: kerr.GroupAuthorizationFailed}, `consumer group "app"`},
		{kgo.FetchError{Topic: "in", Partition: 3, Err: kerr.TopicAuthorizationFailed}, `topic "in" partition 3`},
		{kgo.FetchError{Err: fmt.Errorf("join: %w", kerr.TransactionalIDAuthorizationFailed)}, `consumer group "app"`},
	} {
		err := refused("app", tc.fe)
		if !errors.Is(err, ErrNotAuthorized) || !errors.Is(err, tc.fe.Err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("refused(%v) = %v, want ErrNotAuthorized naming %s", tc.fe.Err, err, tc.want)
		}
	}
	for _, retriable := range []error{kerr.NotLeaderForPartition, kerr.UnknownTopicOrPartition, errors.New("dial tcp: connection refused")} {
		if err := refused("app", kgo.FetchError{Topic: "in", Err: retriable}); err != nil {
			t.Errorf("refused(%v) = %v, want nil (retried)", retriable, err)
		}
	}
}
