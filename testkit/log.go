package testkit

import (
	"bytes"
	"log/slog"
	"sync"
	"testing"
)

// Logger returns a slog.Logger writing to t.Log at the given level, so a
// test's logs show only when it fails or runs with -v.
func Logger(t testing.TB, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(&tbWriter{t: t}, &slog.HandlerOptions{Level: level}))
}

type tbWriter struct {
	mu sync.Mutex
	t  testing.TB
}

func (w *tbWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}
