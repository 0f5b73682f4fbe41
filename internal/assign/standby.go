package assign

import (
	"encoding/binary"
	"errors"
	"sort"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Standby replicas: each member reports in its join metadata the changelog
// position (sum of checkpoints) of every task whose state it holds; the
// leader places N standby copies of each task on members other than its
// owner, preferring those that hold the most, and gives an unowned task to
// the most caught-up member that has room. Standby tasks travel to each
// member in the user data of its assignment.

// encodeTasks encodes task → value pairs.
func encodeTasks(m map[Task]int64) []byte {
	tasks := make([]Task, 0, len(m))
	for t := range m {
		tasks = append(tasks, t)
	}
	sort.Slice(tasks, func(i, j int) bool { return less(tasks[i], tasks[j]) })
	b := binary.BigEndian.AppendUint32(nil, uint32(len(tasks)))
	for _, t := range tasks {
		b = binary.BigEndian.AppendUint32(b, uint32(t.Sub))
		b = binary.BigEndian.AppendUint32(b, uint32(t.Partition))
		b = binary.BigEndian.AppendUint64(b, uint64(m[t]))
	}
	return b
}

var errUserData = errors.New("assign: malformed user data")

func decodeTasks(b []byte) (map[Task]int64, error) {
	out := map[Task]int64{}
	if len(b) == 0 {
		return out, nil
	}
	if len(b) < 4 {
		return nil, errUserData
	}
	n := int(binary.BigEndian.Uint32(b))
	b = b[4:]
	if len(b) != n*16 {
		return nil, errUserData
	}
	for i := 0; i < n; i++ {
		t := Task{Sub: int(binary.BigEndian.Uint32(b)), Partition: int32(binary.BigEndian.Uint32(b[4:]))}
		out[t] = int64(binary.BigEndian.Uint64(b[8:]))
		b = b[16:]
	}
	return out, nil
}

func less(a, b Task) bool {
	if a.Partition != b.Partition {
		return a.Partition < b.Partition
	}
	return a.Sub < b.Sub
}

// standbyState is the balancer's side channel with the app.
type standbyState struct {
	mu       sync.Mutex
	replicas int
	// positions reports, for the join metadata, the tasks this member holds
	// state for and how far their changelogs are restored.
	positions func() map[Task]int64
	// assigned are the standby tasks of this member from the last sync.
	assigned []Task
}

// SetStandby configures standby replicas: n copies, and the function that
// reports this member's state positions.
func (b *Balancer) SetStandby(n int, positions func() map[Task]int64) {
	b.standby.mu.Lock()
	b.standby.replicas, b.standby.positions = n, positions
	b.standby.mu.Unlock()
}

// Standbys returns the standby tasks of this member from the last assignment.
func (b *Balancer) Standbys() []Task {
	b.standby.mu.Lock()
	defer b.standby.mu.Unlock()
	return append([]Task(nil), b.standby.assigned...)
}

// withStandbys adds the standby tasks to each member's assignment.
type withStandbys struct {
	plan     kgo.IntoSyncAssignment
	standbys map[string]map[Task]int64
}

func (w withStandbys) IntoSyncAssignment() []kmsg.SyncGroupRequestGroupAssignment {
	out := w.plan.IntoSyncAssignment()
	for i := range out {
		s := w.standbys[out[i].MemberID]
		if len(s) == 0 {
			continue
		}
		var a kmsg.ConsumerMemberAssignment
		if err := a.ReadFrom(out[i].MemberAssignment); err != nil {
			continue
		}
		a.UserData = encodeTasks(s)
		out[i].MemberAssignment = a.AppendTo(nil)
	}
	return out
}

// placeStandbys chooses n standby members per task among the members that
// do not own it, preferring the most caught-up, then the least loaded.
func placeStandbys(n int, members []string, active map[string][]Task, positions map[string]map[Task]int64) map[string]map[Task]int64 {
	out := map[string]map[Task]int64{}
	if n <= 0 || len(members) < 2 {
		return out
	}
	owner := map[Task]string{}
	var tasks []Task
	for m, ts := range active {
		for _, t := range ts {
			owner[t] = m
			tasks = append(tasks, t)
		}
	}
	sort.Slice(tasks, func(i, j int) bool { return less(tasks[i], tasks[j]) })
	load := map[string]int{}
	for _, t := range tasks {
		cands := make([]string, 0, len(members))
		for _, m := range members {
			if m != owner[t] {
				cands = append(cands, m)
			}
		}
		sort.SliceStable(cands, func(i, j int) bool {
			pi, pj := positions[cands[i]][t], positions[cands[j]][t]
			if pi != pj {
				return pi > pj
			}
			return load[cands[i]] < load[cands[j]]
		})
		for _, m := range cands[:min(n, len(cands))] {
			if out[m] == nil {
				out[m] = map[Task]int64{}
			}
			out[m][t] = 1
			load[m]++
		}
	}
	return out
}
