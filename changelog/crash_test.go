package changelog

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMain runs a crash helper instead of the tests in the child processes
// of TestPebbleCrashKeepsLastCommit.
func TestMain(m *testing.M) {
	switch dir := os.Getenv("CHANGELOG_CRASH_DIR"); os.Getenv("CHANGELOG_CRASH_STEP") {
	case "write":
		crashWriter(dir)
	case "check":
		if err := checkCrashed(dir); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		fmt.Println("ok")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func crashChild(t *testing.T, dir, step string) (string, error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CHANGELOG_CRASH_DIR="+dir, "CHANGELOG_CRASH_STEP="+step)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestPebbleCrashKeepsLastCommit kills a writer process with SIGKILL between
// commits, with writes, acked offsets and a range drop buffered, and checks
// that reopening yields exactly the committed state and its checkpoint. The
// processes' output must be empty: Pebble never writes to stderr.
func TestPebbleCrashKeepsLastCommit(t *testing.T) {
	dir := t.TempDir()
	out, err := crashChild(t, dir, "write")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != -1 {
		t.Fatalf("writer did not die by signal: %v\n%s", err, out)
	}
	if out != "" {
		t.Fatalf("the writer wrote to stdout or stderr:\n%s", out)
	}
	if err := checkCrashed(dir); err != nil {
		t.Fatal(err)
	}
	// Once more in a child: recovering the WAL logs nothing to stderr.
	if out, err := crashChild(t, dir, "check"); err != nil || out != "ok\n" {
		t.Fatalf("check in a child: %v\n%s", err, out)
	}
}

// crashWriter commits 1000 keys at checkpoint 1000, buffers more writes, a
// drop and acks, and kills itself.
func crashWriter(dir string) {
	e, err := NewEngine(Options{Dir: dir, ApplicationID: "app", Logger: quiet})
	if err != nil {
		panic(err)
	}
	s, err := e.Open(task0, "kv")
	if err != nil {
		panic(err)
	}
	for i := range 1000 {
		_ = s.Put(fmt.Appendf(nil, "committed-%04d", i), []byte("v"))
	}
	s.AckOffset(999)
	if err := s.Commit(); err != nil {
		panic(err)
	}
	for i := range 500 {
		_ = s.Put(fmt.Appendf(nil, "pending-%04d", i), []byte("v"))
	}
	_ = s.Put([]byte("committed-0000"), []byte("changed"))
	_ = s.DropRange([]byte("committed-0500"), []byte("committed-0600"))
	s.AckOffset(1600)
	p, _ := os.FindProcess(os.Getpid())
	_ = p.Kill() // SIGKILL: no deferred function, no flush
	select {}
}

func checkCrashed(dir string) error {
	e, err := NewEngine(Options{Dir: dir, ApplicationID: "app", Logger: quiet})
	if err != nil {
		return err
	}
	defer e.Close()
	s, err := e.Open(task0, "kv")
	if err != nil {
		return err
	}
	n := 0
	for kv, err := range s.Range(nil, nil) {
		if err != nil {
			return err
		}
		if !strings.HasPrefix(string(kv.Key), "committed-") || string(kv.Value) != "v" {
			return fmt.Errorf("uncommitted write %s=%s survived the crash", kv.Key, kv.Value)
		}
		n++
	}
	off, ok, err := s.Checkpoint()
	if err != nil {
		return err
	}
	if n != 1000 || !ok || off != 1000 {
		return fmt.Errorf("after crash: %d keys, checkpoint %d %v; want 1000 keys at 1000", n, off, ok)
	}
	return nil
}
