package runtime

import (
	"context"
	"sort"
	"time"

	"github.com/samsa-streams/samsa/changelog"
	"github.com/samsa-streams/samsa/internal/assign"
	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/topology"
)

// standbyTask is a warm copy of a task's logged stores, which the
// changelog reader keeps following their changelogs.
type standbyTask struct {
	stores map[string]*changelog.Store // by changelog topic
}

// StandbyFailure describes a standby task's changelog partition whose
// fetches fail: the standby falls behind until it recovers.
type StandbyFailure struct {
	Task      processor.TaskID
	Topic     string
	Partition int32
	// Err is the last error; Count the failed fetches since the first,
	// at Since; Last the time of the last one.
	Err         error
	Count       int
	Since, Last time.Time
}

// FailingStandbys returns the standby tasks' changelog partitions whose
// fetches failed and have delivered no records since, sorted by task and
// topic. A failure is cleared when its partition delivers records again;
// one that is caught up and delivers none stays listed, with the time of
// its last error.
func (a *App) FailingStandbys() []StandbyFailure {
	a.standbyMu.Lock()
	r := a.reader
	a.standbyMu.Unlock()
	if r == nil {
		return nil
	}
	var out []StandbyFailure
	for _, f := range r.Failing() {
		id := processor.TaskID{Subtopology: a.changelogSub[f.Topic], Partition: f.Partition}
		out = append(out, StandbyFailure{Task: id, Topic: f.Topic, Partition: f.Partition, Err: f.Err, Count: f.Count, Since: f.Since, Last: f.Last})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Task != out[j].Task {
			return out[i].Task.String() < out[j].Task.String()
		}
		return out[i].Topic < out[j].Topic
	})
	return out
}

// syncStandbys opens the standby tasks the last assignment gave this member
// and closes those it took away; the state updater tails them. a.mu must be
// held.
func (a *App) syncStandbys() {
	if a.cfg.StandbyReplicas <= 0 {
		return
	}
	a.standbyMu.Lock()
	defer a.standbyMu.Unlock()
	opened := false
	defer func() {
		if opened && a.updater != nil {
			a.updater.poke()
		}
	}()
	want := map[processor.TaskID]bool{}
	for _, t := range a.balancer.Standbys() {
		id := processor.TaskID{Subtopology: t.Sub, Partition: t.Partition}
		if _, active := a.tasks[id]; !active {
			want[id] = true
		}
	}
	for id := range a.standbys {
		if !want[id] {
			a.closeStandby(id)
		}
	}
	for id := range want {
		if _, ok := a.standbys[id]; !ok {
			a.openStandby(id)
			opened = true
		}
	}
}

// openStandby opens a standby task's stores and has the changelog reader
// follow their changelogs from their checkpoints. a.standbyMu must be held.
func (a *App) openStandby(id processor.TaskID) {
	st := &standbyTask{stores: map[string]*changelog.Store{}}
	for _, name := range a.subs[id.Subtopology].Stores {
		if !a.g.Stores[name].Logged {
			continue
		}
		s, err := a.stateEngine.Open(id, name)
		if err != nil {
			a.log.Warn("cannot open a standby store", "task", id.String(), "store", name, "err", err)
			continue
		}
		topic := topology.ChangelogTopic(a.cfg.ApplicationID, name)
		st.stores[topic] = s
		a.reader.Follow(topic, id.Partition, s)
	}
	a.standbys[id] = st
	a.log.Info("standby task opened", "task", id.String())
}

// closeStandby closes a standby task: the reader stops following its
// changelogs, then its stores close. a.standbyMu must be held.
func (a *App) closeStandby(id processor.TaskID) {
	st := a.standbys[id]
	for topic, s := range st.stores {
		if a.reader != nil {
			a.reader.Unfollow(topic, id.Partition)
		}
		_ = s.Close()
	}
	delete(a.standbys, id)
	a.log.Info("standby task closed", "task", id.String())
}

// tailStandbys applies what the changelogs gained to the standby stores,
// waiting up to wait for records (changelog.Reader.Tail). It runs on the
// state updater goroutine, never in the poll loop: processing does not
// wait for standbys.
func (a *App) tailStandbys(ctx context.Context, wait time.Duration) {
	a.standbyMu.Lock()
	r, n := a.reader, len(a.standbys)
	a.standbyMu.Unlock()
	if r == nil || n == 0 {
		return
	}
	r.Tail(ctx, wait)
}

// updateStandbyPositions records, for the join metadata, how far this
// member's standby state of each task is: the sum of its stores' changelog
// positions, as the reader r follows them. It is r's OnApplied: it runs
// after every apply to the standby stores, on the state updater
// goroutine.
func (a *App) updateStandbyPositions(r *changelog.Reader) {
	pos := map[assign.Task]int64{}
	for topic, byPart := range r.Positions() {
		for p, next := range byPart {
			pos[assign.Task{Sub: a.changelogSub[topic], Partition: p}] += next
		}
	}
	a.posMu.Lock()
	a.standbyPos = pos
	a.posMu.Unlock()
}

// updateActivePositions records the same for the active tasks, from their
// stores' checkpoints. a.mu must be held.
func (a *App) updateActivePositions() {
	pos := map[assign.Task]int64{}
	for id, t := range a.tasks {
		for _, rs := range t.RawStores() {
			if s, ok := rs.(*changelog.Store); ok {
				if off, ok, _ := s.Checkpoint(); ok {
					pos[assign.Task{Sub: id.Subtopology, Partition: id.Partition}] += off
				}
			}
		}
	}
	a.posMu.Lock()
	a.activePos = pos
	a.posMu.Unlock()
}

// statePositions is the balancer's view of this member's state.
func (a *App) statePositions() map[assign.Task]int64 {
	a.posMu.Lock()
	defer a.posMu.Unlock()
	out := make(map[assign.Task]int64, len(a.activePos)+len(a.standbyPos))
	for k, v := range a.standbyPos {
		out[k] = v
	}
	for k, v := range a.activePos {
		out[k] = v
	}
	return out
}

// hasStandbys reports whether this member keeps standby tasks to tail
// (and a client to tail them with).
func (a *App) hasStandbys() bool {
	a.standbyMu.Lock()
	defer a.standbyMu.Unlock()
	return len(a.standbys) > 0 && a.reader != nil
}

// closeStandbys closes every standby task (recovery, shutdown).
func (a *App) closeStandbys() {
	a.standbyMu.Lock()
	defer a.standbyMu.Unlock()
	ids := make([]processor.TaskID, 0, len(a.standbys))
	for id := range a.standbys {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].String() < ids[j].String() })
	for _, id := range ids {
		a.closeStandby(id)
	}
}
