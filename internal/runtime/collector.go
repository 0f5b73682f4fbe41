package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa/exactlyonce"
	"github.com/samsa-streams/samsa/internal/engine"
	"github.com/samsa-streams/samsa/processor"
)

// maxPoisonRollbacks bounds the attempts in a row that end rolled back
// because a record was rejected: the records are poisoned after the first,
// so a later one means the policy cannot take effect.
const maxPoisonRollbacks = 3

// settleProduction runs at every commit, after processing and before any
// offset is committed: it flushes the producer, learns the outcome of every
// record produced since the last commit and decides each rejection by the
// production error policy. It reports rolledBack when the attempt was
// rolled back (the transaction aborted, or under at-least-once the consumer
// rewound to the committed offsets) to be processed again with the
// rejected input records poisoned; the caller then commits nothing. An
// error means nothing may be committed either.
func (a *App) settleProduction(ctx context.Context, offsets exactlyonce.Offsets) (rolledBack bool, err error) {
	o := a.out
	o.app = a
	if err := a.cl.Flush(ctx); err != nil {
		return false, fmt.Errorf("%w: flush producer: %w", exactlyonce.ErrCommitFailed, err)
	}
	fs, err := o.rejected(ctx)
	if err != nil {
		return false, err
	}
	if len(fs) == 0 {
		a.out.rollbacks = 0
		return false, nil
	}
	var fatal []error
	changelog := false
	for _, f := range fs {
		if err := a.fatalRejection(f); err != nil {
			fatal = append(fatal, err)
		}
		if f.tc != nil && f.tc.kind == kindChangelog {
			changelog = true
		}
	}
	if len(fatal) == 0 && a.out.rollbacks >= maxPoisonRollbacks {
		fatal = append(fatal, fmt.Errorf("%w: still rejected after %d attempts: %w", ErrProduction, a.out.rollbacks, a.describe(fs[0])))
	}
	eos := a.proto.Transactional()
	if len(fatal) > 0 {
		// Nothing past the rejected record may be committed: the
		// transaction is aborted here, at-least-once commits nothing.
		if eos {
			if err := a.proto.Abort(ctx, nil); err != nil {
				fatal = append(fatal, err)
			}
		}
		return false, errors.Join(fatal...)
	}
	if !eos && !changelog {
		// At-least-once: the outputs that got through stay; skip or
		// dead-letter each input record whose output was rejected, then
		// check the dead letters before the offsets are committed.
		seen := map[originKey]bool{}
		for _, f := range fs {
			k := keyOf(f.tc.origin)
			if seen[k] {
				continue
			}
			seen[k] = true
			o.divert(&poisoned{err: a.describe(f), task: a.taskOf(f.tc.origin)}, f.tc.origin)
		}
		if err := a.cl.Flush(ctx); err != nil {
			return false, fmt.Errorf("%w: flush dead letters: %w", exactlyonce.ErrCommitFailed, err)
		}
		again, err := o.rejected(ctx)
		if err != nil {
			return false, err
		}
		for _, f := range again {
			fatal = append(fatal, a.describe(f))
		}
		return false, errors.Join(fatal...)
	}
	// Roll the attempt back and process it again with the rejected input
	// records poisoned: each is processed as before, and only its outputs
	// to the topic that rejected one are dropped (skipped, or the input
	// record dead-lettered once). An input record whose changelog write
	// was rejected is handed to the policy whole, without its store
	// writes, once it is known (the write comes again).
	for _, f := range fs {
		if f.tc.kind == kindChangelog {
			o.clPoison = append(o.clPoison, changelogPoison{topic: f.rec.Topic, partition: f.rec.Partition, key: f.rec.Key, value: f.rec.Value, err: a.describe(f)})
			continue
		}
		if o.poison == nil {
			o.poison = map[originKey]*poisoned{}
		}
		o.poison[keyOf(f.tc.origin)] = &poisoned{err: a.describe(f), task: a.taskOf(f.tc.origin), topic: f.rec.Topic}
	}
	a.out.rollbacks++
	a.log.Warn("the broker rejected records: processing again from the committed offsets with their input records handed to the production policy",
		"rejected", len(fs), "policy", a.cfg.Errors.Production.String(), "first", a.describe(fs[0]))
	if err := a.proto.Abort(ctx, offsets); err != nil {
		return false, err
	}
	a.rollbackTasks()
	return true, nil
}

// fatalRejection returns the error that stops the app for a rejected
// record, or nil when the policy can take it.
func (a *App) fatalRejection(f failure) error {
	switch {
	case fenced(f.err):
		return fmt.Errorf("%w: fenced: %w", exactlyonce.ErrUnknownOutcome, a.describe(f))
	case f.tc == nil, a.cfg.Errors.Production == engine.Fail, f.tc.kind == kindDeadLetter:
		return a.describe(f)
	case f.tc.kind == kindOutput && f.tc.origin == nil:
		return a.describe(f) // a punctuator's output: no input record to skip
	case f.tc.kind == kindChangelog:
		for _, c := range a.out.clPoison {
			if c.topic == f.rec.Topic && c.partition == f.rec.Partition && string(c.key) == string(f.rec.Key) && string(c.value) == string(f.rec.Value) {
				return a.describe(f) // rejected again: written outside an input record
			}
		}
	}
	return nil
}

// describe names a rejected record: the topic and partition written, the
// store for a changelog, and the input record it was produced for.
func (a *App) describe(f failure) error {
	r := f.rec
	var what string
	switch {
	case f.tc != nil && f.tc.kind == kindChangelog:
		store := strings.TrimSuffix(strings.TrimPrefix(r.Topic, a.cfg.ApplicationID+"-"), "-changelog")
		what = fmt.Sprintf("write of store %q to changelog topic %q partition %d", store, r.Topic, r.Partition)
	case f.tc != nil && f.tc.kind == kindDeadLetter:
		what = fmt.Sprintf("dead letter to topic %q partition %d", r.Topic, r.Partition)
	default:
		what = fmt.Sprintf("produce to topic %q partition %d", r.Topic, r.Partition)
	}
	switch {
	case f.tc != nil && f.tc.origin != nil:
		in := f.tc.origin
		what += fmt.Sprintf(" for the record at topic %q partition %d offset %d", in.Topic, in.Partition, in.Offset)
	case f.tc != nil && f.tc.kind == kindOutput:
		what += " in a punctuator"
	}
	return fmt.Errorf("%w: %s: %w", ErrProduction, what, f.err)
}

// taskOf names the task that processes an input record.
func (a *App) taskOf(r *kgo.Record) string {
	return processor.TaskID{Subtopology: a.topicSub[r.Topic], Partition: r.Partition}.String()
}

// inputOf returns the input record being processed by the task that writes
// a changelog partition, and the task's name. a.mu must be held.
func (a *App) inputOf(changelog string, partition int32) (*kgo.Record, string) {
	sub, ok := a.changelogSub[changelog]
	if !ok {
		return nil, ""
	}
	id := processor.TaskID{Subtopology: sub, Partition: partition}
	t, ok := a.tasks[id]
	if !ok {
		return nil, ""
	}
	return t.Current(), id.String()
}

// rollbackTasks drops every task's uncommitted work and the collector's
// decisions of the attempt: the records are processed again from the
// committed offsets. a.mu must be held.
func (a *App) rollbackTasks() {
	a.dropQueued()
	a.out.rollback()
	a.lastCmt = time.Now()
}
