package runtime

import (
	"context"
	"errors"
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
// its last error. It waits for the poll loop's current batch.
func (a *App) FailingStandbys() []StandbyFailure {
	a.mu.Lock()
	defer a.mu.Unlock()
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
// and closes those it took away. a.mu must be held.
func (a *App) syncStandbys() {
	if a.cfg.StandbyReplicas <= 0 {
		return
	}
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
		}
	}
}

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
	a.standbyCl.AddConsumePartitions(add)
	a.standbys[id] = st
	a.log.Info("standby task opened", "task", id.String())
}

func (a *App) closeStandby(id processor.TaskID) {
	st := a.standbys[id]
	remove := map[string][]int32{}
	for topic, s := range st.stores {
		_ = s.Close()
		remove[topic] = []int32{id.Partition}
	}
	a.standbyCl.RemoveConsumePartitions(remove)
	delete(a.standbys, id)
	a.log.Info("standby task closed", "task", id.String())
}

// tailStandbys applies what the changelogs gained since the last call to
// the standby stores, without blocking. Fetch errors never fail the App
// (the client keeps retrying): they are logged, at most once per
// standbyLogEvery per changelog partition, and kept for FailingStandbys.
// a.mu must be held.
func (a *App) tailStandbys() error {
	if len(a.standbys) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	fs := a.standbyCl.PollRecords(ctx, 10000)
	now := time.Now()
	for _, fe := range fs.Errors() {
		if errors.Is(fe.Err, context.DeadlineExceeded) || errors.Is(fe.Err, context.Canceled) || errors.Is(fe.Err, kgo.ErrClientClosed) {
			continue
		}
		a.standbyFetchFailed(fe, now)
	}
	batches := map[string]map[int32][]changelog.Record{}
	last := map[string]map[int32]int64{}
	fs.EachRecord(func(r *kgo.Record) {
		if batches[r.Topic] == nil {
			batches[r.Topic], last[r.Topic] = map[int32][]changelog.Record{}, map[int32]int64{}
		}
		if !r.Attrs.IsControl() {
			batches[r.Topic][r.Partition] = append(batches[r.Topic][r.Partition], changelog.Record{Key: r.Key, Value: r.Value})
		}
		last[r.Topic][r.Partition] = r.Offset
	})
	for topic, byPart := range last {
		for p, off := range byPart {
			st, ok := a.standbys[processor.TaskID{Subtopology: a.changelogSub[topic], Partition: p}]
			if !ok || st.stores[topic] == nil {
				continue
			}
			if err := st.stores[topic].Restore(batches[topic][p], off+1); err != nil {
				return err
			}
			st.pos[topic] = off + 1
			if f := st.failing[topic]; f != nil {
				a.log.Info("standby changelog fetches again", "task", processor.TaskID{Subtopology: a.changelogSub[topic], Partition: p}.String(),
					"topic", topic, "partition", p, "failures", f.count, "for", now.Sub(f.since).Round(time.Millisecond))
				delete(st.failing, topic)
			}
		}
	}
	a.updatePositions()
	return nil
}

// standbyFetchFailed records a fetch error on the standby changelogs it
// concerns: one partition, every partition of a topic (partition -1), or
// every standby changelog (no topic: the client's own error). a.mu must be
// held.
func (a *App) standbyFetchFailed(fe kgo.FetchError, now time.Time) {
	for id, st := range a.standbys {
		if fe.Partition >= 0 && id.Partition != fe.Partition {
			continue
		}
		for topic := range st.stores {
			if fe.Topic != "" && topic != fe.Topic {
				continue
			}
			f := st.failing[topic]
			if f == nil {
				f = &standbyFailure{since: now}
				st.failing[topic] = f
			}
			f.err, f.last = fe.Err, now
			f.count++
			f.unlogged++
			if now.Sub(f.logged) >= standbyLogEvery {
				a.log.Warn("standby changelog fetch failed: the standby falls behind until it recovers", "task", id.String(),
					"topic", topic, "partition", id.Partition, "failures", f.unlogged, "since", f.since.Format(time.RFC3339), "err", fe.Err)
				f.logged, f.unlogged = now, 0
			}
		}
	}
}

// updatePositions records, for the join metadata, how far this member's
// state of each task is: the sum of its stores' changelog checkpoints.
// a.mu must be held.
func (a *App) updatePositions() {
	pos := map[assign.Task]int64{}
	for id, st := range a.standbys {
		for _, p := range st.pos {
			pos[assign.Task{Sub: id.Subtopology, Partition: id.Partition}] += p
		}
	}
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
	a.positions = pos
	a.posMu.Unlock()
}

// statePositions is the balancer's view of this member's state.
func (a *App) statePositions() map[assign.Task]int64 {
	a.posMu.Lock()
	defer a.posMu.Unlock()
	out := make(map[assign.Task]int64, len(a.positions))
	for k, v := range a.positions {
		out[k] = v
	}
	return out
}

// closeStandbys closes every standby task (shutdown).
func (a *App) closeStandbys() {
	ids := make([]processor.TaskID, 0, len(a.standbys))
	for id := range a.standbys {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].String() < ids[j].String() })
	for _, id := range ids {
		a.closeStandby(id)
	}
}
