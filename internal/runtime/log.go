package runtime

import (
	"context"
	"log/slog"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

// kslog adapts slog to franz-go's logger. The client's warnings and errors
// keep their level; its info messages (chatty: every transaction, every
// rebalance step) go to debug, except one that means input records were
// skipped: an offset out of range on a partition's first fetch (the
// records at the committed offset were deleted by the topic's retention or
// DeleteRecords), after which the consumer starts again at the partition's
// start. franz-go logs that at info and the same case met while consuming
// at warn; samsa logs both at warn, so that such a loss is never silent.
type kslog struct{ l *slog.Logger }

func (k kslog) Level() kgo.LogLevel { return kgo.LogLevelInfo }

// resetOnFirstFetch starts franz-go's info message for an offset out of
// range on a partition's first fetch.
const resetOnFirstFetch = "received OFFSET_OUT_OF_RANGE on the first fetch"

func (k kslog) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lvl := slog.LevelDebug
	switch level {
	case kgo.LogLevelError:
		lvl = slog.LevelError
	case kgo.LogLevelWarn:
		lvl = slog.LevelWarn
	case kgo.LogLevelInfo:
		if strings.HasPrefix(msg, resetOnFirstFetch) {
			lvl = slog.LevelWarn
			msg = "input records skipped: " + msg + " (the records at the committed offset are gone: deleted by the topic's retention or by DeleteRecords)"
		}
	}
	if !k.l.Enabled(context.Background(), lvl) {
		return
	}
	k.l.Log(context.Background(), lvl, "kafka: "+msg, keyvals...)
}
