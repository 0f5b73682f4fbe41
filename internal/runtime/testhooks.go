package runtime

// This file holds hooks for the tests of packages samsa and runtime: they
// drive single parts of an App (a store's restore, standby tailing) without
// running it.

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa/changelog"
	"github.com/samsa-streams/samsa/internal/engine"
	"github.com/samsa-streams/samsa/processor"
)

// RestoreHarness runs the App's restore of single stores, for the tests of
// package samsa_test, with a restore client configured as startClient does.
type RestoreHarness struct{ a *App }

// NewRestoreHarness returns a harness for the application id; opts are
// added to the restore client's options, as Config.ClientOptions are.
func NewRestoreHarness(appID string, bootstrap []string, log *slog.Logger, listener func(RestoreProgress), opts ...kgo.Opt) (*RestoreHarness, error) {
	a := &App{cfg: Config{ApplicationID: appID, Bootstrap: bootstrap, RestoreListener: listener, ClientOptions: opts}, log: log}
	cl, err := a.newChangelogClient(nil)
	if err != nil {
		return nil, err
	}
	a.restoreCl, a.reader = cl, a.newReader(cl)
	return &RestoreHarness{a: a}, nil
}

// Restore restores one store of a task as the App does.
func (h *RestoreHarness) Restore(ctx context.Context, task processor.TaskID, name string, s *changelog.Store) error {
	return h.a.restoreStore(ctx, task, name, s, time.Time{}, nil)
}

// Restored is App.Restored.
func (h *RestoreHarness) Restored() int64 { return h.a.Restored() }

// Close closes the restore client.
func (h *RestoreHarness) Close() { h.a.restoreCl.Close() }

// StartStandbyForTest opens standby task id of an App made by New, with
// the state engine and changelog reader Run would make.
func (a *App) StartStandbyForTest(id processor.TaskID) error {
	e, err := changelog.NewEngine(changelog.Options{Dir: a.cfg.StateDir, ApplicationID: a.cfg.ApplicationID, Logger: a.log})
	if err != nil {
		return err
	}
	cl, err := a.newChangelogClient(nil)
	if err != nil {
		_ = e.Close()
		return err
	}
	a.standbyMu.Lock()
	defer a.standbyMu.Unlock()
	a.stateEngine, a.restoreCl, a.reader = e, cl, a.newReader(cl)
	a.openStandby(id)
	return nil
}

// TailStandbysForTest runs one turn of standby tailing, as the state
// updater does.
func (a *App) TailStandbysForTest() error {
	a.tailStandbys(context.Background(), time.Millisecond)
	return nil
}

// StopStandbysForTest closes what StartStandbyForTest opened.
func (a *App) StopStandbysForTest() {
	a.closeStandbys()
	a.standbyMu.Lock()
	cl := a.restoreCl
	a.standbyMu.Unlock()
	cl.Close()
	_ = a.stateEngine.Close()
}

// StandbyPositionsForTest returns the standby tasks this member keeps, with
// the next changelog offset of each (summed over its stores).
func (a *App) StandbyPositionsForTest() map[processor.TaskID]int64 {
	a.standbyMu.Lock()
	defer a.standbyMu.Unlock()
	out := map[processor.TaskID]int64{}
	if a.reader == nil {
		return out
	}
	pos := a.reader.Positions()
	for id, st := range a.standbys {
		for topic := range st.stores {
			out[id] += pos[topic][id.Partition]
		}
	}
	return out
}

// fetchDelays holds the delays set by DelayFetchForTest, by topic.
var fetchDelays struct {
	sync.Mutex
	d map[string]time.Duration
}

// DelayFetchForTest makes every App of the process fetch topic only d
// after a task reading it starts processing (its partitions are resumed
// after the restore), as if its first fetch came late; the returned
// function undoes it. For the tests of MaxTaskIdle.
func DelayFetchForTest(topic string, d time.Duration) (undo func()) {
	fetchDelays.Lock()
	defer fetchDelays.Unlock()
	if fetchDelays.d == nil {
		fetchDelays.d = map[string]time.Duration{}
	}
	fetchDelays.d[topic] = d
	return func() {
		fetchDelays.Lock()
		defer fetchDelays.Unlock()
		delete(fetchDelays.d, topic)
	}
}

// delayFetchForTest pauses the topics of task t that DelayFetchForTest
// delays, for their delay. a.mu must be held.
func (a *App) delayFetchForTest(t *engine.Task) {
	fetchDelays.Lock()
	defer fetchDelays.Unlock()
	for _, topic := range t.Inputs() {
		d, ok := fetchDelays.d[topic]
		if !ok {
			continue
		}
		cl := a.cl
		cl.PauseFetchTopics(topic)
		a.log.Info("test hook: fetching the topic later", "topic", topic, "delay", d)
		time.AfterFunc(d, func() { cl.ResumeFetchTopics(topic) })
	}
}
