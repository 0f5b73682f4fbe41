package assign

import (
	"fmt"
	"testing"
)

func tasks(subs int, parts int32) []Task {
	var out []Task
	for p := int32(0); p < parts; p++ {
		for s := 0; s < subs; s++ {
			out = append(out, Task{Sub: s, Partition: p})
		}
	}
	return out
}

func checkComplete(t *testing.T, plan map[string][]Task, all []Task) {
	t.Helper()
	seen := map[Task]string{}
	for m, ts := range plan {
		for _, x := range ts {
			if o, dup := seen[x]; dup {
				t.Fatalf("task %v assigned to both %s and %s", x, o, m)
			}
			seen[x] = m
		}
	}
	if len(seen) != len(all) {
		t.Fatalf("%d tasks assigned, want %d", len(seen), len(all))
	}
}

func checkBalanced(t *testing.T, plan map[string][]Task, members []string) {
	t.Helper()
	lo, hi := 1<<30, -1
	for _, m := range members {
		lo, hi = min(lo, len(plan[m])), max(hi, len(plan[m]))
	}
	if hi-lo > 1 {
		t.Fatalf("unbalanced: min %d max %d: %v", lo, hi, plan)
	}
}

func TestPlanFreshGroupIsBalanced(t *testing.T) {
	all := tasks(2, 8)
	for n := 1; n <= 5; n++ {
		var ms []string
		for i := range n {
			ms = append(ms, fmt.Sprintf("m%d", i))
		}
		plan := Plan(ms, nil, all)
		checkComplete(t, plan, all)
		checkBalanced(t, plan, ms)
	}
}

func TestPlanIsStickyWhenAMemberJoins(t *testing.T) {
	all := tasks(1, 8)
	before := Plan([]string{"a", "b"}, nil, all)
	after := Plan([]string{"a", "b", "c"}, before, all)
	checkComplete(t, after, all)
	checkBalanced(t, after, []string{"a", "b", "c"})
	moved := 0
	for _, m := range []string{"a", "b"} {
		kept := map[Task]bool{}
		for _, x := range after[m] {
			kept[x] = true
		}
		for _, x := range before[m] {
			if !kept[x] {
				moved++
			}
		}
	}
	// 8 tasks over 3 members: c gets 2 or 3, so at most 3 move; a sticky
	// plan moves no more than that.
	if moved != len(after["c"]) {
		t.Fatalf("%d tasks moved, but c received %d: not sticky: before %v after %v", moved, len(after["c"]), before, after)
	}
}

func TestPlanWhenAMemberLeaves(t *testing.T) {
	all := tasks(1, 8)
	before := Plan([]string{"a", "b", "c"}, nil, all)
	after := Plan([]string{"a", "c"}, map[string][]Task{"a": before["a"], "c": before["c"]}, all)
	checkComplete(t, after, all)
	checkBalanced(t, after, []string{"a", "c"})
	for _, m := range []string{"a", "c"} {
		kept := map[Task]bool{}
		for _, x := range after[m] {
			kept[x] = true
		}
		for _, x := range before[m] {
			if !kept[x] {
				t.Errorf("member %s lost task %v although only b left", m, x)
			}
		}
	}
}

func TestPlanIgnoresStaleOrUnknownClaims(t *testing.T) {
	all := tasks(1, 4)
	owned := map[string][]Task{"a": {{0, 0}, {0, 9}, {3, 1}}}
	plan := Plan([]string{"a", "b"}, owned, all)
	checkComplete(t, plan, all)
	for _, x := range plan["a"] {
		if x.Partition == 9 || x.Sub == 3 {
			t.Fatalf("unknown task %v assigned", x)
		}
	}
}

func TestStandbysNeverOnTheOwnerAndPreferWarmMembers(t *testing.T) {
	all := tasks(2, 4)
	members := []string{"a", "b", "c"}
	active := Plan(members, nil, all)
	positions := map[string]map[Task]int64{"c": {{0, 0}: 500}}
	sb := placeStandbys(1, members, active, positions)
	count := 0
	for m, ts := range sb {
		for x := range ts {
			count++
			for _, own := range active[m] {
				if own == x {
					t.Fatalf("standby of %v on its owner %s", x, m)
				}
			}
		}
	}
	if count != len(all) {
		t.Fatalf("%d standbys for %d tasks with 1 replica", count, len(all))
	}
	owner00 := ""
	for m, ts := range active {
		for _, x := range ts {
			if x == (Task{0, 0}) {
				owner00 = m
			}
		}
	}
	if owner00 != "c" {
		if _, ok := sb["c"][Task{0, 0}]; !ok {
			t.Fatalf("task 0_0's standby should go to c, which holds its state: %v", sb)
		}
	}
	// Failover: when the owner of 0_0 leaves, the warm member takes it.
	after := PlanWithPositions([]string{"a", "b"}, nil, tasks(1, 2), map[string]map[Task]int64{"b": {{0, 0}: 900}})
	found := false
	for _, x := range after["b"] {
		found = found || x == (Task{0, 0})
	}
	if !found {
		t.Fatalf("the warm member b should own 0_0: %v", after)
	}
	// User data round trip.
	m := map[Task]int64{{1, 2}: 3, {0, 7}: 9}
	got, err := decodeTasks(encodeTasks(m))
	if err != nil || len(got) != 2 || got[Task{1, 2}] != 3 || got[Task{0, 7}] != 9 {
		t.Fatalf("decode(encode) = %v %v", got, err)
	}
	if _, err := decodeTasks([]byte{0, 0, 0, 5}); err == nil {
		t.Fatal("truncated user data decoded")
	}
}
