package processor_test

import (
	"bufio"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The public packages a user's code sees. Their exported declarations must
// not name an internal package: a user cannot import one. "" is the root
// package, samsa.
var publicPackages = []string{"", "processor", "topology", "changelog", "exactlyonce", "serde", "testkit"}

// knownInternal lists the declarations (a type with its constructors and
// methods, or a top-level func, var or const) that still name an internal
// package, per public package. It is empty, and nothing may be added here.
var knownInternal = map[string][]string{}

// engineParts are names processor must not export: engine parts no user's
// processor needs (they live in internal/stores).
var engineParts = []string{
	"RangeDropper", "Transactional",
	"StoreEvent", "StoreCommitted", "StoreAborted", "StoreRestored",
	"NewBytesWindowStore", "NewBytesSessionStore",
	"BytesWindowStore", "BytesSessionStore",
	"WrapWindowStore", "WrapSessionStore",
	"NewKeyValueStore", "NewWindowStore", "NewSessionStore",
}

// userAPI is everything processor exports at the top level: what a user's
// processor touches. A new name belongs here only if a user's processor
// needs it.
var userAPI = []string{
	// records
	"Header", "Origin", "Record", "NewRecord", "NewTombstone", "SourceRecord", "WithValue", "WithKeyValue",
	// processors and their context
	"Processor", "Supplier", "Func", "Context", "TaskContext", "TaskID",
	// punctuation
	"Cancellable", "PunctuationType", "StreamTime", "WallClockTime",
	// stores
	"StateStore", "KeyValue", "KeyValueStore", "BytesKeyValueStore",
	"WindowStore", "Windowed", "WindowedKeyValue",
	"SessionStore", "Session",
	"GetKeyValueStore", "GetWindowStore", "GetSessionStore",
	// sentinel errors
	"ErrStoreNotConnected", "ErrBeforeEpoch",
}

// declLine is one line of an exported declaration in `go doc -all` output.
type declLine struct {
	group string // the type, func, var or const it belongs to
	text  string
}

// docDecls runs `go doc -all` on a package of this module and returns the
// declaration lines of its exported API: no package comment, no doc text, no
// comments inside declarations.
func docDecls(t *testing.T, pkg string) []declLine {
	t.Helper()
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("this test runs `go doc`, but the go tool is not in PATH: %v", err)
	}
	cmd := exec.Command(gotool, "doc", "-all", strings.TrimSuffix("github.com/samsa-streams/samsa/"+pkg, "/"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go doc -all %s: %v\n%s", pkg, err, stderr.String())
	}
	var (
		decls   []declLine
		section string // "" before the first section: the package comment
		group   string
	)
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch line {
		case "CONSTANTS", "VARIABLES", "FUNCTIONS", "TYPES":
			section, group = line, ""
			continue
		}
		if section == "" || strings.TrimSpace(line) == "" ||
			strings.HasPrefix(line, "    ") || // doc text
			strings.HasPrefix(strings.TrimSpace(line), "//") {
			continue
		}
		if name := declName(line); name != "" && (section != "TYPES" || strings.HasPrefix(line, "type ")) {
			group = name
		}
		decls = append(decls, declLine{group: group, text: line})
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading go doc %s: %v", pkg, err)
	}
	if len(decls) == 0 {
		t.Fatalf("go doc -all %s shows no declarations:\n%s", pkg, out)
	}
	return decls
}

var (
	declRE     = regexp.MustCompile(`^(?:type|func|var|const) (?:\([^)]*\) )?([A-Za-z_][A-Za-z0-9_]*)`)
	blockRE    = regexp.MustCompile(`^(?:var|const) \($`)
	blockEntRE = regexp.MustCompile(`^\t([A-Za-z_][A-Za-z0-9_]*)`)
	stringRE   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|` + "`[^`]*`")
	internalRE = regexp.MustCompile(`\b(?:engine|stores)\.[A-Z]|internal/`)
	identRE    = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)
)

// declName returns the name a column-0 declaration line declares ("" for
// other lines and for var and const blocks). Methods give their own name.
func declName(line string) string {
	if m := declRE.FindStringSubmatch(line); m != nil {
		return m[1]
	}
	return ""
}

// TestNoInternalTypes: no exported declaration of a public package names an
// internal package, except the known ones.
func TestNoInternalTypes(t *testing.T) {
	for _, pkg := range publicPackages {
		t.Run(pkg, func(t *testing.T) {
			used := map[string]bool{}
			for _, d := range docDecls(t, pkg) {
				if !internalRE.MatchString(stringRE.ReplaceAllString(d.text, `""`)) {
					continue
				}
				if slices.Contains(knownInternal[pkg], d.group) {
					used[d.group] = true
					t.Logf("known exception %s.%s: %s", pkg, d.group, strings.TrimSpace(d.text))
					continue
				}
				t.Errorf("%s.%s names an internal package: %s", pkg, d.group, strings.TrimSpace(d.text))
			}
			for _, g := range knownInternal[pkg] {
				if !used[g] {
					t.Errorf("%s.%s no longer names an internal package: remove it from knownInternal", pkg, g)
				}
			}
		})
	}
}

// TestProcessorExportsUserAPIOnly: processor exports what a user's processor
// touches and no engine part.
func TestProcessorExportsUserAPIOnly(t *testing.T) {
	decls := docDecls(t, "processor")
	// No declaration line (of a type, func, method, field or const) names an
	// engine part.
	for _, d := range decls {
		for _, id := range identRE.FindAllString(stringRE.ReplaceAllString(d.text, `""`), -1) {
			if slices.Contains(engineParts, id) {
				t.Errorf("processor exports engine part %s: %s", id, strings.TrimSpace(d.text))
			}
		}
	}
	// Every top-level name is in the user API.
	var top []string
	inBlock := false
	for _, d := range decls {
		switch {
		case blockRE.MatchString(d.text):
			inBlock = true
		case inBlock && d.text == ")":
			inBlock = false
		case inBlock:
			if m := blockEntRE.FindStringSubmatch(d.text); m != nil {
				top = append(top, m[1])
			}
		case strings.HasPrefix(d.text, "func ("): // a method
		default:
			if n := declName(d.text); n != "" {
				top = append(top, n)
			}
		}
	}
	if len(top) < len(userAPI)/2 {
		t.Fatalf("found only %d top-level names in go doc processor, parsing is broken: %v", len(top), top)
	}
	for _, n := range top {
		if !slices.Contains(userAPI, n) && !slices.Contains(engineParts, n) {
			t.Errorf("processor exports %s, which is not in the user API list of this test", n)
		}
	}
	for _, n := range userAPI {
		if !slices.Contains(top, n) {
			t.Errorf("processor no longer exports %s of the user API", n)
		}
	}
}
