package runtime

// This file runs the global stores (topology.GlobalTableOf), as Kafka
// Streams' global state: each holds every partition of its topic, is
// rebuilt in memory from the topic at every start before the group is
// joined, and is kept up to date by a reader goroutine whose fetches the
// poll loop applies before it processes each batch.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa/changelog"
	"github.com/samsa-streams/samsa/internal/engine"
	"github.com/samsa-streams/samsa/internal/retry"
	"github.com/samsa-streams/samsa/processor"
)

// globalTask is the task id the global stores are opened under: they
// belong to no task.
var globalTask = processor.TaskID{Subtopology: -1, Partition: -1}

// globalState holds the global stores of an App and the client that reads
// their topics. Run creates it before the first group client starts; from
// then on the stores are written only by the poll loop, under App.mu
// (updateGlobals), which is also where tasks read them.
type globalState struct {
	engine  *changelog.Engine // in memory, the global stores' own
	cl      *kgo.Client       // no group: every partition of each topic
	byTopic map[string]*globalStore
	// typed are the stores processors see, by name (TaskConfig.Globals).
	typed map[string]processor.StateStore
	// fetches carries the reader goroutine's polls to the poll loop;
	// stop ends the goroutine, which closes done.
	fetches chan kgo.Fetches
	stop    context.CancelFunc
	done    chan struct{}
}

// globalStore is one global store and the topic it is read from.
type globalStore struct {
	def *engine.GlobalDef
	raw *changelog.Store
}

// globalBatch bounds the records of one poll of the global topics (as the
// changelog reader's restore batches).
const globalBatch = 10000

// globalTopics returns the topics of the topology's global stores, sorted.
func (a *App) globalTopics() []string {
	var ts []string
	for _, gd := range a.g.Globals {
		ts = append(ts, gd.Topic)
	}
	slices.Sort(ts)
	return slices.Compact(ts)
}

// startGlobals opens the global stores, fills them from every partition of
// their topics up to the last stable offsets listed at the start, and
// starts the reader that keeps them up to date. parts has the partition
// counts of the topics (checkTopics). It returns nil when the topology has
// no global store.
func (a *App) startGlobals(ctx context.Context, parts map[string]int32) (*globalState, error) {
	if len(a.g.Globals) == 0 {
		return nil, nil
	}
	eng, err := changelog.NewEngine(changelog.Options{ApplicationID: a.cfg.ApplicationID, InMemory: true, Logger: a.log})
	if err != nil {
		return nil, fmt.Errorf("samsa: global stores: %w", err)
	}
	gs := &globalState{engine: eng, byTopic: map[string]*globalStore{}, typed: map[string]processor.StateStore{}}
	consume := map[string]map[int32]kgo.Offset{}
	for _, name := range slices.Sorted(maps.Keys(a.g.Globals)) {
		def := a.g.Globals[name]
		raw, err := eng.Open(globalTask, name)
		if err != nil {
			_ = eng.Close()
			return nil, fmt.Errorf("samsa: global store %q: %w", name, err)
		}
		gs.byTopic[def.Topic] = &globalStore{def: def, raw: raw}
		gs.typed[name] = def.Wrap(raw)
		consume[def.Topic] = map[int32]kgo.Offset{}
		for p := range parts[def.Topic] {
			consume[def.Topic][p] = kgo.NewOffset().AtStart()
		}
	}
	// Read committed records only, whatever the guarantee (as the poll
	// loop reads its sources); transaction markers are kept so that a
	// partition ending with one is seen as read to its end.
	// Built by newClient like every client of the App: TLS and SASL too.
	gs.cl, err = a.newClient(append([]kgo.Opt{
		kgo.ConsumePartitions(consume),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(500 * time.Millisecond),
	}, a.fetchOpts()...)...)
	if err != nil {
		_ = eng.Close()
		return nil, fmt.Errorf("%w: kafka client of the global stores: %w", ErrConfig, err)
	}
	if err := a.restoreGlobals(ctx, gs); err != nil {
		gs.cl.Close()
		_ = eng.Close()
		return nil, err
	}
	rctx, stop := context.WithCancel(ctx)
	gs.fetches, gs.stop, gs.done = make(chan kgo.Fetches, 4), stop, make(chan struct{})
	go gs.read(rctx)
	return gs, nil
}

// read polls the global topics until ctx ends or the client closes and
// hands the fetches to the poll loop; a full channel holds it back.
func (gs *globalState) read(ctx context.Context) {
	defer close(gs.done)
	for {
		fs := gs.cl.PollRecords(ctx, globalBatch)
		if fs.IsClientClosed() || ctx.Err() != nil {
			return
		}
		select {
		case gs.fetches <- fs:
		case <-ctx.Done():
			return
		}
	}
}

// close stops the reader, closes the client and drops the stores.
func (gs *globalState) close() {
	if gs == nil {
		return
	}
	gs.stop()
	gs.cl.Close()
	<-gs.done
	_ = gs.engine.Close()
}

// stores returns the typed global stores by name, for TaskConfig.Globals
// (nil without global stores).
func (gs *globalState) stores() map[string]processor.StateStore {
	if gs == nil {
		return nil
	}
	return gs.typed
}

// restoreGlobals reads every partition of the global topics from the start
// to the last stable offset listed before reading (a read_committed
// ListOffsets), applying each record to its store. A fetch that fails is
// retried with backoff; no progress for TaskTimeout fails the restore.
func (a *App) restoreGlobals(ctx context.Context, gs *globalState) error {
	topics := slices.Sorted(maps.Keys(gs.byTopic))
	target, pos, err := a.globalOffsets(ctx, gs.cl, topics)
	if err != nil {
		return err
	}
	left := func() (n int64) {
		for t, ps := range target {
			for p, end := range ps {
				n += max(end-pos[t][p], 0)
			}
		}
		return n
	}
	began, lastLog, lastProgress := time.Now(), time.Now(), time.Now()
	var applied int64
	a.log.Info("restoring global stores", "topics", topics, "offsets", left())
	for failures := 0; left() > 0; {
		// Bounded polls: a restore that makes no progress fails after
		// TaskTimeout instead of waiting forever.
		pctx, cancel := context.WithTimeout(ctx, min(a.cfg.TaskTimeout, 5*time.Second))
		fs := gs.cl.PollRecords(pctx, globalBatch)
		cancel()
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := a.applyGlobal(gs, fs, pos)
		applied += n
		if err != nil {
			return err
		}
		var fetchErr error
		for _, fe := range fs.Errors() {
			if errors.Is(fe.Err, kgo.ErrClientClosed) {
				return fmt.Errorf("samsa: restore global topic %q: %w", fe.Topic, fe.Err)
			}
			if !errors.Is(fe.Err, context.Canceled) && !errors.Is(fe.Err, context.DeadlineExceeded) {
				fetchErr = fmt.Errorf("samsa: fetch global topic %q partition %d: %w", fe.Topic, fe.Partition, fe.Err)
			}
		}
		if fs.NumRecords() > 0 {
			failures, lastProgress = 0, time.Now()
		}
		if time.Since(lastProgress) > a.cfg.TaskTimeout {
			return fmt.Errorf("samsa: restore of the global stores (topics %v) made no progress for %s (Config.TaskTimeout), %d offsets left: %w",
				topics, a.cfg.TaskTimeout, left(), errors.Join(fetchErr, context.DeadlineExceeded))
		}
		if fetchErr != nil {
			failures++
			d := retry.Backoff(failures)
			a.log.Warn("global restore: fetch failed: retrying", "attempt", failures, "backoff", d, "err", fetchErr)
			if err := retry.Sleep(ctx, d); err != nil {
				return err
			}
		}
		if time.Since(lastLog) >= 3*time.Second {
			lastLog = time.Now()
			a.log.Info("restoring global stores", "topics", topics, "done", applied, "to_go", left())
		}
	}
	a.restored.Add(applied)
	a.log.Info("global stores restored", "topics", topics, "records", applied, "took", time.Since(began).Round(time.Millisecond))
	return nil
}

// globalOffsets lists the last stable offset (the restore's target) and
// the log start offset (where it starts) of every partition of the
// topics, retrying failed listings with backoff up to TaskTimeout.
func (a *App) globalOffsets(ctx context.Context, cl *kgo.Client, topics []string) (target, start map[string]map[int32]int64, err error) {
	adm := kadm.NewClient(cl)
	list := func() (target, start map[string]map[int32]int64, err error) {
		// On a read_committed client, ListCommittedOffsets asks for
		// the last stable offset.
		ends, err := adm.ListCommittedOffsets(ctx, topics...)
		if err == nil {
			err = ends.Error()
		}
		if err != nil {
			return nil, nil, fmt.Errorf("end offsets of global topics %v: %w", topics, err)
		}
		starts, err := adm.ListStartOffsets(ctx, topics...)
		if err == nil {
			err = starts.Error()
		}
		if err != nil {
			return nil, nil, fmt.Errorf("start offsets of global topics %v: %w", topics, err)
		}
		target, start = map[string]map[int32]int64{}, map[string]map[int32]int64{}
		for _, t := range topics {
			target[t], start[t] = map[int32]int64{}, map[int32]int64{}
		}
		ends.Each(func(o kadm.ListedOffset) { target[o.Topic][o.Partition] = o.Offset })
		starts.Each(func(o kadm.ListedOffset) { start[o.Topic][o.Partition] = o.Offset })
		return target, start, nil
	}
	deadline := time.Now().Add(a.cfg.TaskTimeout)
	for attempt := 1; ; attempt++ {
		target, start, err = list()
		if err == nil || ctx.Err() != nil || time.Now().After(deadline) {
			if err != nil {
				err = fmt.Errorf("samsa: restore global stores: %w", err)
			}
			return target, start, err
		}
		d := retry.Backoff(attempt)
		a.log.Warn("global restore: listing offsets failed: retrying", "attempt", attempt, "backoff", d, "err", err)
		if err := retry.Sleep(ctx, d); err != nil {
			return nil, nil, err
		}
	}
}

// applyGlobal applies the records of fs to their global stores and moves
// pos (next offset by topic and partition, when not nil) past every record
// read, transaction markers included. A record the store's update rejects
// (its serdes cannot read it) fails, unless the deserialization policy is
// Skip or DeadLetter: it is then skipped (counted by Skipped; global
// records are never dead-lettered). It returns the records applied.
func (a *App) applyGlobal(gs *globalState, fs kgo.Fetches, pos map[string]map[int32]int64) (int64, error) {
	var applied int64
	var err error
	touched := map[*globalStore]bool{}
	fs.EachRecord(func(r *kgo.Record) {
		if err != nil {
			return
		}
		if pos != nil {
			pos[r.Topic][r.Partition] = max(pos[r.Topic][r.Partition], r.Offset+1)
		}
		s, ok := gs.byTopic[r.Topic]
		if !ok || r.Attrs.IsControl() {
			return
		}
		touched[s] = true
		if uerr := s.def.Update(s.raw, r.Key, r.Value, r.Timestamp); uerr != nil {
			uerr = fmt.Errorf("samsa: global store %q, record at %q partition %d offset %d: %w", s.def.Name, r.Topic, r.Partition, r.Offset, uerr)
			if a.cfg.Errors.decide(engine.ErrorDeserialization) == engine.Fail {
				err = uerr
				return
			}
			a.skipped.Add(1)
			a.log.Warn("skipping a record of a global topic", "store", s.def.Name, "err", uerr)
			return
		}
		applied++
	})
	for s := range touched {
		if ferr := s.raw.Flush(); ferr != nil {
			err = errors.Join(err, fmt.Errorf("samsa: global store %q: commit: %w", s.def.Name, ferr))
		}
	}
	return applied, err
}

// updateGlobals applies what the reader fetched since the last batch to
// the global stores, before the tasks process: a.mu must be held (the
// tasks read the stores under it).
func (a *App) updateGlobals() error {
	gs := a.globals
	if gs == nil {
		return nil
	}
	for range len(gs.fetches) {
		fs := <-gs.fetches
		for _, fe := range fs.Errors() {
			if errors.Is(fe.Err, context.Canceled) || errors.Is(fe.Err, context.DeadlineExceeded) {
				continue
			}
			a.log.Warn("global topic fetch error", "topic", fe.Topic, "partition", fe.Partition, "err", fe.Err)
		}
		if _, err := a.applyGlobal(gs, fs, nil); err != nil {
			return err
		}
	}
	return nil
}
