// Command raw is the benchmark harness' baseline: a plain franz-go
// consume→produce loop doing the same work as the samsa topologies (map and
// filter; a count per key, per new key or per key and window kept in a Go
// map with no changelog; a left join with the table topic read into a Go
// map before the stream), under
// at-least-once (flush, then commit the offsets, every commit interval) or
// exactly-once (a GroupTransactSession ending a transaction every commit
// interval). It runs until SIGTERM or SIGINT.
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa/bench/internal/work"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	f, err := work.Parse("raw", os.Args[1:])
	if err != nil {
		log.Error("bad flags", "err", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if f.CPUProfile != "" {
		pf, err := os.Create(f.CPUProfile)
		if err != nil {
			log.Error("cpu profile", "err", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(pf); err != nil {
			log.Error("cpu profile", "err", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	var proc processor
	proc, err = newProcessor(ctx, f)
	switch {
	case err != nil:
	case f.Guarantee == work.ExactlyOnce:
		err = runTxn(ctx, f, proc, log)
	default:
		err = runPlain(ctx, f, proc, log)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		log.Error("raw loop failed", "err", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

// processor does a topology's work on one record and returns the output
// record, or nil when the record is dropped.
type processor func(r *kgo.Record) *kgo.Record

func newProcessor(ctx context.Context, f work.Flags) (processor, error) {
	switch f.Topology {
	case work.Stateless:
		return func(r *kgo.Record) *kgo.Record {
			v := work.MapBytes(r.Value)
			if !work.Keep(v) {
				return nil
			}
			return &kgo.Record{Topic: f.Out, Key: r.Key, Value: v}
		}, nil
	case work.Join:
		table, err := readTable(ctx, f)
		if err != nil {
			return nil, err
		}
		return func(r *kgo.Record) *kgo.Record {
			tv, found := table[string(r.Key)]
			return &kgo.Record{Topic: f.Out, Key: r.Key, Value: work.Joined(r.Value, tv, found)}
		}, nil
	}
	key := func(r *kgo.Record) []byte { return r.Key }
	switch f.Topology {
	case work.GroupByCount:
		key = func(r *kgo.Record) []byte { return work.GroupKey(r.Key) }
	case work.WindowCount:
		size := work.Window.Milliseconds()
		key = func(r *kgo.Record) []byte {
			ms := r.Timestamp.UnixMilli()
			return binary.BigEndian.AppendUint64(append(make([]byte, 0, len(r.Key)+8), r.Key...), uint64(ms-ms%size))
		}
	}
	counts := make(map[string]int64)
	return func(r *kgo.Record) *kgo.Record {
		k := key(r)
		n := counts[string(k)] + 1
		counts[string(k)] = n
		// The input record's timestamp, as samsa's and Kafka Streams'
		// counts keep it (the latency scenarios read it).
		return &kgo.Record{Topic: f.Out, Key: k, Value: binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(n)), Timestamp: r.Timestamp}
	}, nil
}

// readTable reads the table topic from its start to its end offsets at
// the start into a map, the latest value of each key.
func readTable(ctx context.Context, f work.Flags) (map[string][]byte, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(f.Brokers()...), kgo.ConsumeTopics(f.Table),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return nil, fmt.Errorf("raw: table client: %w", err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, f.Table)
	if err != nil {
		return nil, fmt.Errorf("raw: table end offsets: %w", err)
	}
	left := make(map[int32]int64)
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			left[o.Partition] = o.Offset
		}
	})
	table := make(map[string][]byte)
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err := fetchErr(fs); err != nil {
			return nil, err
		}
		fs.EachRecord(func(r *kgo.Record) {
			table[string(r.Key)] = r.Value
			if r.Offset+1 >= left[r.Partition] {
				delete(left, r.Partition)
			}
		})
	}
	return table, nil
}

func commonOpts(f work.Flags) []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(f.Brokers()...),
		kgo.ConsumerGroup(f.App),
		kgo.ConsumeTopics(f.In),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.DefaultProduceTopic(f.Out),
	}
}

// runPlain is the at-least-once loop: produce asynchronously, and every
// commit interval flush the producer, then commit the offsets polled.
func runPlain(ctx context.Context, f work.Flags, proc processor, log *slog.Logger) error {
	opts := append(commonOpts(f), kgo.DisableAutoCommit(), kgo.BlockRebalanceOnPoll())
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("raw: client: %w", err)
	}
	defer cl.Close()
	var perr work.FirstErr
	commit := func() error {
		if err := cl.Flush(context.WithoutCancel(ctx)); err != nil {
			return fmt.Errorf("raw: flush: %w", err)
		}
		if err := perr.Get(); err != nil {
			return fmt.Errorf("raw: produce: %w", err)
		}
		if err := cl.CommitUncommittedOffsets(context.WithoutCancel(ctx)); err != nil {
			return fmt.Errorf("raw: commit: %w", err)
		}
		return nil
	}
	last := time.Now()
	for {
		pctx, cancel := context.WithDeadline(ctx, last.Add(f.Commit))
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			cl.AllowRebalance()
			return commit()
		}
		if err := fetchErr(fs); err != nil {
			return err
		}
		fs.EachRecord(func(r *kgo.Record) {
			if o := proc(r); o != nil {
				cl.Produce(ctx, o, perr.Set)
			}
		})
		if time.Since(last) >= f.Commit {
			if err := commit(); err != nil {
				return err
			}
			last = time.Now()
		}
		cl.AllowRebalance()
	}
}

// fetchErr returns the first fetch error that is not a context's.
func fetchErr(fs kgo.Fetches) error {
	var out error
	fs.EachError(func(t string, p int32, err error) {
		if out == nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			out = fmt.Errorf("raw: fetch %s[%d]: %w", t, p, err)
		}
	})
	return out
}

// runTxn is the exactly-once loop: one transaction per commit interval
// through a GroupTransactSession (produce, then commit the offsets in the
// transaction).
func runTxn(ctx context.Context, f work.Flags, proc processor, log *slog.Logger) error {
	opts := append(commonOpts(f), kgo.TransactionalID(f.App+"-txn"))
	sess, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return fmt.Errorf("raw: session: %w", err)
	}
	defer sess.Close()
	for ctx.Err() == nil {
		if err := sess.Begin(); err != nil {
			return fmt.Errorf("raw: begin: %w", err)
		}
		var perr work.FirstErr
		deadline := time.Now().Add(f.Commit)
		for time.Now().Before(deadline) && ctx.Err() == nil {
			pctx, cancel := context.WithDeadline(ctx, deadline)
			fs := sess.PollFetches(pctx)
			cancel()
			if err := fetchErr(fs); err != nil {
				return err
			}
			fs.EachRecord(func(r *kgo.Record) {
				if o := proc(r); o != nil {
					sess.Produce(ctx, o, perr.Set)
				}
			})
		}
		how := kgo.TryCommit
		if perr.Get() != nil {
			log.Warn("produce failed: aborting the transaction", "err", perr.Get())
			how = kgo.TryAbort
		}
		if _, err := sess.End(context.WithoutCancel(ctx), how); err != nil {
			return fmt.Errorf("raw: end transaction: %w", err)
		}
	}
	return ctx.Err()
}
