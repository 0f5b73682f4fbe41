package exactlyonce

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A failed commit names the guarantee it ran under, not this package, and
// is one a new client can take up; apply is not called.
func TestCommitFailureNamesTheGuarantee(t *testing.T) {
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"), kgo.ConsumerGroup("g"), kgo.ConsumeTopics("t"),
		kgo.RetryTimeout(time.Second), kgo.DialTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	p, applied := AtLeastOnce{Cl: cl}, false
	err = p.Commit(ctx, Offsets{"t": {0: {Epoch: -1, Offset: 5}}}, func() error { applied = true; return nil })
	if err == nil {
		t.Fatal("Commit to an unreachable cluster succeeded")
	}
	if !errors.Is(err, ErrCommitFailed) || !Recoverable(err) || applied {
		t.Fatalf("Commit = %v (applied %v), want a recoverable ErrCommitFailed and nothing applied", err, applied)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "at_least_once: commit failed: commit offsets") || strings.Contains(msg, "exactlyonce") {
		t.Fatalf("Commit = %q, want it to start with the guarantee and not name the package", msg)
	}
}
