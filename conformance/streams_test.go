package conformance

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// The Kafka Streams side: the Maven project in streams/ is built once per
// run when a source or the pom is newer than the jar, and its runner is
// started once for all scenarios (one scenario per line on its stdin, one
// block of output lines ending with {"end": name} per scenario).
const (
	streamsDir      = "streams"
	jarPath         = "streams/target/conformance-streams.jar"
	buildTimeout    = 5 * time.Minute
	scenarioTimeout = 2 * time.Minute
)

var (
	runnerOnce sync.Once
	runner     *javaRunner
	runnerErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if runner != nil {
		if err := runner.close(); err != nil {
			fmt.Fprintf(os.Stderr, "conformance: stopping the Kafka Streams runner: %v\n", err)
		}
	}
	os.Exit(code)
}

// kafkaStreams returns what Kafka Streams' TopologyTestDriver outputs on the
// scenario. It fails the test (never skips) when java or mvn is missing or
// the jar does not build.
func kafkaStreams(t *testing.T, s Scenario) []Record {
	t.Helper()
	runnerOnce.Do(func() { runner, runnerErr = startRunner(t) })
	if runnerErr != nil {
		t.Fatalf("conformance: the Kafka Streams side is not available: %v", runnerErr)
	}
	out, err := runner.run(s)
	if err != nil {
		t.Fatalf("Kafka Streams side, scenario %s: %v", s.Name, err)
	}
	return out
}

func startRunner(t *testing.T) (*javaRunner, error) {
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, fmt.Errorf("java (17 or newer) is needed to run Kafka Streams' TopologyTestDriver and is not on PATH: %w", err)
	}
	mvn, err := exec.LookPath("mvn")
	if err != nil {
		return nil, fmt.Errorf("mvn (Maven 3) is needed to build the Kafka Streams runner from %s/pom.xml and is not on PATH: %w", streamsDir, err)
	}
	if err := buildJar(t, mvn); err != nil {
		return nil, err
	}
	cmd := exec.Command(java, "-jar", jarPath)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("runner stdin: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("runner stdout: %w", err)
	}
	r := &javaRunner{cmd: cmd, stdin: stdin, lines: make(chan []byte, 64), stderr: &lockedBuffer{}}
	cmd.Stderr = r.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s -jar %s: %w", java, jarPath, err)
	}
	go r.read(stdout)
	return r, nil
}

// buildJar runs `mvn -q -B package` in streams/ unless the jar is newer than
// the pom and every source.
func buildJar(t *testing.T, mvn string) error {
	jar, err := os.Stat(jarPath)
	if err == nil {
		newer, err := newerThan(jar.ModTime())
		if err != nil {
			return err
		}
		if newer == "" {
			return nil
		}
		t.Logf("conformance: %s is newer than the jar: rebuilding", newer)
	}
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, mvn, "-q", "-B", "package")
	cmd.Dir = streamsDir
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return fmt.Errorf("mvn -q -B package in %s did not finish within %s:\n%s", streamsDir, buildTimeout, out)
	}
	if err != nil {
		return fmt.Errorf("mvn -q -B package in %s failed: %w\n%s", streamsDir, err, out)
	}
	if _, err := os.Stat(jarPath); err != nil {
		return fmt.Errorf("mvn -q -B package in %s built no %s: %w", streamsDir, jarPath, err)
	}
	t.Logf("conformance: built %s in %s", jarPath, time.Since(start).Round(time.Millisecond))
	return nil
}

// newerThan returns the pom or the first source file modified after t, or "".
func newerThan(t time.Time) (string, error) {
	newer := ""
	check := func(path string) error {
		fi, err := os.Stat(path)
		if err != nil {
			return err
		}
		if newer == "" && fi.ModTime().After(t) {
			newer = path
		}
		return nil
	}
	if err := check(filepath.Join(streamsDir, "pom.xml")); err != nil {
		return "", err
	}
	err := filepath.WalkDir(filepath.Join(streamsDir, "src"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		return check(path)
	})
	if err != nil {
		return "", fmt.Errorf("conformance: scanning the runner's sources: %w", err)
	}
	return newer, nil
}

// javaRunner is the running Kafka Streams side. run is called by one test at
// a time; mu guards it anyway.
type javaRunner struct {
	mu      sync.Mutex
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	lines   chan []byte // stdout, line by line; closed at EOF
	readErr error       // set before lines is closed
	stderr  *lockedBuffer
}

func (r *javaRunner) read(stdout io.Reader) {
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		r.lines <- bytes.Clone(sc.Bytes())
	}
	r.readErr = sc.Err()
	close(r.lines)
}

// line is one line of the runner's output: a record, an error or the end
// of a scenario's block.
type line struct {
	Record
	End   *string `json:"end"`
	Error *string `json:"error"`
}

func (r *javaRunner) run(s Scenario) ([]Record, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	if _, err := r.stdin.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("write to the runner: %w\nstderr:\n%s", err, r.stderr.String())
	}
	timeout := time.NewTimer(scenarioTimeout)
	defer timeout.Stop()
	var out []Record
	var runErr error
	for {
		select {
		case b, ok := <-r.lines:
			if !ok {
				return nil, fmt.Errorf("the runner exited (%v) before ending scenario %s\nstderr:\n%s", r.readErr, s.Name, r.stderr.String())
			}
			var l line
			if err := json.Unmarshal(b, &l); err != nil {
				return nil, fmt.Errorf("runner printed %q: %w", b, err)
			}
			switch {
			case l.End != nil:
				if *l.End != s.Name {
					return nil, fmt.Errorf("runner ended scenario %q, want %q", *l.End, s.Name)
				}
				return out, runErr
			case l.Error != nil:
				runErr = errors.New(*l.Error)
			default:
				out = append(out, l.Record)
			}
		case <-timeout.C:
			_ = r.cmd.Process.Kill()
			return nil, fmt.Errorf("no answer from the runner within %s\nstderr:\n%s", scenarioTimeout, r.stderr.String())
		}
	}
}

// close ends the runner's input and waits for it to exit.
func (r *javaRunner) close() error {
	_ = r.stdin.Close()
	done := make(chan error, 1)
	go func() {
		for range r.lines { // Wait must not close stdout under the reader
		}
		done <- r.cmd.Wait()
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		_ = r.cmd.Process.Kill()
		return fmt.Errorf("the runner did not exit within 30s of the end of its input: killed\nstderr:\n%s", r.stderr.String())
	}
}

// lockedBuffer is the runner's stderr, written by exec's copying goroutine
// and read by the tests.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
