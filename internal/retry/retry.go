// Package retry holds the backoff of samsa's retried broker requests (the
// restores of changelogs and global tables): the first wait, doubled at
// each failure in a row up to the last.
package retry

import (
	"context"
	"time"
)

// First and Max bound the waits of Backoff.
const (
	First = 100 * time.Millisecond
	Max   = 5 * time.Second
)

// Backoff is the wait before retry number attempt (from 1).
func Backoff(attempt int) time.Duration {
	return min(First<<min(max(attempt, 1)-1, 10), Max)
}

// Sleep waits d or until ctx is done, whichever comes first.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
