package runtime

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestIdleDecide checks MaxTaskIdle's decision for one empty input
// partition, step by step on a fake clock.
func TestIdleDecide(t *testing.T) {
	t0 := time.Unix(1000, 0)
	type step struct {
		after    time.Duration // since t0
		pos, end int64
		want     idleVerdict
	}
	for _, tc := range []struct {
		name    string
		maxIdle time.Duration
		steps   []step
	}{
		{"never wait", -1, []step{
			{0, -1, -1, idleProcess},
			{0, 0, 200, idleProcess},
		}},
		{"caught up, no idle", 0, []step{
			{0, 200, 200, idleProcess},
			{0, 0, 0, idleProcess}, // an empty partition
		}},
		{"unknown lag is waited for, up to the bound", 0, []step{
			{0, -1, -1, idleWait},
			{time.Second, 0, -1, idleWait},
			{time.Second, -1, 10, idleWait},
			{lagWaitBound - time.Millisecond, -1, -1, idleWait},
			{lagWaitBound, -1, -1, idleEnforced},
		}},
		{"known records are waited for, up to the bound", 0, []step{
			{0, 0, 200, idleWait},
			{lagWaitBound / 2, 0, 200, idleWait},
			{lagWaitBound - time.Millisecond, 199, 200, idleWait}, // a marker not fetched yet
			{lagWaitBound - time.Millisecond, 200, 200, idleProcess},
		}},
		{"caught up: wait max idle", 300 * time.Millisecond, []step{
			{0, 5, 5, idleWait},
			{299 * time.Millisecond, 5, 5, idleWait},
			{300 * time.Millisecond, 5, 5, idleEnforced},
		}},
		{"lag then caught up: the idle wait starts when caught up", 300 * time.Millisecond, []step{
			{0, 0, 5, idleWait},
			{time.Second, 5, 5, idleWait},
			{time.Second + 299*time.Millisecond, 5, 5, idleWait},
			{time.Second + 300*time.Millisecond, 5, 5, idleEnforced},
		}},
		{"bound counts max idle", time.Second, []step{
			{0, -1, -1, idleWait},
			{lagWaitBound, -1, -1, idleWait},
			{lagWaitBound + time.Second, -1, -1, idleEnforced},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &inputIdle{pos: -1, end: -1}
			for i, s := range tc.steps {
				p.pos, p.end = s.pos, s.end
				if got, _ := p.decide(t0.Add(s.after), tc.maxIdle); got != s.want {
					t.Fatalf("step %d (at +%s, position %d, end %d): verdict %d, want %d", i, s.after, s.pos, s.end, got, s.want)
				}
			}
		})
	}
}

// TestIdleTrackerRecordEndsTheWait checks that a record arriving on the
// partition ends its wait (the next empty spell waits afresh), that a
// transaction marker moves the position without ending it, and that a
// rewind forgets the positions.
func TestIdleTrackerRecordEndsTheWait(t *testing.T) {
	it := newIdleTracker(time.Second, slog.New(slog.NewTextHandler(io.Discard, nil)))
	tp := topicPartition{"table", 0}
	it.part(tp)
	it.fetched("table", 0, 10, nil)
	t0 := time.Unix(1000, 0)
	if it.ready(tp, t0) {
		t.Fatal("ready with the position unknown")
	}
	if !it.want[tp] {
		t.Fatal("no look-up asked for a partition with an unknown position")
	}
	it.fetched("table", 0, 10, []*kgo.Record{{Topic: "table", Offset: 7}, {Topic: "table", Offset: 8}})
	if it.ready(tp, t0.Add(lagWaitBound*2)) {
		t.Fatal("ready one record short of the end, though a record just came")
	}
	// The transaction marker at 9: caught up, then max idle.
	it.fetched("table", 0, 10, []*kgo.Record{{Topic: "table", Offset: 9, Attrs: kgo.NewRecordAttrs(kgo.RecordAttrsOpts{Control: true})}})
	at := t0.Add(lagWaitBound * 2)
	if it.ready(tp, at) {
		t.Fatal("ready at once when caught up with MaxTaskIdle 1s")
	}
	if d, ok := it.nextDeadline(at); !ok || !d.Equal(at.Add(time.Second)) {
		t.Fatalf("next deadline %v (%v), want %v", d, ok, at.Add(time.Second))
	}
	if !it.ready(tp, at.Add(time.Second)) {
		t.Fatal("not ready after MaxTaskIdle")
	}
	if _, ok := it.nextDeadline(at.Add(time.Second)); ok {
		t.Fatal("a deadline after enforced processing")
	}
	// A new record: the next empty spell waits again.
	it.received(&kgo.Record{Topic: "table", Partition: 0, Offset: 10}, true)
	it.fetched("table", 0, 11, nil)
	if it.ready(tp, at.Add(2*time.Second)) {
		t.Fatal("ready at once after a record came: the wait did not start again")
	}
	it.rewind()
	if p := it.parts[tp]; p.pos != -1 || p.end != 11 {
		t.Fatalf("after a rewind position %d end %d, want -1 and 11", p.pos, p.end)
	}
	// A look-up begun before the rewind does not set the position.
	it.apply(idleLookup{pos: map[topicPartition]int64{tp: 11}, gen: it.gen - 1})
	if p := it.parts[tp]; p.pos != -1 {
		t.Fatalf("a stale look-up set the position to %d", p.pos)
	}
	it.apply(idleLookup{pos: map[topicPartition]int64{tp: 11}, end: map[topicPartition]int64{tp: 12}, gen: it.gen})
	if p := it.parts[tp]; p.pos != 11 || p.end != 12 {
		t.Fatalf("after a look-up position %d end %d, want 11 and 12", p.pos, p.end)
	}
}
