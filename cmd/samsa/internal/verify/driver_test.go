package verify

import (
	"bytes"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestSelfExitIsRecorded runs instances that exit by themselves and one
// that the verifier stops: only the first count, with their exit status
// and the last lines of their log, and they are restarted a bounded number
// of times.
func TestSelfExitIsRecorded(t *testing.T) {
	var out syncBuffer
	d := &driver{cfg: Config{Dir: t.TempDir(), Out: &out, Worker: func(slot int, _ WorkerConfig) *exec.Cmd {
		if slot == 0 {
			return exec.Command("sh", "-c", `echo starting; echo 'samsa: produce to topic "x-echo": MESSAGE_TOO_LARGE' >&2; exit 3`)
		}
		return exec.Command("sleep", "30")
	}}, workers: map[int]*worker{}, restartSelf: true}
	for slot := range 2 {
		if err := d.start(slot); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(d.exitInfos()) < maxSelfRestarts+1 {
		if time.Now().After(deadline) {
			t.Fatalf("want %d self-exits of instance 0 (one plus its restarts), got %d:\n%s", maxSelfRestarts+1, len(d.exitInfos()), out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.stop(1, syscall.SIGKILL)
	time.Sleep(1500 * time.Millisecond) // no restart may follow the last exit
	exits := d.exitInfos()
	if len(exits) != maxSelfRestarts+1 {
		t.Fatalf("want %d self-exits, got %d", maxSelfRestarts+1, len(exits))
	}
	for _, e := range exits {
		if e.Slot != 0 || e.Expected || e.Status != "exit status 3" || !strings.Contains(strings.Join(e.LogTail, "\n"), `topic "x-echo"`) {
			t.Fatalf("self-exit recorded wrong: %+v", e)
		}
	}
	if d.alive() != 0 {
		t.Fatalf("%d instances still registered", d.alive())
	}
	if !strings.Contains(out.String(), "instance 0 exited by itself UNEXPECTEDLY (exit status 3)") {
		t.Fatalf("the self-exit is not reported:\n%s", out.String())
	}
	res := Result{Inputs: 1, Echo: 1, AggUpdates: 1, GroupUpdates: 1, Ticks: 1}
	d.res = &res
	d.verify(t.Context(), nil, nil, nil)
	if res.SelfExits != maxSelfRestarts+1 || res.OK() {
		t.Fatalf("self-exits must fail the run: %s", res)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
