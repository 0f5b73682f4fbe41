// Package assign is samsa's group balancer: it assigns whole tasks
// (sub-topology × partition number), so co-partitioned partitions always land
// on the same member, keeps tasks where they were (sticky), and moves them
// cooperatively so tasks that stay keep running during a rebalance.
package assign

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ProtocolName is the balancer's protocol name in the group.
const ProtocolName = "samsa-task-v1"

// Task identifies a task for the balancer.
type Task struct {
	Sub       int
	Partition int32
}

// Balancer is a kgo.GroupBalancer assigning tasks.
type Balancer struct {
	topicSub map[string]int
	standby  standbyState
}

// NewBalancer returns a balancer for topics mapped to their sub-topology.
func NewBalancer(topicSub map[string]int) *Balancer {
	m := make(map[string]int, len(topicSub))
	for k, v := range topicSub {
		m[k] = v
	}
	return &Balancer{topicSub: m}
}

var _ kgo.GroupBalancer = (*Balancer)(nil)

// ProtocolName implements kgo.GroupBalancer.
func (*Balancer) ProtocolName() string { return ProtocolName }

// IsCooperative implements kgo.GroupBalancer: tasks that do not move keep
// running through a rebalance.
func (*Balancer) IsCooperative() bool { return true }

// JoinGroupMetadata implements kgo.GroupBalancer with the consumer protocol's
// metadata, owned partitions included.
func (b *Balancer) JoinGroupMetadata(interests []string, current map[string][]int32, generation int32) []byte {
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Version = 3
	meta.Topics = interests
	meta.Generation = generation
	topics := make([]string, 0, len(current))
	for t := range current {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	for _, t := range topics {
		op := kmsg.NewConsumerMemberMetadataOwnedPartition()
		op.Topic = t
		op.Partitions = current[t]
		meta.OwnedPartitions = append(meta.OwnedPartitions, op)
	}
	b.standby.mu.Lock()
	positions := b.standby.positions
	b.standby.mu.Unlock()
	if positions != nil {
		meta.UserData = encodeTasks(positions())
	}
	return meta.AppendTo(nil)
}

// ParseSyncAssignment implements kgo.GroupBalancer; it keeps the standby
// tasks found in the user data for Standbys.
func (b *Balancer) ParseSyncAssignment(assignment []byte) (map[string][]int32, error) {
	var a kmsg.ConsumerMemberAssignment
	if err := a.ReadFrom(assignment); err == nil {
		if s, err := decodeTasks(a.UserData); err == nil {
			list := make([]Task, 0, len(s))
			for t := range s {
				list = append(list, t)
			}
			sort.Slice(list, func(i, j int) bool { return less(list[i], list[j]) })
			b.standby.mu.Lock()
			b.standby.assigned = list
			b.standby.mu.Unlock()
		}
	}
	return kgo.ParseConsumerSyncAssignment(assignment)
}

// MemberBalancer implements kgo.GroupBalancer.
func (b *Balancer) MemberBalancer(members []kmsg.JoinGroupResponseMember) (kgo.GroupMemberBalancer, map[string]struct{}, error) {
	cb, err := kgo.NewConsumerBalancer(b, members)
	return cb, cb.MemberTopics(), err
}

// Balance implements kgo.ConsumerBalancerBalance.
func (b *Balancer) Balance(cb *kgo.ConsumerBalancer, topics map[string]int32) kgo.IntoSyncAssignment {
	// Tasks and the topics of each sub-topology.
	subTopics := map[int][]string{}
	subParts := map[int]int32{}
	for t, n := range topics {
		sub, ok := b.topicSub[t]
		if !ok {
			continue
		}
		subTopics[sub] = append(subTopics[sub], t)
		if cur, seen := subParts[sub]; !seen || n < cur {
			subParts[sub] = n
		}
	}
	var tasks []Task
	for sub, n := range subParts {
		sort.Strings(subTopics[sub])
		for p := int32(0); p < n; p++ {
			tasks = append(tasks, Task{Sub: sub, Partition: p})
		}
	}
	sort.Slice(tasks, func(i, j int) bool {
		if tasks[i].Partition != tasks[j].Partition {
			return tasks[i].Partition < tasks[j].Partition
		}
		return tasks[i].Sub < tasks[j].Sub
	})

	var ids []string
	owned := map[string][]Task{}
	positions := map[string]map[Task]int64{}
	claimed := map[Task]bool{}
	members := map[string]*kmsg.JoinGroupResponseMember{}
	cb.EachMember(func(m *kmsg.JoinGroupResponseMember, meta *kmsg.ConsumerMemberMetadata) {
		ids = append(ids, m.MemberID)
		members[m.MemberID] = m
		if p, err := decodeTasks(meta.UserData); err == nil {
			positions[m.MemberID] = p
		}
		seen := map[Task]bool{}
		for _, op := range meta.OwnedPartitions {
			sub, ok := b.topicSub[op.Topic]
			if !ok {
				continue
			}
			for _, p := range op.Partitions {
				t := Task{Sub: sub, Partition: p}
				if p >= subParts[sub] || seen[t] || claimed[t] {
					continue
				}
				seen[t], claimed[t] = true, true
				owned[m.MemberID] = append(owned[m.MemberID], t)
			}
		}
	})
	plan := PlanWithPositions(ids, owned, tasks, positions)

	bp := cb.NewPlan()
	for id, ts := range plan {
		m := members[id]
		for _, t := range ts {
			for _, topic := range subTopics[t.Sub] {
				bp.AddPartition(m, topic, t.Partition)
			}
		}
	}
	bp.AdjustCooperative(cb)
	b.standby.mu.Lock()
	n := b.standby.replicas
	b.standby.mu.Unlock()
	if n <= 0 {
		return bp
	}
	return withStandbys{plan: bp, standbys: placeStandbys(n, ids, plan, positions)}
}

// Plan assigns tasks to members: each member keeps what it owns up to its
// fair share (floor or ceiling of tasks/members), and the rest go to the
// members with the fewest. members is in the group's order; the result is
// deterministic.
func Plan(members []string, owned map[string][]Task, tasks []Task) map[string][]Task {
	return PlanWithPositions(members, owned, tasks, nil)
}

// PlanWithPositions is Plan where an unowned task goes to the member whose
// state of it is the most caught-up (a standby), among those with room,
// so that a failover restores only the tail.
func PlanWithPositions(members []string, owned map[string][]Task, tasks []Task, positions map[string]map[Task]int64) map[string][]Task {
	out := make(map[string][]Task, len(members))
	if len(members) == 0 {
		return out
	}
	valid := make(map[Task]bool, len(tasks))
	for _, t := range tasks {
		valid[t] = true
	}
	base := len(tasks) / len(members)
	extra := len(tasks) % len(members)
	taken := map[Task]bool{}
	// Keep owned tasks up to the floor.
	for _, m := range members {
		for _, t := range owned[m] {
			if len(out[m]) >= base {
				break
			}
			if valid[t] && !taken[t] {
				out[m] = append(out[m], t)
				taken[t] = true
			}
		}
	}
	// Then one more owned task each while ceiling slots remain.
	for _, m := range members {
		if extra == 0 {
			break
		}
		for _, t := range owned[m] {
			if valid[t] && !taken[t] {
				out[m] = append(out[m], t)
				taken[t] = true
				extra--
				break
			}
		}
	}
	// The rest to the most caught-up member with room (below the ceiling
	// while ceiling slots remain), else the least loaded, first in order.
	ceiling := base
	if extra > 0 {
		ceiling = base + 1
	}
	for _, t := range tasks {
		if taken[t] {
			continue
		}
		best := members[0]
		for _, m := range members[1:] {
			if len(out[m]) < len(out[best]) {
				best = m
			}
		}
		var warm string
		for _, m := range members {
			if p := positions[m][t]; p > 0 && len(out[m]) < ceiling && (warm == "" || p > positions[warm][t]) {
				warm = m
			}
		}
		if warm != "" {
			best = warm
			if len(out[best]) == base {
				extra--
				if extra == 0 {
					ceiling = base
				}
			}
		}
		out[best] = append(out[best], t)
		taken[t] = true
	}
	return out
}
