// Package exactlyonce holds samsa's commit protocols behind one interface:
// at-least-once (flush, commit offsets, then apply state) and exactly-once
// (Kafka transactions with the group metadata, KIP-447 fencing).
package exactlyonce

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The guarantees' names, as Kafka Streams spells them (processing.guarantee).
const (
	NameAtLeastOnce = "at_least_once"
	NameExactlyOnce = "exactly_once_v2"
)

// Offsets are the next offsets to commit, by topic and partition.
type Offsets = map[string]map[int32]kgo.EpochOffset

// Protocol commits what a batch of processing produced: the outputs, and
// the input offsets they consumed. The runtime applies store buffers only
// after Commit returns nil. Open returns the protocol of a guarantee with
// its client; the runtime needs no other knowledge of which one it runs.
type Protocol interface {
	// Name returns the guarantee's name as Kafka Streams spells it.
	Name() string
	// Client returns the group client the protocol commits with.
	Client() *kgo.Client
	// Transactional reports whether outputs and offsets commit together
	// (exactly-once): then a batch's outputs can be rolled back, and a
	// rebalance may only happen between transactions.
	Transactional() bool
	// Abort rolls back the work since the last commit so that it is
	// processed again from the committed offsets: exactly-once aborts the
	// transaction; at-least-once rewinds the consumer of the given
	// partitions to their committed offsets (its outputs stay written).
	Abort(ctx context.Context, partitions Offsets) error
	// Revoked is called by the polling goroutine, with no transaction
	// open, after a rebalance revoked or lost partitions; exactly-once
	// ends the session's empty transaction there (EndEmpty).
	Revoked(ctx context.Context) error
	// Begin is called before a batch is processed; under exactly-once it
	// opens a transaction if none is open.
	Begin() error
	// Open reports whether work since the last commit is pending in an
	// open transaction, which must be committed before a rebalance.
	Open() bool
	// Commit makes the outputs produced since the last commit durable and
	// commits the offsets, then calls apply, once, to make the local state
	// of the same work durable (the state engine's one synced batch for
	// every store); apply's error is returned as it is. Commit returns an
	// error wrapping ErrAborted when the work was rolled back (process it
	// again from the committed offsets; apply is not called) and
	// ErrUnknownOutcome when it cannot tell.
	Commit(ctx context.Context, offsets Offsets, apply func() error) error
}

// Open creates the group client of a guarantee with opts and returns its
// protocol: exactly-once (a GroupTransactSession: opts must carry a
// transactional id) when transactional, at-least-once otherwise.
func Open(transactional bool, opts ...kgo.Opt) (Protocol, error) {
	if !transactional {
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return nil, err
		}
		return AtLeastOnce{Cl: cl}, nil
	}
	sess, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return nil, err
	}
	return &ExactlyOnce{Session: sess}, nil
}

// Recoverable reports whether err, returned by Commit, Abort or Revoked,
// leaves the work in a state that a new client can take up from the
// committed offsets: the commit failed or its outcome is unknown. Other
// errors are fatal.
func Recoverable(err error) bool {
	return errors.Is(err, ErrUnknownOutcome) || errors.Is(err, ErrCommitFailed)
}

// ErrCommitFailed wraps a commit that was rejected; the outputs may have been
// written (at-least-once) but the offsets were not committed.
var ErrCommitFailed = errors.New("commit failed")

// ErrAborted wraps a transaction that was aborted: nothing of it is visible
// to read_committed consumers, and the consumer was rewound to the
// committed offsets.
var ErrAborted = errors.New("transaction aborted")

// ErrUnknownOutcome wraps a transaction whose end returned an error: it may
// have committed or not (franz-go #1207, #1052). The caller must rebuild
// from the committed offsets and the committed state.
var ErrUnknownOutcome = errors.New("transaction outcome unknown")

// AtLeastOnce flushes the producer, then commits offsets to the group:
// after a crash, records processed since the last commit are processed
// again, so outputs may repeat but are never lost.
type AtLeastOnce struct {
	Cl *kgo.Client
}

// Name implements Protocol.
func (AtLeastOnce) Name() string { return NameAtLeastOnce }

// Client implements Protocol.
func (p AtLeastOnce) Client() *kgo.Client { return p.Cl }

// Transactional implements Protocol: at-least-once is not.
func (AtLeastOnce) Transactional() bool { return false }

// Revoked implements Protocol; at-least-once has nothing to end.
func (AtLeastOnce) Revoked(context.Context) error { return nil }

// Abort implements Protocol: it rewinds the given partitions (see Rewind).
func (p AtLeastOnce) Abort(ctx context.Context, partitions Offsets) error {
	if len(partitions) == 0 {
		return nil
	}
	return p.Rewind(ctx, partitions)
}

// Begin implements Protocol; at-least-once has no transaction.
func (AtLeastOnce) Begin() error { return nil }

// Open implements Protocol; at-least-once has no transaction.
func (AtLeastOnce) Open() bool { return false }

// Commit implements Protocol.
func (p AtLeastOnce) Commit(ctx context.Context, offsets Offsets, apply func() error) error {
	if err := p.Cl.Flush(ctx); err != nil {
		return fmt.Errorf("%s: %w: flush producer: %w", NameAtLeastOnce, ErrCommitFailed, err)
	}
	if len(offsets) == 0 {
		return apply()
	}
	var cerr error
	p.Cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			cerr = err
			return
		}
		for _, t := range resp.Topics {
			for _, pr := range t.Partitions {
				if e := kerr.ErrorForCode(pr.ErrorCode); e != nil {
					cerr = errors.Join(cerr, fmt.Errorf("topic %q partition %d: %w", t.Topic, pr.Partition, e))
				}
			}
		}
	})
	if cerr != nil {
		return fmt.Errorf("%s: %w: commit offsets: %w", NameAtLeastOnce, ErrCommitFailed, cerr)
	}
	return apply()
}

// Rewind moves the consumer back to the committed offsets of the given
// partitions (those processed since the last commit), or to the start of a
// partition the group never committed, so that the records are processed
// again: the at-least-once counterpart of an aborted transaction. Call it
// from the polling goroutine before a rebalance is allowed.
func (p AtLeastOnce) Rewind(ctx context.Context, partitions Offsets) error {
	committed := p.Cl.CommittedOffsets()
	to := Offsets{}
	var fromStart []string
	for topic, ps := range partitions {
		for part := range ps {
			eo, ok := committed[topic][part]
			if !ok || eo.Offset < 0 {
				fromStart = append(fromStart, topic)
				continue
			}
			if to[topic] == nil {
				to[topic] = map[int32]kgo.EpochOffset{}
			}
			to[topic][part] = eo
		}
	}
	if len(fromStart) > 0 {
		starts, err := kadm.NewClient(p.Cl).ListStartOffsets(ctx, fromStart...)
		if err != nil {
			return fmt.Errorf("%s: %w: rewind: start offsets: %w", NameAtLeastOnce, ErrCommitFailed, err)
		}
		var serr error
		starts.Each(func(o kadm.ListedOffset) {
			if _, ok := partitions[o.Topic][o.Partition]; !ok {
				return
			}
			if _, done := to[o.Topic][o.Partition]; done {
				return
			}
			if o.Err != nil {
				serr = errors.Join(serr, fmt.Errorf("topic %q partition %d: %w", o.Topic, o.Partition, o.Err))
				return
			}
			if to[o.Topic] == nil {
				to[o.Topic] = map[int32]kgo.EpochOffset{}
			}
			to[o.Topic][o.Partition] = kgo.EpochOffset{Epoch: -1, Offset: o.Offset}
		})
		if serr != nil {
			return fmt.Errorf("%s: %w: rewind: start offsets: %w", NameAtLeastOnce, ErrCommitFailed, serr)
		}
	}
	p.Cl.SetOffsets(to)
	return nil
}

// ExactlyOnce commits through Kafka transactions (exactly_once_v2): one
// transactional producer per instance, input offsets sent to the
// transaction with the group metadata so the broker fences zombies
// (KIP-447), outputs, changelogs and offsets committed or aborted together.
type ExactlyOnce struct {
	Session *kgo.GroupTransactSession
	inTxn   bool
}

// Name implements Protocol.
func (*ExactlyOnce) Name() string { return NameExactlyOnce }

// Client implements Protocol.
func (p *ExactlyOnce) Client() *kgo.Client { return p.Session.Client() }

// Transactional implements Protocol: exactly-once is.
func (*ExactlyOnce) Transactional() bool { return true }

// Revoked implements Protocol: it ends the empty transaction (EndEmpty).
func (p *ExactlyOnce) Revoked(ctx context.Context) error { return p.EndEmpty(ctx) }

// Open implements Protocol.
func (p *ExactlyOnce) Open() bool { return p.inTxn }

// Begin implements Protocol.
func (p *ExactlyOnce) Begin() error {
	if p.inTxn {
		return nil
	}
	if err := p.Session.Begin(); err != nil {
		return fmt.Errorf("%s: %w: begin transaction: %w", NameExactlyOnce, ErrUnknownOutcome, err)
	}
	p.inTxn = true
	return nil
}

// Commit implements Protocol. The offsets committed are those of every
// record polled, which the runtime has processed in full by then.
func (p *ExactlyOnce) Commit(ctx context.Context, _ Offsets, apply func() error) error {
	if !p.inTxn {
		return apply()
	}
	p.inTxn = false
	committed, err := p.Session.End(ctx, kgo.TryCommit)
	if err != nil {
		return fmt.Errorf("%s: %w: end transaction: %w", NameExactlyOnce, ErrUnknownOutcome, err)
	}
	if !committed {
		return fmt.Errorf("%s: %w", NameExactlyOnce, ErrAborted)
	}
	return apply()
}

// Abort implements Protocol: it rolls the open transaction back, which
// rewinds the consumer to the committed offsets of every partition.
func (p *ExactlyOnce) Abort(ctx context.Context, _ Offsets) error {
	if !p.inTxn {
		return nil
	}
	p.inTxn = false
	if _, err := p.Session.End(ctx, kgo.TryAbort); err != nil {
		return fmt.Errorf("%s: %w: abort: %w", NameExactlyOnce, ErrUnknownOutcome, err)
	}
	return nil
}
