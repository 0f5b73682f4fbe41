package changelog

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/testkit/cluster"
)

// realBroker connects to the broker dev/kafka started (SAMSA_BOOTSTRAP).
func realBroker(t *testing.T) *cluster.Cluster { t.Helper(); return cluster.Real(t) }

// changelogClient returns a client configured as the runtime's changelog
// client: read_committed, control records kept.
func changelogClient(t *testing.T, seeds ...string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// TestRestoreAndStandbysShareTheReader: one Reader serves the restores and
// the followed (standby) partitions. Records of a followed partition that a
// restore's polls return go to its store: none is lost.
func TestRestoreAndStandbysShareTheReader(t *testing.T) {
	c := realBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	appID := cluster.UniqueName("reader-app")
	standbyTopic, restoreTopic := appID+"-warm-changelog", appID+"-cold-changelog"
	for _, topic := range []string{standbyTopic, restoreTopic} {
		if err := c.CreateTopic(ctx, topic, 1, nil); err != nil {
			t.Fatal(err)
		}
	}
	produce := func(topic string, n int) {
		recs := make([]*kgo.Record, n)
		for i := range recs {
			recs[i] = &kgo.Record{Topic: topic, Key: []byte("k" + strconv.Itoa(i)), Value: []byte("v")}
		}
		if err := c.Produce(ctx, false, recs...); err != nil {
			t.Fatal(err)
		}
	}
	const warm, cold = 3000, 60000
	produce(standbyTopic, warm)
	produce(restoreTopic, cold)

	e, err := NewEngine(Options{ApplicationID: appID, InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	standbyID, activeID := processor.TaskID{Subtopology: 0, Partition: 0}, processor.TaskID{Subtopology: 1, Partition: 0}
	warmStore, err := e.Open(standbyID, "warm")
	if err != nil {
		t.Fatal(err)
	}
	coldStore, err := e.Open(activeID, "cold")
	if err != nil {
		t.Fatal(err)
	}
	r := NewReader(changelogClient(t, c.Bootstrap...), slog.New(slog.DiscardHandler))
	var restored int64
	r.OnRestored = func(n int64) { restored += n }
	// The standby's partition is followed first: the restore's polls
	// return its records too.
	r.Follow(standbyTopic, 0, warmStore)
	var last RestoreProgress
	if err := r.Restore(ctx, coldStore, restoreTopic, 0, time.Time{}, nil, func(p RestoreProgress, _ bool) { last = p }); err != nil {
		t.Fatal(err)
	}
	if n, _ := coldStore.ApproximateCount(); n != cold {
		t.Fatalf("restored store holds %d keys, want %d", n, cold)
	}
	if !last.Finished || last.Done != cold || restored != cold || last.ToGo != 0 {
		t.Fatalf("last report %+v, OnRestored counted %d: want %d records done, finished", last, restored, cold)
	}
	for end := time.Now().Add(10 * time.Second); r.Positions()[standbyTopic][0] < warm && time.Now().Before(end); {
		r.Tail(ctx, 200*time.Millisecond)
	}
	if got := r.Positions()[standbyTopic][0]; got != warm {
		t.Fatalf("standby at offset %d after the restore, want %d: records the restore's polls returned were lost", got, warm)
	}
	if n, _ := warmStore.ApproximateCount(); n != warm {
		t.Fatalf("standby store holds %d keys, want %d", n, warm)
	}
	if f := r.Failing(); len(f) != 0 {
		t.Fatalf("Failing = %+v, want none", f)
	}
}

// testReader returns a Reader whose client never connects (its seed
// refuses connections), for the tests that apply fetches by hand, its
// log lines in buf.
func testReader(t *testing.T) (*Reader, *Engine, *lockedBuffer) {
	t.Helper()
	e, err := NewEngine(Options{ApplicationID: "reader-unit", InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	buf := &lockedBuffer{}
	log := slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	return NewReader(changelogClient(t, "127.0.0.1:1"), log), e, buf
}

// lockedBuffer is a bytes.Buffer safe for the log handler's writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// count returns how many lines hold s.
func (b *lockedBuffer) count(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), s)
}

func rec(topic string, partition int32, off int64, key string) *kgo.Record {
	return &kgo.Record{Topic: topic, Partition: partition, Offset: off, Key: []byte(key), Value: []byte("v" + key)}
}

// TestFollowAppliesOnlyWhatIsFollowed: fetched records go to the store of
// their followed partition, from its position on; records of partitions
// not followed, or read before a later position, are dropped; a control
// record moves the position without being applied; after Unfollow nothing
// is written. OnApplied runs after each apply.
func TestFollowAppliesOnlyWhatIsFollowed(t *testing.T) {
	r, e, _ := testReader(t)
	applied := 0
	r.OnApplied = func() {
		applied++
		_ = r.Positions() // the lock is not held
	}
	s, err := e.Open(processor.TaskID{Subtopology: 0, Partition: 1}, "kv")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Restore(nil, 5); err != nil { // checkpoint 5
		t.Fatal(err)
	}
	r.Follow("t", 1, s)
	if got := r.Positions(); got["t"][1] != 5 || len(got) != 1 {
		t.Fatalf("Positions = %v, want t/1 at the checkpoint 5", got)
	}
	marker := rec("t", 1, 7, "")
	marker.Attrs = kgo.NewRecordAttrs(kgo.RecordAttrsOpts{Control: true, Transactional: true})
	r.apply([]*kgo.Record{
		rec("t", 1, 4, "old"), // before the position: fetched before a reopen
		rec("t", 1, 5, "a"),
		rec("t", 0, 5, "other-partition"),
		rec("u", 1, 5, "other-topic"),
		rec("t", 1, 6, "b"),
		marker,
	}, nil)
	if applied != 1 {
		t.Fatalf("OnApplied called %d times, want 1", applied)
	}
	if got := r.Positions()["t"][1]; got != 8 {
		t.Fatalf("position %d, want 8 (past the control record)", got)
	}
	if next, _, _ := s.Checkpoint(); next != 8 {
		t.Fatalf("checkpoint %d, want 8", next)
	}
	for k, want := range map[string]bool{"a": true, "b": true, "old": false, "other-partition": false, "other-topic": false, "": false} {
		if _, ok, _ := s.Get([]byte(k)); ok != want {
			t.Errorf("key %q in the store: %v, want %v", k, ok, want)
		}
	}
	r.Unfollow("t", 1)
	r.apply([]*kgo.Record{rec("t", 1, 8, "c")}, nil)
	if _, ok, _ := s.Get([]byte("c")); ok {
		t.Fatal("a record was applied after Unfollow")
	}
	if r.Following() != 0 || len(r.Positions()) != 0 {
		t.Fatalf("Following %d, Positions %v after Unfollow, want none", r.Following(), r.Positions())
	}
}

// TestFollowFailures: a fetch error marks the followed partitions it
// concerns (one partition, a whole topic with partition -1, every
// partition when it has no topic), is logged at most once per 5 s per
// partition, and is cleared, with a line, when the partition delivers
// records again. Cancellations and a closed client are no failures.
func TestFollowFailures(t *testing.T) {
	r, e, logs := testReader(t)
	open := func(part int32, name string) *Store {
		s, err := e.Open(processor.TaskID{Subtopology: 0, Partition: part}, name)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	r.Follow("t", 0, open(0, "t"))
	r.Follow("t", 1, open(1, "t"))
	r.Follow("u", 0, open(0, "u"))
	failing := func() map[string]FollowFailure {
		m := map[string]FollowFailure{}
		for _, f := range r.Failing() {
			m[f.Topic+"/"+strconv.Itoa(int(f.Partition))] = f
		}
		return m
	}
	r.apply(nil, []kgo.FetchError{
		{Topic: "t", Partition: 1, Err: kerr.NotLeaderForPartition},
		{Topic: "t", Partition: 0, Err: context.Canceled},
		{Topic: "u", Partition: 0, Err: context.DeadlineExceeded},
		{Err: kgo.ErrClientClosed},
	})
	if got := failing(); len(got) != 1 || got["t/1"].Count != 1 || !errors.Is(got["t/1"].Err, kerr.NotLeaderForPartition) {
		t.Fatalf("Failing = %v, want t/1 once", got)
	}
	r.apply(nil, []kgo.FetchError{{Topic: "t", Partition: -1, Err: kerr.TopicAuthorizationFailed}})
	got := failing()
	if len(got) != 2 || got["t/1"].Count != 2 || got["t/0"].Count != 1 || !errors.Is(got["t/1"].Err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("Failing = %v, want t/0 once and t/1 twice", got)
	}
	if !got["t/1"].Since.Before(got["t/1"].Last) && got["t/1"].Since != got["t/1"].Last {
		t.Fatalf("t/1 failing since %v, last %v", got["t/1"].Since, got["t/1"].Last)
	}
	r.apply(nil, []kgo.FetchError{{Partition: -1, Err: errors.New("client-wide")}})
	if got := failing(); len(got) != 3 {
		t.Fatalf("Failing = %v, want every followed partition", got)
	}
	// t/1 failed three times within 5 s: one line.
	if n := logs.count(`topic=t partition=1`); n != 1 {
		t.Fatalf("%d lines about t/1, want 1 (rate-limited):\n%s", n, logs.buf.String())
	}
	r.apply([]*kgo.Record{rec("t", 1, 0, "a")}, nil)
	got = failing()
	if _, ok := got["t/1"]; ok || len(got) != 2 {
		t.Fatalf("Failing = %v, want t/1 cleared by its records", got)
	}
	if logs.count("standby changelog fetches again") != 1 || logs.count("task=0_1") < 2 {
		t.Fatalf("want the recovery line naming task 0_1:\n%s", logs.buf.String())
	}
	r.Unfollow("t", 0)
	if _, ok := failing()["t/0"]; ok {
		t.Fatal("an unfollowed partition is still listed as failing")
	}
}

// TestTopicGoneError: the error of a restore whose topic was deleted says
// so, is ErrTopicGone and wraps the broker's error.
func TestTopicGoneError(t *testing.T) {
	err := errors.Join(&topicGoneError{topic: "app-kv-changelog", err: kerr.UnknownTopicID}, errors.New("flush"))
	if !errors.Is(err, ErrTopicGone) || !errors.Is(err, kerr.UnknownTopicID) {
		t.Fatalf("%v: want ErrTopicGone wrapping UNKNOWN_TOPIC_ID", err)
	}
	if want := `changelog topic "app-kv-changelog" was deleted or recreated during the restore: UNKNOWN_TOPIC_ID`; !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("error %q, want it to start with %q", err, want)
	}
}
