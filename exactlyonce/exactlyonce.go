// Package exactlyonce holds samsa's commit protocols behind one interface:
// at-least-once (flush, commit offsets, then apply state) and exactly-once
// (Kafka transactions with the group metadata, KIP-447 fencing).
package exactlyonce

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Offsets are the next offsets to commit, by topic and partition.
type Offsets = map[string]map[int32]kgo.EpochOffset

// Protocol commits what a batch of processing produced: the outputs, and
// the input offsets they consumed. The runtime applies store buffers only
// after Commit returns nil.
type Protocol interface {
	// Name returns the guarantee's name as Kafka Streams spells it.
	Name() string
	// Commit makes the outputs produced since the last commit durable and
	// commits the offsets.
	Commit(ctx context.Context, offsets Offsets) error
}

// ErrCommitFailed wraps a commit that was rejected; the outputs may have been
// written (at-least-once) but the offsets were not committed.
var ErrCommitFailed = errors.New("exactlyonce: commit failed")

// AtLeastOnce flushes the producer, then commits offsets to the group:
// after a crash, records processed since the last commit are processed
// again, so outputs may repeat but are never lost.
type AtLeastOnce struct {
	Client *kgo.Client
}

// Name implements Protocol.
func (AtLeastOnce) Name() string { return "at_least_once" }

// Commit implements Protocol.
func (p AtLeastOnce) Commit(ctx context.Context, offsets Offsets) error {
	if err := p.Client.Flush(ctx); err != nil {
		return fmt.Errorf("%w: flush producer: %w", ErrCommitFailed, err)
	}
	if len(offsets) == 0 {
		return nil
	}
	var cerr error
	p.Client.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
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
		return fmt.Errorf("%w: commit offsets: %w", ErrCommitFailed, cerr)
	}
	return nil
}
