package samsa

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa/changelog"
	"github.com/samsa-streams/samsa/internal/engine"
	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/topology"
)

// ErrInternalTopic is wrapped when a changelog or repartition topic is
// missing or misconfigured.
var ErrInternalTopic = errors.New("samsa: internal topic")

// RestoreProgress reports the restore of one store of one task.
type RestoreProgress struct {
	Task  processor.TaskID
	Store string
	Topic string
	// Done counts the changelog records restored; ToGo the offsets left
	// to the end (transaction markers included).
	Done, ToGo int64
	// Rate is records per second so far; ETA the time left at that rate.
	Rate float64
	ETA  time.Duration
	// Finished is true on the last report of a store.
	Finished bool
}

// newStoreProvider returns the App's store provider: changelog.Provider
// (which wipes unusable local state, never locked state) with the hook
// that appends the writes of logged stores to their changelogs.
func (a *App) newStoreProvider() *changelog.Provider {
	return &changelog.Provider{Engine: a.stateEngine, Logger: a.log, OnOpen: a.hookChangelog}
}

// hookChangelog makes a logged store append its writes to its changelog
// partition, the task's partition number.
func (a *App) hookChangelog(task processor.TaskID, def *engine.StoreDef, s *changelog.Store) error {
	if !def.Logged {
		return nil
	}
	topic := topology.ChangelogTopic(a.cfg.ApplicationID, def.Name)
	partition := task.Partition
	out := a.out
	s.OnWrite = func(k, v []byte) {
		out.produceAck(topic, partition, k, v, s.AckOffset)
	}
	return nil
}

// storeProvider adapts the literal app.go builds to changelog.Provider;
// app.go can use a.newStoreProvider() directly instead.
type storeProvider struct {
	a *App
	e *changelog.Engine
}

func (p *storeProvider) Open(task processor.TaskID, def *engine.StoreDef) (engine.RawStore, error) {
	cp := p.a.newStoreProvider()
	cp.Engine = p.e
	return cp.Open(task, def)
}

// internalTopic is a topic samsa creates and validates.
type internalTopic struct {
	partitions int32
	policy     string // cleanup.policy
	retention  time.Duration
	store      string // the store of a changelog topic
}

// internalTopics returns the repartition and changelog topics the topology
// needs. A repartition topic gets the partition count of the input of the
// sub-topology that writes it; a changelog that of its store's sub-topology.
// parts receives the repartition topics' counts.
func (a *App) internalTopics(parts map[string]int32) map[string]internalTopic {
	out := map[string]internalTopic{}
	a.g.RepartitionPartitions(a.subs, parts, func(string) int32 { return 0 })
	for _, n := range a.g.Nodes {
		if n.Internal != "" && n.Kind == engine.KindSink {
			out[n.Topic] = internalTopic{partitions: parts[n.Topic], policy: "delete"}
		}
	}
	for _, st := range a.subs {
		var n int32
		for _, t := range st.SourceTopics {
			n = max(n, parts[t])
		}
		for _, name := range st.Stores {
			def := a.g.Stores[name]
			if !def.Logged {
				continue
			}
			it := internalTopic{partitions: n, policy: "compact", store: name}
			if def.Retention > 0 {
				// As Kafka Streams: the window retention plus a day.
				it.policy, it.retention = "compact,delete", def.Retention+24*time.Hour
			}
			out[topology.ChangelogTopic(a.cfg.ApplicationID, name)] = it
		}
	}
	return out
}

// ensureInternalTopics creates missing internal topics and validates
// existing ones: partition count and cleanup policy.
func (a *App) ensureInternalTopics(ctx context.Context, adm *kadm.Client, parts map[string]int32) error {
	want := a.internalTopics(parts)
	if len(want) == 0 {
		return nil
	}
	names := make([]string, 0, len(want))
	for t := range want {
		names = append(names, t)
	}
	sort.Strings(names)
	td, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return fmt.Errorf("samsa: list internal topics: %w", err)
	}
	rf := a.cfg.ReplicationFactor
	if rf == 0 {
		md, err := adm.BrokerMetadata(ctx)
		if err != nil {
			return fmt.Errorf("samsa: broker metadata: %w", err)
		}
		rf = int16(min(3, len(md.Brokers)))
	}
	var errs []error
	var existing []string
	for _, t := range names {
		w := want[t]
		kind := "changelog topic"
		if w.policy == "delete" {
			kind = "repartition topic"
		}
		d, ok := td[t]
		if ok && d.Err == nil {
			existing = append(existing, t)
			if got := int32(len(d.Partitions)); got != w.partitions {
				errs = append(errs, fmt.Errorf("%w: %s %q has %d partitions, the topology needs %d", ErrInternalTopic, kind, t, got, w.partitions))
			}
			continue
		}
		// A new store starts empty with a new changelog; a store that has
		// local state but no changelog lost it.
		if w.store != "" && a.stateEngine.HasStoreState(w.store) {
			errs = append(errs, fmt.Errorf("%w: %s %q does not exist but local state does in %s: it was deleted; reset the application (samsa reset) or delete the state directory", ErrInternalTopic, kind, t, a.cfg.StateDir))
			continue
		}
		policy := w.policy
		configs := map[string]*string{"cleanup.policy": &policy}
		if w.retention > 0 {
			ms := strconv.FormatInt(w.retention.Milliseconds(), 10)
			configs["retention.ms"] = &ms
		}
		resp, err := adm.CreateTopic(ctx, w.partitions, rf, configs, t)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			errs = append(errs, fmt.Errorf("%w: %s %q: create: %w", ErrInternalTopic, kind, t, err))
			continue
		}
		a.log.Info("created internal topic", "topic", t, "partitions", w.partitions, "replication", rf, "cleanup.policy", policy)
	}
	if len(existing) > 0 {
		rc, err := adm.DescribeTopicConfigs(ctx, existing...)
		if err != nil {
			return fmt.Errorf("samsa: describe internal topics: %w", err)
		}
		for _, r := range rc {
			for _, c := range r.Configs {
				if c.Key == "cleanup.policy" && c.Value != nil && !samePolicy(*c.Value, want[r.Name].policy) {
					errs = append(errs, fmt.Errorf("%w: %q has cleanup.policy=%s, want %s", ErrInternalTopic, r.Name, *c.Value, want[r.Name].policy))
				}
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	// Wait until every new topic has leaders.
	for {
		td, err := adm.ListTopics(ctx, names...)
		if err == nil {
			ready := true
			for _, t := range names {
				d, ok := td[t]
				if !ok || d.Err != nil || len(d.Partitions) == 0 {
					ready = false
					break
				}
				for _, p := range d.Partitions {
					if p.Leader < 0 {
						ready = false
					}
				}
			}
			if ready {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("samsa: internal topics have no leaders yet: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// samePolicy compares cleanup policies as sets: "delete,compact" is
// "compact,delete".
func samePolicy(got, want string) bool {
	set := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, p := range strings.Split(s, ",") {
			m[strings.TrimSpace(p)] = true
		}
		return m
	}
	g, w := set(got), set(want)
	if len(g) != len(w) {
		return false
	}
	for p := range w {
		if !g[p] {
			return false
		}
	}
	return true
}

// restore replays the changelogs of a task's logged stores from their
// checkpoints to the last stable offset, in bounded batches.
func (a *App) restore(ctx context.Context, t *engine.Task) error {
	for name, rs := range t.RawStores() {
		if !a.g.Stores[name].Logged {
			continue
		}
		s, ok := rs.(*changelog.Store)
		if !ok {
			continue
		}
		if err := a.restoreStore(ctx, t.ID, name, s); err != nil {
			return fmt.Errorf("task %s: restore store %q: %w", t.ID, name, err)
		}
	}
	return nil
}

const restoreBatch = 10000

func (a *App) restoreStore(ctx context.Context, id processor.TaskID, name string, s *changelog.Store) error {
	topic := topology.ChangelogTopic(a.cfg.ApplicationID, name)
	start, ok, err := s.Checkpoint()
	if err != nil {
		return err
	}
	if !ok {
		start = 0
	}
	adm := kadm.NewClient(a.restoreCl)
	ends, err := adm.ListCommittedOffsets(ctx, topic) // the last stable offset
	if err != nil {
		return fmt.Errorf("end offset of %q: %w", topic, err)
	}
	lo, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return fmt.Errorf("start offset of %q: %w", topic, err)
	}
	end, found := ends.Lookup(topic, id.Partition)
	if !found || end.Err != nil {
		return fmt.Errorf("end offset of %q partition %d: missing", topic, id.Partition)
	}
	if so, ok := lo.Lookup(topic, id.Partition); ok && so.Err == nil && so.Offset > start {
		start = so.Offset
	}
	target := end.Offset
	if start >= target {
		a.reportRestore(RestoreProgress{Task: id, Store: name, Topic: topic, Finished: true})
		return nil
	}
	a.restoreCl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: {id.Partition: kgo.NewOffset().At(start)}})
	defer a.restoreCl.RemoveConsumePartitions(map[string][]int32{topic: {id.Partition}})

	began := time.Now()
	lastLog := began
	pos := start
	records := int64(0)
	batch := make([]changelog.Record, 0, restoreBatch)
	flush := func() error {
		if len(batch) == 0 && pos <= start {
			return nil
		}
		if err := s.Restore(batch, pos); err != nil {
			return err
		}
		batch = batch[:0]
		return nil
	}
	for pos < target {
		fs := a.restoreCl.PollRecords(ctx, restoreBatch)
		if err := ctx.Err(); err != nil {
			return err
		}
		for _, fe := range fs.Errors() {
			return fmt.Errorf("fetch %q partition %d: %w", fe.Topic, fe.Partition, fe.Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Topic != topic || r.Partition != id.Partition || r.Offset < pos {
				return
			}
			if !r.Attrs.IsControl() && r.Offset < target {
				batch = append(batch, changelog.Record{Key: r.Key, Value: r.Value})
				records++
			}
			pos = r.Offset + 1
		})
		if len(batch) >= restoreBatch || pos >= target {
			if err := flush(); err != nil {
				return err
			}
		}
		if now := time.Now(); now.Sub(lastLog) >= 3*time.Second || pos >= target {
			lastLog = now
			rate := float64(pos-start) / max(now.Sub(began).Seconds(), 1e-3)
			p := RestoreProgress{Task: id, Store: name, Topic: topic, Done: records, ToGo: max(target-pos, 0), Rate: rate, Finished: pos >= target}
			if rate > 0 {
				p.ETA = time.Duration(float64(p.ToGo) / rate * float64(time.Second))
			}
			a.reportRestore(p)
		}
	}
	return flush()
}

func (a *App) reportRestore(p RestoreProgress) {
	if p.Done > 0 || !p.Finished {
		a.log.Info("restoring", "task", p.Task.String(), "store", p.Store, "done", p.Done, "to_go", p.ToGo,
			"rate_per_s", int64(p.Rate), "eta", p.ETA.Round(time.Millisecond), "finished", p.Finished)
	}
	a.restored.Add(p.Done * boolInt(p.Finished))
	if a.cfg.RestoreListener != nil {
		a.cfg.RestoreListener(p)
	}
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
