package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// testOnlyImport reports why a package must not be linked into the CLI
// binary, or "" if it may be.
func testOnlyImport(path, name string) string {
	switch {
	case path == "testing" || strings.HasPrefix(path, "testing/"):
		return "the standard testing package"
	case path == "net/http/httptest":
		return "a standard package for tests"
	case path == "github.com/samsa-streams/samsa/testkit":
		return "the testkit package (it imports testing); use testkit/cluster"
	case strings.HasSuffix(path, "_test") || strings.HasSuffix(path, ".test") || strings.HasSuffix(name, "_test"):
		return "a _test package"
	}
	return ""
}

// goTool returns the go command: the one on PATH, else $GOROOT/bin/go. A
// missing go command fails the test.
func goTool(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if root := os.Getenv("GOROOT"); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatal("the go command is neither on PATH nor in $GOROOT/bin: this test needs it to list the CLI's dependencies")
	return ""
}

// TestBinaryHasNoTestOnlyDependencies lists the dependencies of the CLI (as
// `go list -deps` sees them when building the binary, tests excluded) and
// fails naming every test-only package among them and who imports it.
func TestBinaryHasNoTestOnlyDependencies(t *testing.T) {
	gobin := goTool(t)
	cmd := exec.Command(gobin, "list", "-deps", "-f", "{{.ImportPath}}\t{{.Name}}\t{{join .Imports \" \"}}", ".")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s list -deps .: %v\n%s", gobin, err, stderr.String())
	}
	importers := map[string][]string{}
	names := map[string]string{}
	var all []string
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		f := strings.SplitN(line, "\t", 3)
		if len(f) != 3 {
			t.Fatalf("unexpected go list line %q", line)
		}
		all = append(all, f[0])
		names[f[0]] = f[1]
		for imp := range strings.FieldsSeq(f[2]) {
			importers[imp] = append(importers[imp], f[0])
		}
	}
	if len(all) < 2 || all[len(all)-1] != "github.com/samsa-streams/samsa/cmd/samsa" {
		t.Fatalf("go list -deps did not end with the CLI package; got %d packages, last %q", len(all), all[len(all)-1])
	}
	for _, p := range all {
		if why := testOnlyImport(p, names[p]); why != "" {
			by := importers[p]
			sort.Strings(by)
			t.Errorf("the samsa binary links %s (%s), imported by %s", p, why, strings.Join(by, ", "))
		}
	}
}

func TestTestOnlyImport(t *testing.T) {
	for _, c := range []struct {
		path, name string
		bad        bool
	}{
		{"testing", "testing", true},
		{"testing/synctest", "synctest", true},
		{"net/http/httptest", "httptest", true},
		{"github.com/samsa-streams/samsa/testkit", "testkit", true},
		{"github.com/samsa-streams/samsa/cmd/samsa_test", "main_test", true},
		{"github.com/samsa-streams/samsa/testkit/cluster", "cluster", false},
		{"github.com/twmb/franz-go/pkg/kfake", "kfake", false},
		{"net/http", "http", false},
	} {
		if got := testOnlyImport(c.path, c.name) != ""; got != c.bad {
			t.Errorf("testOnlyImport(%q) flags it: %v, want %v", c.path, got, c.bad)
		}
	}
}
