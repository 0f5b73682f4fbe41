package testkit

import (
	"context"
	"testing"
	"time"

	"github.com/samsa-streams/samsa"
)

// Running is an App running in the background of a test.
type Running struct {
	App    *samsa.App
	cancel context.CancelFunc
	done   chan error
}

// Start runs app in the background until Stop or the end of the test.
func Start(t testing.TB, app *samsa.App) *Running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &Running{App: app, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- app.Run(ctx) }()
	t.Cleanup(func() { _ = r.Stop() })
	return r
}

// Stop cancels the app, waits for it to shut down gracefully and returns
// the error Run returned. Calling it again returns nil.
func (r *Running) Stop() error {
	r.cancel()
	err, ok := <-r.done
	if !ok {
		return nil
	}
	close(r.done)
	return err
}

// Err returns Run's error if the app has stopped by itself, without waiting.
func (r *Running) Err() (error, bool) {
	select {
	case err, ok := <-r.done:
		if !ok {
			return nil, true
		}
		close(r.done)
		return err, true
	default:
		return nil, false
	}
}

// WaitFor polls cond every 20ms until it returns true, the app fails, or
// timeout passes; it fails the test in the last two cases.
func (r *Running) WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if err, stopped := r.Err(); stopped {
			t.Fatalf("app stopped while waiting for %s: %v", what, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
