// Package verify is samsa's crash verifier: app instances as separate
// processes run a topology with an echo, a stateful aggregation, a
// repartition and a stream-time punctuator, while a driver produces a known
// input, kills instances with SIGKILL, adds and removes instances and
// restarts the broker; afterwards it reads every output with read_committed
// and checks each input was counted exactly once. Further scenarios feed a
// record whose output the broker rejects as too large.
package verify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/topology"
)

// Topics are the topics of one verifier run.
type Topics struct {
	Input, Echo, Agg, GroupAgg, Ticks, DeadLetter string
}

// Names derives the topic names of a run from its id.
func Names(run string) Topics {
	return Topics{Input: run + "-input", Echo: run + "-echo", Agg: run + "-agg", GroupAgg: run + "-group-agg",
		Ticks: run + "-ticks", DeadLetter: run + "-dlq"}
}

// CountSum is the aggregate: how many values and their sum.
type CountSum struct {
	Count int64 `json:"c"`
	Sum   int64 `json:"s"`
}

// Group derives the repartition key of an input key "k<n>": "g<n mod 7>".
func Group(key string) string {
	n, _ := strconv.Atoi(strings.TrimPrefix(key, "k"))
	return "g" + strconv.Itoa(n%7)
}

// PoisonSuffix marks an input value whose echo is inflated to PoisonSize
// bytes: more than the echo topic accepts in the oversize scenarios.
const PoisonSuffix = "#big"

// PoisonSize is the size of the echo of a poison input.
const PoisonSize = 50_000

// Number is the number an input value carries: "17" and "17#big" are 17.
func Number(v string) int64 {
	digits, _, _ := strings.Cut(v, "#")
	n, _ := strconv.ParseInt(digits, 10, 64)
	return n
}

// EchoValue is what the echo writes for an input value: the value itself,
// or for a poison value the value padded to PoisonSize bytes with
// pseudo-random letters, which compression cannot shrink below the limit.
func EchoValue(v string) string {
	if !strings.HasSuffix(v, PoisonSuffix) || len(v) >= PoisonSize {
		return v
	}
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
	rng := mrand.New(mrand.NewPCG(uint64(Number(v)), 1))
	b := make([]byte, PoisonSize)
	n := copy(b, v)
	for i := n; i < len(b); i++ {
		b[i] = letters[rng.IntN(len(letters))]
	}
	return string(b)
}

func add(_ string, v string, a CountSum) CountSum {
	return CountSum{Count: a.Count + 1, Sum: a.Sum + Number(v)}
}

// Ticker settings: the punctuator fires every TickInterval of stream time
// and emits at most one tick per TickBucket of stream time.
const (
	TickInterval = 100 * time.Millisecond
	TickBucket   = time.Second
	tickStore    = "ticker"
)

// TickState is the ticker's state in its logged store, one entry per task:
// what the task has processed and what it has ticked. It is committed with
// the offsets, so after an abort or a crash it is exactly the last
// committed state.
type TickState struct {
	Bucket int64  `json:"b"` // last bucket ticked; -1 before the first tick
	Seq    int64  `json:"n"` // ticks emitted
	Count  int64  `json:"c"` // input records processed
	Sum    int64  `json:"s"` // sum of their numbers
	Offset int64  `json:"o"` // offset of the last input record processed
	Inst   string `json:"i"` // processor instance that emitted the last tick
}

// Tick is one output record of the ticker. Bucket is the stream time of the
// punctuation divided by TickBucket; Prev, Seq-1 and PrevInst come from the
// committed state, so the ticks of a task form a chain.
type Tick struct {
	Partition  int32  `json:"p"`
	Bucket     int64  `json:"b"`
	Prev       int64  `json:"pb"`
	Seq        int64  `json:"n"`
	Count      int64  `json:"c"`
	Sum        int64  `json:"s"`
	Offset     int64  `json:"o"`
	StreamTime int64  `json:"t"` // the punctuation's stream time, Unix ms
	Inst       string `json:"i"`
	PrevInst   string `json:"pi"`
}

// ticker counts the task's input in a logged store and, on a stream-time
// punctuator, emits one tick per new bucket of stream time carrying the
// count, the sum and the last offset. A punctuation that fires again after
// an abort reads the rolled-back state and emits the same tick; one that is
// lost leaves a bucket out of the chain.
type ticker struct {
	ctx   processor.Context[string, Tick]
	store processor.KeyValueStore[string, TickState]
	inst  string
}

func newTicker() processor.Processor[string, string, string, Tick] {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return &ticker{inst: hex.EncodeToString(b[:])}
}

func (p *ticker) Init(ctx processor.Context[string, Tick]) error {
	p.ctx = ctx
	s, err := processor.GetKeyValueStore[string, TickState](ctx, tickStore)
	if err != nil {
		return err
	}
	p.store = s
	ctx.Schedule(TickInterval, processor.StreamTime, p.punctuate)
	return nil
}

func (p *ticker) state() (TickState, error) {
	st, ok, err := p.store.Get("task")
	if err != nil {
		return st, err
	}
	if !ok {
		st = TickState{Bucket: -1, Offset: -1}
	}
	return st, nil
}

func (p *ticker) Process(r processor.Record[string, string]) error {
	st, err := p.state()
	if err != nil {
		return err
	}
	st.Count++
	st.Sum += Number(r.Value)
	st.Offset = r.Offset()
	return p.store.Put("task", st)
}

func (p *ticker) punctuate(now time.Time) error {
	st, err := p.state()
	if err != nil {
		return err
	}
	b := now.UnixMilli() / TickBucket.Milliseconds()
	if b <= st.Bucket {
		return nil
	}
	part := p.ctx.TaskID().Partition
	p.ctx.Forward(processor.NewRecord("p"+strconv.Itoa(int(part)), Tick{
		Partition: part, Bucket: b, Prev: st.Bucket, Seq: st.Seq + 1, Count: st.Count, Sum: st.Sum,
		Offset: st.Offset, StreamTime: now.UnixMilli(), Inst: p.inst, PrevInst: st.Inst,
	}, now))
	st.Bucket, st.Seq, st.Inst = b, st.Seq+1, p.inst
	return p.store.Put("task", st)
}

func (p *ticker) Close() error { return nil }

// Topology is the verified topology: echo, count and sum per key, count and
// sum per derived key after a repartition, and the ticker.
func Topology(t Topics) *topology.Topology {
	top := topology.New()
	in := topology.StreamOf(top, serde.String, serde.String, t.Input)
	topology.MapValues(in, func(_ string, v string) string { return EchoValue(v) }).To(t.Echo, serde.String, serde.String)
	topology.Aggregate(in, "per-key", func() CountSum { return CountSum{} }, add, serde.String, serde.JSON[CountSum]()).
		To(t.Agg, serde.String, serde.JSON[CountSum]())
	grouped := topology.GroupBy(in, "by-group", func(k, _ string) string { return Group(k) }, serde.String, serde.String)
	topology.Aggregate(grouped, "per-group", func() CountSum { return CountSum{} }, add, serde.String, serde.JSON[CountSum]()).
		To(t.GroupAgg, serde.String, serde.JSON[CountSum]())
	ticks := topology.Process(in, processor.Supplier[string, string, string, Tick](newTicker))
	topology.AddKeyValueStore(top, topology.KeyValueStore[string, TickState]{Name: tickStore, Key: serde.String, Value: serde.JSON[TickState]()}, ticks.Node())
	ticks.To(t.Ticks, serde.String, serde.JSON[Tick]())
	return top
}

// WorkerConfig configures one app instance.
type WorkerConfig struct {
	Bootstrap []string
	AppID     string
	Run       string
	Guarantee samsa.Guarantee
	StateDir  string
	Instance  string
	// ProductionErrors is the policy for records the broker rejects;
	// DeadLetter sends them to the run's dead-letter topic.
	ProductionErrors samsa.ErrorPolicy
}

// RunWorker runs one app instance until ctx ends.
func RunWorker(ctx context.Context, cfg WorkerConfig) error {
	commit := 100 * time.Millisecond
	if cfg.Guarantee == samsa.AtLeastOnce {
		commit = time.Second
	}
	sc := samsa.Config{
		ApplicationID:  cfg.AppID,
		Bootstrap:      cfg.Bootstrap,
		Guarantee:      cfg.Guarantee,
		CommitInterval: commit,
		StateDir:       cfg.StateDir,
		InstanceID:     cfg.Instance,
		Logger:         slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("instance", cfg.Instance),
		ClientOptions: []kgo.Opt{
			kgo.SessionTimeout(6 * time.Second),
			kgo.HeartbeatInterval(time.Second),
			kgo.RebalanceTimeout(20 * time.Second),
		},
		Errors: samsa.ErrorPolicies{Production: cfg.ProductionErrors},
		// The verifier checks every aggregate update against the input
		// record that made it: the record cache would collapse the updates
		// of a key between commits (TestCacheCountExactlyOnce covers the
		// cache under exactly-once on the real broker).
		CacheMaxBytes: -1,
	}
	if cfg.ProductionErrors == samsa.DeadLetter {
		sc.DeadLetterTopic = Names(cfg.Run).DeadLetter
	}
	app, err := samsa.New(Topology(Names(cfg.Run)), sc)
	if err != nil {
		return fmt.Errorf("verify worker: %w", err)
	}
	return app.Run(ctx)
}
