package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streams/samsa/changelog"
	"github.com/samsa-streams/samsa/internal/engine"
	"github.com/samsa-streams/samsa/processor"
)

// stateUpdater restores the stores of newly assigned tasks and tails the
// changelogs into the standby tasks, in a goroutine of its own, as Kafka
// Streams' state updater: the poll loop keeps heartbeating, rebalancing and
// processing the tasks already restored, Close is never held up by a
// restore, and processing never waits for a standby.
//
// Ownership: a task handed to the updater (add) belongs to the updater
// goroutine until it comes back through take, or until cancel returned;
// the poll loop pauses the task's input partitions meanwhile. The fields
// below mu are shared and guarded by it.
type stateUpdater struct {
	a    *App
	wake chan struct{} // a job was added; buffered, 1
	// restored is called (without mu) when a job finished, to wake the
	// poll loop.
	restored func()

	mu sync.Mutex
	// stopTail ends the standby poll under way, so that a new job
	// starts at once.
	stopTail context.CancelFunc
	pending  []*restoreJob                    // not started, in order
	jobs     map[processor.TaskID]*restoreJob // pending or running
	done     []*restoreJob                    // finished, not taken
}

// restoreJob is the restore of one task.
type restoreJob struct {
	t        *engine.Task
	ctx      context.Context
	cancel   context.CancelFunc
	finished chan struct{} // closed when the updater let go of the task
	err      error         // set before finished is closed
	// progress carries the figures of each store from turn to turn;
	// owned by the updater goroutine.
	progress map[string]*changelog.RestoreTurns
	stable   bool // the committed offsets were read stably
}

func newStateUpdater(a *App, restored func()) *stateUpdater {
	return &stateUpdater{a: a, wake: make(chan struct{}, 1), restored: restored, jobs: map[processor.TaskID]*restoreJob{}}
}

// add hands a task to the updater. Its context ends with parent.
func (u *stateUpdater) add(parent context.Context, t *engine.Task) {
	ctx, cancel := context.WithCancel(parent)
	j := &restoreJob{t: t, ctx: ctx, cancel: cancel, finished: make(chan struct{}), progress: map[string]*changelog.RestoreTurns{}}
	u.mu.Lock()
	u.pending = append(u.pending, j)
	u.jobs[t.ID] = j
	u.mu.Unlock()
	u.poke()
}

// poke wakes the updater: a job was added, or standby tasks opened.
func (u *stateUpdater) poke() {
	u.mu.Lock()
	if u.stopTail != nil {
		u.stopTail()
	}
	u.mu.Unlock()
	select {
	case u.wake <- struct{}{}:
	default:
	}
}

// standbyWait is how long the updater waits for standby changelog records
// when it has nothing to restore.
const standbyWait = 200 * time.Millisecond

// tail tails the standbys once, waiting up to wait (or until poked).
func (u *stateUpdater) tail(ctx context.Context, wait time.Duration) {
	tctx, cancel := context.WithCancel(ctx)
	u.mu.Lock()
	u.stopTail = cancel
	u.mu.Unlock()
	u.a.tailStandbys(tctx, wait)
	u.mu.Lock()
	u.stopTail = nil
	u.mu.Unlock()
	cancel()
}

// finished reports whether restored tasks wait to be taken.
func (u *stateUpdater) finished() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.done) > 0
}

// cancel stops the restore of a task and waits until the updater let go of
// it; it reports whether the updater held the task. The caller owns the
// task afterwards (to close it).
func (u *stateUpdater) cancel(id processor.TaskID) bool {
	u.mu.Lock()
	j, ok := u.jobs[id]
	if !ok {
		u.mu.Unlock()
		return false
	}
	for i, p := range u.pending {
		if p == j {
			// Not started: the updater never touched it.
			u.pending = append(u.pending[:i], u.pending[i+1:]...)
			delete(u.jobs, id)
			u.mu.Unlock()
			j.cancel()
			return true
		}
	}
	u.mu.Unlock()
	j.cancel()
	<-j.finished
	u.mu.Lock()
	delete(u.jobs, id)
	for i, d := range u.done {
		if d == j {
			u.done = append(u.done[:i], u.done[i+1:]...)
			break
		}
	}
	u.mu.Unlock()
	return true
}

// take returns the tasks restored since the last call, or the first
// restore error.
func (u *stateUpdater) take() ([]*engine.Task, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []*engine.Task
	var err error
	for _, j := range u.done {
		delete(u.jobs, j.t.ID)
		if j.err != nil {
			err = errors.Join(err, j.err)
			continue
		}
		out = append(out, j.t)
	}
	u.done = u.done[:0]
	return out, err
}

// run restores tasks one at a time, and tails the standbys between
// restore turns and whenever there is nothing to restore, until ctx ends.
func (u *stateUpdater) run(ctx context.Context) {
	for {
		u.mu.Lock()
		var j *restoreJob
		if len(u.pending) > 0 {
			j = u.pending[0]
			u.pending = u.pending[1:]
		}
		u.mu.Unlock()
		if j == nil {
			if u.a.hasStandbys() {
				u.tail(ctx, standbyWait)
				if ctx.Err() == nil {
					continue
				}
			}
			select {
			case <-ctx.Done():
				u.drain()
				return
			case <-u.wake:
				continue
			}
		}
		err := u.restore(j)
		u.tail(ctx, 0)
		if errors.Is(err, changelog.ErrTurnOver) && j.ctx.Err() == nil {
			// Its turn is over: the other tasks go first, then it
			// goes on from its checkpoints.
			u.mu.Lock()
			u.pending = append(u.pending, j)
			u.mu.Unlock()
			continue
		}
		if j.ctx.Err() != nil {
			// Cancelled: revoked, recovering or shutting down. The
			// canceller owns the task now.
			close(j.finished)
			continue
		}
		j.err = err
		u.mu.Lock()
		u.done = append(u.done, j)
		u.mu.Unlock()
		close(j.finished)
		if u.restored != nil {
			u.restored()
		}
	}
}

// drain lets go of the tasks not started when the updater stops.
func (u *stateUpdater) drain() {
	u.mu.Lock()
	pending := u.pending
	u.pending = nil
	u.mu.Unlock()
	for _, j := range pending {
		j.cancel()
		close(j.finished)
	}
}

func (u *stateUpdater) restore(j *restoreJob) error {
	if !j.stable {
		if err := u.a.waitStableOffsets(j.ctx, j.t); err != nil {
			return err
		}
		j.stable = true
	}
	return u.a.restore(j.ctx, j.t, time.Now().Add(restoreTurn), j.progress)
}

// restoreTurn is how long the state updater restores one task before the
// other tasks waiting for it get their turn: a task with little to restore
// never waits long behind a large one.
const restoreTurn = time.Second

// waitStableOffsets returns once the committed input offsets of the task
// can be read stably (KIP-447 require_stable): no transaction of an earlier
// owner that commits offsets of these partitions is still open. Only then
// is the last stable offset of the changelogs past everything that earlier
// owner wrote, so the restore sees the state that matches the offsets.
func (a *App) waitStableOffsets(ctx context.Context, t *engine.Task) error {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = a.cfg.ApplicationID
	req.RequireStable = true
	for _, topic := range a.subs[t.ID.Subtopology].SourceTopics {
		rt := kmsg.NewOffsetFetchRequestTopic()
		rt.Topic = topic
		rt.Partitions = []int32{t.ID.Partition}
		req.Topics = append(req.Topics, rt)
	}
	backoff := 10 * time.Millisecond
	deadline := time.Now().Add(a.cfg.TaskTimeout)
	for {
		resp, err := req.RequestWith(ctx, a.restoreCl)
		if err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		if err == nil {
			for _, rt := range resp.Topics {
				for _, p := range rt.Partitions {
					if perr := kerr.ErrorForCode(p.ErrorCode); perr != nil && err == nil {
						err = fmt.Errorf("topic %q partition %d: %w", rt.Topic, p.Partition, perr)
					}
				}
			}
		}
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !errors.Is(err, kerr.UnstableOffsetCommit) {
			if time.Now().After(deadline) {
				return fmt.Errorf("task %s: read committed offsets of group %q for %s: %w", t.ID, a.cfg.ApplicationID, a.cfg.TaskTimeout, err)
			}
			a.log.Warn("reading committed offsets before a restore", "task", t.ID.String(), "err", err, "retry_in", backoff)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}
