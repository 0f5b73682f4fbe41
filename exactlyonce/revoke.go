package exactlyonce

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
)

// EndEmpty ends the session's empty transaction after a rebalance revoked
// or lost partitions. franz-go marks the session failed on any revocation,
// even with no transaction open, and clears the mark only in End: without
// this the next real transaction would abort (franz-go #754). The consumer
// is rewound to the committed offsets, which is where processing stands
// when no transaction is open. It does nothing while a transaction is open.
func (p *ExactlyOnce) EndEmpty(ctx context.Context) error {
	if p.inTxn {
		return nil
	}
	if _, err := p.Session.End(ctx, kgo.TryAbort); err != nil {
		return fmt.Errorf("%s: %w: end the empty transaction after a rebalance: %w", NameExactlyOnce, ErrUnknownOutcome, err)
	}
	return nil
}
