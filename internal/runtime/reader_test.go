package runtime

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa/changelog"
	"github.com/samsa-streams/samsa/internal/assign"
	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/testkit/cluster"
	"github.com/samsa-streams/samsa/topology"
)

// The mechanics of the changelog reader (restore, following, failures) are
// tested in package changelog (reader_test.go); these tests check what the
// App adds: task ids, positions, listener, Restored, error wrapping.

// realBroker connects to the broker dev/kafka started (SAMSA_BOOTSTRAP).
func realBroker(t *testing.T) *cluster.Cluster { t.Helper(); return cluster.Real(t) }

// readerApp returns an App with a changelog reader over a client of the
// bootstrap servers, and standby tasks with the given stores (by
// changelog topic), followed by the reader.
func readerApp(t *testing.T, appID string, bootstrap []string, changelogSub map[string]int, standbys map[processor.TaskID]map[string]*changelog.Store, opts ...kgo.Opt) *App {
	t.Helper()
	a := &App{cfg: Config{ApplicationID: appID, Bootstrap: bootstrap, ClientOptions: opts}, log: slog.New(slog.DiscardHandler),
		changelogSub: changelogSub, standbys: map[processor.TaskID]*standbyTask{}}
	cl, err := a.newChangelogClient(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	a.restoreCl, a.reader = cl, a.newReader(cl)
	for id, stores := range standbys {
		a.standbys[id] = &standbyTask{stores: stores}
		for topic, s := range stores {
			a.reader.Follow(topic, id.Partition, s)
		}
	}
	return a
}

// TestStandbyFailuresAndPositionsByTask: the reader's failures and
// positions, by changelog partition, reach FailingStandbys and the
// balancer's positions as the standby tasks they belong to.
func TestStandbyFailuresAndPositionsByTask(t *testing.T) {
	e, err := changelog.NewEngine(changelog.Options{ApplicationID: "app", InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	open := func(id processor.TaskID, name string, next int64) *changelog.Store {
		s, err := e.Open(id, name)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Restore(nil, next); err != nil {
			t.Fatal(err)
		}
		return s
	}
	ta, tb := topology.ChangelogTopic("app", "a"), topology.ChangelogTopic("app", "b")
	idA, idB := processor.TaskID{Subtopology: 2, Partition: 1}, processor.TaskID{Subtopology: 0, Partition: 3}
	// The changelog topics do not exist on the embedded cluster: their
	// fetches fail (UNKNOWN_TOPIC_OR_PARTITION, kept by the client).
	c, err := cluster.Embedded(1)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a := readerApp(t, "app", c.Bootstrap, map[string]int{ta: 2, tb: 0}, map[processor.TaskID]map[string]*changelog.Store{
		idA: {ta: open(idA, "a", 10)},
		idB: {tb: open(idB, "b", 7)},
	}, kgo.KeepRetryableFetchErrors())
	if got := a.StandbyPositionsForTest(); got[idA] != 10 || got[idB] != 7 || len(got) != 2 {
		t.Fatalf("standby positions %v, want %s at 10 and %s at 7", got, idA, idB)
	}
	var failing []StandbyFailure
	for end := time.Now().Add(30 * time.Second); len(failing) < 2 && time.Now().Before(end); failing = a.FailingStandbys() {
		a.tailStandbys(context.Background(), 200*time.Millisecond)
	}
	if len(failing) != 2 || failing[0].Task != idB || failing[0].Topic != tb || failing[0].Partition != 3 ||
		failing[1].Task != idA || failing[1].Topic != ta || failing[1].Partition != 1 || failing[0].Err == nil || failing[0].Count < 1 {
		t.Fatalf("FailingStandbys = %+v, want %s (%s) then %s (%s), sorted by task", failing, idB, tb, idA, ta)
	}
	// The positions for the balancer were updated with the applies.
	if got := a.statePositions(); got[assign.Task{Sub: 2, Partition: 1}] != 10 || got[assign.Task{Sub: 0, Partition: 3}] != 7 || len(got) != 2 {
		t.Fatalf("statePositions = %v, want 2_1 at 10 and 0_3 at 7", got)
	}
}

// topicGone is an error of the changelog reader for a deleted topic.
type topicGone struct{}

func (topicGone) Error() string {
	return `changelog topic "x" was deleted or recreated during the restore: UNKNOWN_TOPIC_ID`
}
func (topicGone) Is(target error) bool { return target == changelog.ErrTopicGone }

// TestDeletedChangelogIsAnInternalTopicError: a restore that finds its
// changelog topic deleted fails with ErrInternalTopic, its text as before
// the reader moved to package changelog; other errors are left alone.
func TestDeletedChangelogIsAnInternalTopicError(t *testing.T) {
	err := internalTopicGone(errors.Join(topicGone{}, errors.New("flush failed")))
	if !errors.Is(err, ErrInternalTopic) || !errors.Is(err, changelog.ErrTopicGone) {
		t.Fatalf("%v: want ErrInternalTopic and changelog.ErrTopicGone", err)
	}
	if want := "samsa: internal topic: changelog topic \"x\" was deleted or recreated during the restore: UNKNOWN_TOPIC_ID\nflush failed"; err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
	other := errors.New("other")
	if got := internalTopicGone(other); got != other {
		t.Fatalf("internalTopicGone(other) = %v", got)
	}
	if internalTopicGone(nil) != nil {
		t.Fatal("internalTopicGone(nil) != nil")
	}
}

// TestAppRestoresThroughTheReader: the App's restore of a store reports to
// the listener with the task, store and topic, counts Restored, and the
// standby whose records its polls returned gets them.
func TestAppRestoresThroughTheReader(t *testing.T) {
	c := realBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	appID := cluster.UniqueName("reader-app")
	standbyTopic, restoreTopic := topology.ChangelogTopic(appID, "warm"), topology.ChangelogTopic(appID, "cold")
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
	const warm, cold = 3000, 30000
	produce(standbyTopic, warm)
	produce(restoreTopic, cold)

	e, err := changelog.NewEngine(changelog.Options{ApplicationID: appID, InMemory: true})
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
	a := readerApp(t, appID, c.Bootstrap, map[string]int{standbyTopic: 0, restoreTopic: 1},
		map[processor.TaskID]map[string]*changelog.Store{standbyID: {standbyTopic: warmStore}})
	var last RestoreProgress
	a.cfg.RestoreListener = func(p RestoreProgress) { last = p }
	if err := a.restoreStore(ctx, activeID, "cold", coldStore, time.Time{}, nil); err != nil {
		t.Fatal(err)
	}
	if last.Task != activeID || last.Store != "cold" || last.Topic != restoreTopic || !last.Finished || last.Done != cold || a.Restored() != cold {
		t.Fatalf("last report %+v, Restored %d: want task %s, store cold, %d records done", last, a.Restored(), activeID, cold)
	}
	for end := time.Now().Add(10 * time.Second); a.StandbyPositionsForTest()[standbyID] < warm && time.Now().Before(end); {
		a.tailStandbys(ctx, 200*time.Millisecond)
	}
	if got := a.StandbyPositionsForTest()[standbyID]; got != warm {
		t.Fatalf("standby at offset %d after the restore, want %d", got, warm)
	}
	if got := a.statePositions()[assign.Task{Sub: 0, Partition: 0}]; got != warm {
		t.Fatalf("balancer position of the standby %d, want %d", got, warm)
	}
}
