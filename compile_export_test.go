package samsa

import (
	"log/slog"
	"sort"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa/internal/runtime"
	"github.com/samsa-streams/samsa/processor"
)

// TopicsOf returns the topics an App reads and writes as it will run them,
// internal topics named after its application id, sorted.
func TopicsOf(a *App) []string {
	var topics []string
	for _, n := range a.plan.Graph.Nodes {
		topics = append(topics, n.Topics...)
		if n.Topic != "" {
			topics = append(topics, n.Topic)
		}
	}
	sort.Strings(topics)
	return topics
}

// NewRestoreHarness returns the runtime's restore harness for the tests of
// package samsa_test.
func NewRestoreHarness(appID string, bootstrap []string, log *slog.Logger, listener func(RestoreProgress), opts ...kgo.Opt) (*runtime.RestoreHarness, error) {
	var l func(runtime.RestoreProgress)
	if listener != nil {
		l = func(p runtime.RestoreProgress) { listener(RestoreProgress(p)) }
	}
	return runtime.NewRestoreHarness(appID, bootstrap, log, l, opts...)
}

// StartStandbyForTest opens standby task id, as Run would.
func (a *App) StartStandbyForTest(id processor.TaskID) error { return a.r.StartStandbyForTest(id) }

// TailStandbysForTest runs one turn of standby tailing, as the poll loop does.
func (a *App) TailStandbysForTest() error { return a.r.TailStandbysForTest() }

// StopStandbysForTest closes what StartStandbyForTest opened.
func (a *App) StopStandbysForTest() { a.r.StopStandbysForTest() }

// StandbyPositionsForTest returns the standby tasks this member keeps and
// how far each is.
func (a *App) StandbyPositionsForTest() map[processor.TaskID]int64 {
	return a.r.StandbyPositionsForTest()
}
