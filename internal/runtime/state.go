package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streams/samsa/changelog"
	"github.com/samsa-streams/samsa/internal/engine"
	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/topology"
)

// RestoreProgress reports the restore of one store of one task.
type RestoreProgress struct {
	Task  processor.TaskID
	Store string
	Topic string
	// Done counts the changelog records applied to the store so far
	// (transaction markers and compacted-away offsets are not records);
	// ToGo the offsets left to the last stable offset listed when the
	// restore started (0 once past it).
	Done, ToGo int64
	// Rate is records applied per second so far; ETA the time left at
	// the rate offsets were read so far.
	Rate float64
	ETA  time.Duration
	// Finished is true on the last report of a store.
	Finished bool
}

// storeProvider opens a task's stores in the App's state engine, wiping
// unusable local state (never locked state), with the hook that appends the
// writes of logged stores to their changelogs.
type storeProvider struct{ a *App }

// Open implements engine.StoreProvider.
func (p storeProvider) Open(task processor.TaskID, def *engine.StoreDef) (engine.Opened, error) {
	s, err := p.a.stateEngine.OpenOrWipe(task, def.Name, p.a.log)
	if err != nil {
		return engine.Opened{}, err
	}
	p.a.hookChangelog(task, def, s)
	return engine.Lay(def, s, s.Windows, s.Sessions), nil
}

// newStoreProvider returns the App's store provider.
func (a *App) newStoreProvider() engine.StoreProvider { return storeProvider{a} }

// hookChangelog makes a logged store append its writes to its changelog
// partition, the task's partition number.
func (a *App) hookChangelog(task processor.TaskID, def *engine.StoreDef, s *changelog.Store) {
	if !def.Logged {
		return
	}
	topic := topology.ChangelogTopic(a.cfg.ApplicationID, def.Name)
	partition := task.Partition
	out := a.out
	s.OnWrite = func(k, v []byte) {
		out.produceAck(topic, partition, k, v, s.AckOffset)
	}
}

// internalTopic is a topic samsa creates and validates.
type internalTopic struct {
	partitions int32
	policy     string // cleanup.policy
	retention  time.Duration
	store      string // the store of a changelog topic
	// repartition marks a repartition topic: kept without retention
	// (only the purge of committed records deletes them).
	repartition bool
}

// repartitionConfigs are the configs of the repartition topics samsa
// creates, Kafka Streams': delete, never compact; no retention in time or
// size, so that only the purge of committed records removes data, never a
// record not yet processed; 50 MiB segments, so that purged records leave
// the disk (the broker deletes a segment once the log start offset passed
// it, never the active one).
var repartitionConfigs = map[string]string{
	"cleanup.policy":  "delete",
	"retention.ms":    "-1",
	"retention.bytes": "-1",
	"segment.bytes":   "52428800",
}

// repartitionUnbounded lists the configs of an existing repartition topic
// that must be -1 (unbounded): samsa sets them if they are not.
var repartitionUnbounded = []string{"retention.ms", "retention.bytes"}

// internalTopics returns the repartition and changelog topics the topology
// needs. A repartition topic gets the partition count of the input of the
// sub-topology that writes it, or of the other inputs of the sub-topology
// that reads it (engine.Graph.RepartitionPartitions); a changelog that of
// its store's sub-topology.
// parts receives the repartition topics' counts.
func (a *App) internalTopics(parts map[string]int32) map[string]internalTopic {
	out := map[string]internalTopic{}
	a.g.RepartitionPartitions(a.subs, parts, func(string) int32 { return 0 })
	for _, n := range a.g.Nodes {
		if n.Internal != "" && n.Kind == engine.KindSink {
			out[n.Topic] = internalTopic{partitions: parts[n.Topic], policy: "delete", repartition: true}
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

// ensureInternalTopics creates missing internal topics, with
// Config.InternalTopicConfigs over samsa's own configs, and validates
// existing ones: partition count and cleanup policy; for a window store's
// changelog, retention.ms at least the store's retention plus a day and
// no retention.bytes; for a repartition topic, no retention (set to -1).
func (a *App) ensureInternalTopics(ctx context.Context, cl *kgo.Client, parts map[string]int32) error {
	adm := kadm.NewClient(cl)
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
		return fmt.Errorf("samsa: list internal topics %s: %w", strings.Join(names, ", "), err)
	}
	rf := a.cfg.ReplicationFactor
	if rf == 0 {
		md, err := adm.BrokerMetadata(ctx)
		if err != nil {
			return fmt.Errorf("samsa: broker metadata (to choose the replication factor of internal topics; Config.ReplicationFactor sets it): %w", err)
		}
		rf = int16(min(3, len(md.Brokers)))
	}
	var errs []error
	var existing []string
	for _, t := range names {
		w := want[t]
		kind := "changelog topic"
		if w.repartition {
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
			errs = append(errs, fmt.Errorf("%w: %s %q does not exist but local state does in %s: it was deleted: reset the application (samsa reset --application-id %s --state-dir %s deletes the local state with the other internal topics and rewinds the input; the state would otherwise be restored from a changelog that no longer holds it), or recreate the topic from a backup", ErrInternalTopic, kind, t, a.cfg.StateDir, a.cfg.ApplicationID, a.cfg.StateDir))
			continue
		}
		policy := w.policy
		configs := map[string]*string{"cleanup.policy": &policy}
		if w.retention > 0 {
			ms := strconv.FormatInt(w.retention.Milliseconds(), 10)
			configs["retention.ms"] = &ms
		}
		if w.repartition {
			for k, v := range repartitionConfigs {
				configs[k] = &v
			}
		}
		// The user's configs last: they win over samsa's defaults (the
		// settings samsa needs were refused by samsa.New).
		for k, v := range a.cfg.InternalTopicConfigs {
			configs[k] = &v
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
			return fmt.Errorf("samsa: describe the configs of internal topics %s: %w", strings.Join(existing, ", "), err)
		}
		for _, r := range rc {
			w := want[r.Name]
			if r.Err != nil {
				errs = append(errs, fmt.Errorf("%w: describe the configs of %q: %w", ErrInternalTopic, r.Name, r.Err))
				continue
			}
			var unbounded []kadm.AlterConfig
			for _, c := range r.Configs {
				if c.Value == nil {
					continue
				}
				switch {
				case c.Key == "cleanup.policy" && w.repartition && !samePolicy(*c.Value, w.policy):
					errs = append(errs, fmt.Errorf("%w: repartition topic %q has cleanup.policy=%s, want delete: compaction would drop records not yet processed (samsa purges the committed ones itself)", ErrInternalTopic, r.Name, *c.Value))
				case c.Key == "cleanup.policy" && !samePolicy(*c.Value, w.policy):
					why := "a changelog is compacted: the broker must keep the last value of every key, the state restored from it"
					if w.retention > 0 {
						why = "a window store's changelog is compacted and deleted past the window retention plus a day"
					}
					errs = append(errs, fmt.Errorf("%w: changelog topic %q has cleanup.policy=%s, want %s: %s", ErrInternalTopic, r.Name, *c.Value, w.policy, why))
				case c.Key == "retention.ms" && w.retention > 0 && retentionBelow(*c.Value, w.retention):
					errs = append(errs, fmt.Errorf("%w: changelog topic %q has retention.ms=%s, want at least %d (the window store's retention plus a day): the broker would delete windows the store still holds", ErrInternalTopic, r.Name, *c.Value, w.retention.Milliseconds()))
				case c.Key == "retention.bytes" && w.retention > 0 && *c.Value != "-1":
					errs = append(errs, fmt.Errorf("%w: changelog topic %q has retention.bytes=%s, want -1: the broker would delete windows the store still holds", ErrInternalTopic, r.Name, *c.Value))
				case w.repartition && slices.Contains(repartitionUnbounded, c.Key) && *c.Value != "-1":
					unbounded = append(unbounded, kadm.AlterConfig{Op: kadm.SetConfig, Name: c.Key, Value: new("-1")})
					a.log.Warn("repartition topic has a retention: setting it to -1, so that only the purge of committed records deletes them",
						"topic", r.Name, "config", c.Key, "was", *c.Value)
				}
			}
			if len(unbounded) > 0 {
				if err := alterTopicConfigs(ctx, adm, r.Name, unbounded); err != nil {
					errs = append(errs, fmt.Errorf("%w: repartition topic %q has a retention that would delete records not yet processed, and setting it to -1 failed: %w", ErrInternalTopic, r.Name, err))
				}
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	// Wait until every new topic has leaders.
	for {
		if ready, err := haveLeaders(ctx, cl, names); err == nil && ready {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("samsa: internal topics have no leaders yet: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// haveLeaders reports whether every partition of every topic has a leader.
// It asks a broker directly: kgo answers a metadata request issued through
// the client from its cache for up to MetadataMinAge (5 s), so a topic just
// created would show without leaders for that long (issue: a fresh
// application's first output took over 5 s).
func haveLeaders(ctx context.Context, cl *kgo.Client, names []string) (bool, error) {
	brokers := cl.DiscoveredBrokers()
	if len(brokers) == 0 {
		return false, errors.New("no broker discovered yet")
	}
	req := kmsg.NewPtrMetadataRequest()
	for _, n := range names {
		t := kmsg.NewMetadataRequestTopic()
		t.Topic = kmsg.StringPtr(n)
		req.Topics = append(req.Topics, t)
	}
	resp, err := req.RequestWith(ctx, brokers[0])
	if err != nil {
		return false, err
	}
	seen := 0
	for _, t := range resp.Topics {
		if t.ErrorCode != 0 || len(t.Partitions) == 0 {
			return false, nil
		}
		for _, p := range t.Partitions {
			if p.ErrorCode != 0 || p.Leader < 0 {
				return false, nil
			}
		}
		seen++
	}
	return seen == len(names), nil
}

// alterTopicConfigs sets configs of a topic, incrementally.
func alterTopicConfigs(ctx context.Context, adm *kadm.Client, topic string, configs []kadm.AlterConfig) error {
	resps, err := adm.AlterTopicConfigs(ctx, configs, topic)
	if err != nil {
		return err
	}
	for _, r := range resps {
		if r.Err != nil {
			names := make([]string, len(configs))
			for i, c := range configs {
				names[i] = c.Name
			}
			return fmt.Errorf("set %s: %w", strings.Join(names, ", "), r.Err)
		}
	}
	return nil
}

// retentionBelow reports whether a topic's retention.ms is set and below
// want (-1 is unbounded).
func retentionBelow(got string, want time.Duration) bool {
	ms, err := strconv.ParseInt(got, 10, 64)
	return err == nil && ms >= 0 && ms < want.Milliseconds()
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
// checkpoints to the last stable offset, in bounded batches, with the
// changelog reader. With a non-zero until, it stops at the first batch past
// that time and returns changelog.ErrTurnOver: the state updater then gives
// other tasks their turn and comes back (the checkpoints keep the
// position). progress carries each store's figures from one turn to the
// next; nil starts afresh.
func (a *App) restore(ctx context.Context, t *engine.Task, until time.Time, progress map[string]*changelog.RestoreTurns) error {
	for name, rs := range t.RawStores() {
		if !a.g.Stores[name].Logged {
			continue
		}
		s, ok := rs.(*changelog.Store)
		if !ok {
			continue
		}
		turns := progress[name]
		if turns == nil {
			turns = &changelog.RestoreTurns{}
			if progress != nil {
				progress[name] = turns
			}
		}
		if err := a.restoreStore(ctx, t.ID, name, s, until, turns); err != nil {
			if errors.Is(err, changelog.ErrTurnOver) {
				return err
			}
			return fmt.Errorf("task %s: restore store %q: %w", t.ID, name, err)
		}
	}
	return nil
}

// restoreStore replays a store's changelog partition with the changelog
// reader (changelog.Reader.Restore: from its checkpoint to the last stable
// offset, until the turn ends), reporting the progress to the listener, the
// metrics and the log. A changelog topic deleted during the restore is an
// ErrInternalTopic. turns may be nil (a fresh restore).
func (a *App) restoreStore(ctx context.Context, id processor.TaskID, name string, s *changelog.Store, until time.Time, turns *changelog.RestoreTurns) error {
	topic := topology.ChangelogTopic(a.cfg.ApplicationID, name)
	err := a.reader.Restore(ctx, s, topic, id.Partition, until, turns, func(p changelog.RestoreProgress, log bool) {
		a.reportRestore(RestoreProgress{Task: id, Store: name, Topic: topic,
			Done: p.Done, ToGo: p.ToGo, Rate: p.Rate, ETA: p.ETA, Finished: p.Finished}, log)
	})
	return internalTopicGone(err)
}

// internalTopicGone makes the error of a restore whose changelog topic was
// deleted or recreated (changelog.ErrTopicGone) an ErrInternalTopic; other
// errors are returned as they are.
func internalTopicGone(err error) error {
	if errors.Is(err, changelog.ErrTopicGone) {
		return fmt.Errorf("%w: %w", ErrInternalTopic, err)
	}
	return err
}

// newReader returns the changelog reader over cl (the changelog client,
// which the App closes itself): restored records count in App.Restored, and
// every apply to the standby stores updates their positions.
func (a *App) newReader(cl *kgo.Client) *changelog.Reader {
	r := changelog.NewReader(cl, a.log)
	r.OnRestored = func(n int64) { a.restored.Add(n) }
	r.OnApplied = func() { a.updateStandbyPositions(r) }
	return r
}

// reportRestore tells the listener of a restore's progress, and logs it.
// App.Restored counts the records as they are applied, not here.
func (a *App) reportRestore(p RestoreProgress, log bool) {
	if log {
		a.log.Info("restoring", "task", p.Task.String(), "store", p.Store, "done", p.Done, "to_go", p.ToGo,
			"rate_per_s", int64(p.Rate), "eta", p.ETA.Round(time.Millisecond), "finished", p.Finished)
	}
	if a.metrics != nil {
		a.metrics.Restore(p.Task.String(), p.Store, p.Done, p.ToGo)
	}
	if a.cfg.RestoreListener != nil {
		a.cfg.RestoreListener(p)
	}
}

// purgeTimeout bounds one purge of committed repartition records.
const purgeTimeout = 30 * time.Second

// purgeWarnEvery rate-limits the warnings of failed purges.
const purgeWarnEvery = time.Minute

// repartitionSource reports whether a source topic is a repartition topic.
func (a *App) repartitionSource(topic string) bool {
	for _, n := range a.g.Nodes {
		if n.Kind == engine.KindSource && n.Internal != "" && slices.Contains(n.Topics, topic) {
			return true
		}
	}
	return false
}

// purgeCommitted deletes the records of the repartition partitions of the
// active tasks below the offsets the group committed for them, as Kafka
// Streams does after a commit: a repartition topic then holds only the
// records not processed yet (samsa creates it without retention). It
// runs after a commit that Kafka confirmed, below the highest offsets this
// instance's confirmed commits carried (noteCommitted; at or below what
// Kafka holds: under exactly-once the transaction commits every record
// polled, all processed by then): a record is deleted only once no owner
// of its partition can need it again. It does not read the client's own
// record of committed offsets, which under exactly-once could run ahead of
// Kafka's (a repartition record was purged above the group's committed
// offset in a CI run).
//
// At most one purge runs at a time and at most one starts per
// RepartitionPurgeInterval; the DeleteRecords request (one for all the
// partitions) runs on its own goroutine, bounded by purgeTimeout, so that
// processing never waits for it. A failure is logged, rate-limited, and
// the next purge tries again. a.mu must be held.
func (a *App) purgeCommitted() {
	if a.runCtx == nil || a.runCtx.Err() != nil || a.cl == nil {
		return // shutting down: the clients close
	}
	if time.Since(a.lastPurge) < a.cfg.RepartitionPurgeInterval || a.purging.Load() {
		return
	}
	var del kadm.Offsets
	a.purgeMu.Lock()
	for id := range a.tasks {
		for _, topic := range a.subs[id.Subtopology].SourceTopics {
			if !a.repartitionSource(topic) {
				continue
			}
			off, ok := a.committedOffs[topic][id.Partition]
			if !ok || off <= 0 || off <= a.purged[topic][id.Partition] {
				continue
			}
			del.Add(kadm.Offset{Topic: topic, Partition: id.Partition, At: off, LeaderEpoch: -1})
		}
	}
	a.purgeMu.Unlock()
	if len(del) == 0 {
		return
	}
	a.lastPurge = time.Now()
	a.purging.Store(true)
	adm := kadm.NewClient(a.cl)
	ctx := a.runCtx
	a.purges.Add(1)
	go func() {
		defer a.purges.Done()
		defer a.purging.Store(false)
		ctx, cancel := context.WithTimeout(ctx, purgeTimeout)
		defer cancel()
		a.deleteRecords(ctx, adm, del)
	}()
}

// deleteRecords sends one DeleteRecords request for the committed offsets
// of the repartition partitions, notes what was purged and logs failures.
// It runs on the purge goroutine.
func (a *App) deleteRecords(ctx context.Context, adm *kadm.Client, del kadm.Offsets) {
	began := time.Now()
	resps, err := adm.DeleteRecords(ctx, del)
	var failed []error
	if err != nil {
		failed = append(failed, err)
	}
	purged := 0
	a.purgeMu.Lock()
	for _, ps := range resps {
		for _, r := range ps {
			if r.Err != nil {
				failed = append(failed, fmt.Errorf("topic %q partition %d: %w", r.Topic, r.Partition, r.Err))
				continue
			}
			if a.purged == nil {
				a.purged = map[string]map[int32]int64{}
			}
			if a.purged[r.Topic] == nil {
				a.purged[r.Topic] = map[int32]int64{}
			}
			a.purged[r.Topic][r.Partition] = max(a.purged[r.Topic][r.Partition], del[r.Topic][r.Partition].At)
			purged++
		}
	}
	a.purgeMu.Unlock()
	if len(failed) == 0 {
		a.log.Debug("purged committed repartition records", "partitions", purged, "took", time.Since(began))
		return
	}
	err = errors.Join(failed...)
	if errors.Is(err, kgo.ErrClientClosed) || (ctx.Err() != nil && a.runCtx.Err() != nil) {
		return // shutting down or rebuilding the client
	}
	if now := time.Now(); now.Sub(a.lastPurgeWarn) >= purgeWarnEvery {
		a.lastPurgeWarn = now
		a.log.Warn("purging committed repartition records failed: the next purge tries again", "partitions", len(failed), "err", err)
	} else {
		a.log.Debug("purging committed repartition records failed", "err", err)
	}
}
