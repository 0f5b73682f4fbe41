package runtime

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa/changelog"
	"github.com/samsa-streams/samsa/internal/assign"
	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/topology"
)

// standbyTask is a warm copy of a task's logged stores, kept by tailing
// their changelogs.
type standbyTask struct {
	stores map[string]*changelog.Store // by changelog topic
	pos    map[string]int64            // next offset by changelog topic
	// failing holds the changelogs whose fetches fail, by topic, until
	// they deliver records again.
	failing map[string]*standbyFailure
}

// standbyFailure is the state of a standby changelog whose fetches fail.
type standbyFailure struct {
	err         error
	since, last time.Time
	count       int
	logged      time.Time // last log line
	unlogged    int       // failures since that line
}

// standbyLogEvery rate-limits the log lines about one failing standby
// changelog partition.
const standbyLogEvery = 5 * time.Second

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
	defer a.standbyMu.Unlock()
	var out []StandbyFailure
	for id, st := range a.standbys {
		for topic, f := range st.failing {
			out = append(out, StandbyFailure{Task: id, Topic: topic, Partition: id.Partition, Err: f.err, Count: f.count, Since: f.since, Last: f.last})
		}
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

// openStandby opens a standby task's stores and starts fetching their
// changelogs from their checkpoints. a.standbyMu must be held.
func (a *App) openStandby(id processor.TaskID) {
	st := &standbyTask{stores: map[string]*changelog.Store{}, pos: map[string]int64{}, failing: map[string]*standbyFailure{}}
	add := map[string]map[int32]kgo.Offset{}
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
		next, _, _ := s.Checkpoint()
		st.stores[topic], st.pos[topic] = s, next
		add[topic] = map[int32]kgo.Offset{id.Partition: kgo.NewOffset().At(next)}
	}
	a.restoreCl.AddConsumePartitions(add)
	a.standbys[id] = st
	a.log.Info("standby task opened", "task", id.String())
}

// closeStandby closes a standby task. a.standbyMu must be held.
func (a *App) closeStandby(id processor.TaskID) {
	st := a.standbys[id]
	remove := map[string][]int32{}
	for topic, s := range st.stores {
		_ = s.Close()
		remove[topic] = []int32{id.Partition}
	}
	a.restoreCl.RemoveConsumePartitions(remove)
	delete(a.standbys, id)
	a.log.Info("standby task closed", "task", id.String())
}

// tailStandbys applies what the changelogs gained to the standby stores,
// waiting up to wait for records. It runs on the state updater goroutine,
// never in the poll loop: processing does not wait for standbys.
func (a *App) tailStandbys(ctx context.Context, wait time.Duration) {
	a.standbyMu.Lock()
	cl, n := a.restoreCl, len(a.standbys)
	a.standbyMu.Unlock()
	if cl == nil || n == 0 {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, max(wait, time.Millisecond))
	fs := cl.PollRecords(pctx, 10000)
	cancel()
	a.applyStandby(fs.Records(), fs.Errors())
}

// applyStandby applies changelog records fetched for the standby tasks,
// by the standby tail or by a restore reading the same client, and notes
// the fetch errors. Errors never fail the App (the client keeps
// retrying): they are logged, at most once per standbyLogEvery per
// changelog partition, and kept for FailingStandbys.
func (a *App) applyStandby(recs []*kgo.Record, errs []kgo.FetchError) {
	a.standbyMu.Lock()
	defer a.standbyMu.Unlock()
	now := time.Now()
	for _, fe := range errs {
		if errors.Is(fe.Err, context.DeadlineExceeded) || errors.Is(fe.Err, context.Canceled) || errors.Is(fe.Err, kgo.ErrClientClosed) {
			continue
		}
		a.standbyFailed(fe.Topic, fe.Partition, fe.Err, now)
	}
	batches := map[string]map[int32][]changelog.Record{}
	last := map[string]map[int32]int64{}
	for _, r := range recs {
		st, ok := a.standbys[processor.TaskID{Subtopology: a.changelogSub[r.Topic], Partition: r.Partition}]
		if !ok || st.stores[r.Topic] == nil || r.Offset < st.pos[r.Topic] {
			// Closed, or fetched before its standby was opened again
			// at a later position, while this poll was under way.
			continue
		}
		if batches[r.Topic] == nil {
			batches[r.Topic], last[r.Topic] = map[int32][]changelog.Record{}, map[int32]int64{}
		}
		if !r.Attrs.IsControl() {
			batches[r.Topic][r.Partition] = append(batches[r.Topic][r.Partition], changelog.Record{Key: r.Key, Value: r.Value})
		}
		last[r.Topic][r.Partition] = r.Offset
	}
	for topic, byPart := range last {
		for p, off := range byPart {
			id := processor.TaskID{Subtopology: a.changelogSub[topic], Partition: p}
			st := a.standbys[id]
			if err := st.stores[topic].Restore(batches[topic][p], off+1); err != nil {
				a.standbyFailed(topic, p, fmt.Errorf("apply changelog records to the standby store: %w", err), now)
				continue
			}
			st.pos[topic] = off + 1
			if f := st.failing[topic]; f != nil {
				a.log.Info("standby changelog fetches again", "task", id.String(),
					"topic", topic, "partition", p, "failures", f.count, "for", now.Sub(f.since).Round(time.Millisecond))
				delete(st.failing, topic)
			}
		}
	}
	a.updateStandbyPositions()
}

// standbyFailed records an error on the standby changelogs it concerns:
// one partition, every partition of a topic (partition -1), or every
// standby changelog (no topic: the client's own error). a.standbyMu must be
// held.
func (a *App) standbyFailed(errTopic string, partition int32, err error, now time.Time) {
	for id, st := range a.standbys {
		if partition >= 0 && id.Partition != partition {
			continue
		}
		for topic := range st.stores {
			if errTopic != "" && topic != errTopic {
				continue
			}
			f := st.failing[topic]
			if f == nil {
				f = &standbyFailure{since: now}
				st.failing[topic] = f
			}
			f.err, f.last = err, now
			f.count++
			f.unlogged++
			if now.Sub(f.logged) >= standbyLogEvery {
				a.log.Warn("standby changelog fetch failed: the standby falls behind until it recovers", "task", id.String(),
					"topic", topic, "partition", id.Partition, "failures", f.unlogged, "since", f.since.Format(time.RFC3339), "err", err)
				f.logged, f.unlogged = now, 0
			}
		}
	}
}

// updateStandbyPositions records, for the join metadata, how far this
// member's standby state of each task is: the sum of its stores' changelog
// positions. a.standbyMu must be held.
func (a *App) updateStandbyPositions() {
	pos := map[assign.Task]int64{}
	for id, st := range a.standbys {
		for _, p := range st.pos {
			pos[assign.Task{Sub: id.Subtopology, Partition: id.Partition}] += p
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
	return len(a.standbys) > 0 && a.restoreCl != nil
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
