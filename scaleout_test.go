package samsa_test

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// ownership records when each instance held each task, in a global order.
type ownership struct {
	seq    atomic.Int64
	mu     sync.Mutex
	spans  map[processor.TaskID][]span
	badCop []string
}

type span struct {
	instance   string
	start, end int64 // end 0 while open
}

func (o *ownership) open(inst string, id processor.TaskID) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.spans[id] = append(o.spans[id], span{instance: inst, start: o.seq.Add(1)})
	return len(o.spans[id]) - 1
}

func (o *ownership) close(id processor.TaskID, i int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.spans[id][i].end = o.seq.Add(1)
}

// tracker is the processor of the scale-out test: it notes task ownership
// and checks that every record it sees belongs to its task's partition.
type tracker struct {
	inst string
	own  *ownership
	ctx  processor.Context[string, string]
	span int
}

func (p *tracker) Init(ctx processor.Context[string, string]) error {
	p.ctx = ctx
	p.span = p.own.open(p.inst, ctx.TaskID())
	return nil
}

func (p *tracker) Process(r processor.Record[string, string]) error {
	if r.Partition() != p.ctx.TaskID().Partition {
		p.own.mu.Lock()
		p.own.badCop = append(p.own.badCop, fmt.Sprintf("task %s got %s[%d]", p.ctx.TaskID(), r.Topic(), r.Partition()))
		p.own.mu.Unlock()
	}
	p.ctx.Forward(processor.WithValue(r, r.Value+"@"+p.inst))
	return nil
}

func (p *tracker) Close() error {
	p.own.close(p.ctx.TaskID(), p.span)
	return nil
}

func TestScaleOut(t *testing.T) {
	t.Run("embedded", func(t *testing.T) { runScaleOut(t, testkit.EmbeddedCluster(t)) })
	t.Run("real", func(t *testing.T) { runScaleOut(t, testkit.RealCluster(t)) })
}

// runScaleOut: one instance processes two co-partitioned 8-partition
// topics; a second and a third join while input flows; the second leaves.
// No input may be lost; repeats (allowed under at-least-once) are counted.
func runScaleOut(t *testing.T, c *testkit.Cluster) {
	const parts = 8
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	inA, inB := c.Topic(t, "scale-a", parts), c.Topic(t, "scale-b", parts)
	out := c.Topic(t, "scale-out", parts)
	appID := testkit.UniqueName("scale-app")
	own := &ownership{spans: map[processor.TaskID][]span{}}

	newApp := func(name string) *samsa.App {
		top := topology.New()
		topology.AddSource(top, "a", topology.Source[string, string]{Topics: []string{inA}, Key: serde.String, Value: serde.String})
		topology.AddSource(top, "b", topology.Source[string, string]{Topics: []string{inB}, Key: serde.String, Value: serde.String})
		topology.AddProcessor(top, "track", func() processor.Processor[string, string, string, string] {
			return &tracker{inst: name, own: own}
		}, "a", "b")
		topology.AddSink(top, "out", topology.Sink[string, string]{Topic: out, Key: serde.String, Value: serde.String}, "track")
		app, err := samsa.New(top, samsa.Config{
			ApplicationID: appID, Bootstrap: c.Bootstrap,
			CommitInterval: 200 * time.Millisecond, MaxPollRecords: 500,
			Logger: testkit.Logger(t, slog.LevelWarn).With("instance", name),
		})
		if err != nil {
			t.Fatal(err)
		}
		return app
	}

	// Produce in the background, 100 records every 50ms, until the group
	// changes are done; produced counts what was written.
	var produced atomic.Int64
	stopProd := make(chan struct{})
	prodErr := make(chan error, 1)
	go func() {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap...), kgo.ProducerLinger(2*time.Millisecond))
		if err != nil {
			prodErr <- err
			return
		}
		defer cl.Close()
		for i := 0; ; i += 100 {
			select {
			case <-stopProd:
				prodErr <- nil
				return
			default:
			}
			var batch []*kgo.Record
			for j := i; j < i+100; j++ {
				topic := inA
				if j%2 == 1 {
					topic = inB
				}
				batch = append(batch, &kgo.Record{Topic: topic, Key: []byte("k" + strconv.Itoa(j%512)), Value: []byte(strconv.Itoa(j))})
			}
			if err := cl.ProduceSync(ctx, batch...).FirstErr(); err != nil {
				prodErr <- err
				return
			}
			produced.Add(100)
			time.Sleep(50 * time.Millisecond)
		}
	}()

	// Check co-partitioning of the live assignment while the group changes.
	stopWatch := make(chan struct{})
	watchDone := make(chan []string)
	go func() {
		var bad []string
		for {
			select {
			case <-stopWatch:
				watchDone <- bad
				return
			case <-time.After(100 * time.Millisecond):
			}
			dg, err := c.Admin().DescribeGroups(ctx, appID)
			if err != nil {
				continue
			}
			for _, g := range dg {
				for _, m := range g.Members {
					ca, ok := m.Assigned.AsConsumer()
					if !ok {
						continue
					}
					has := map[string]map[int32]bool{}
					for _, tp := range ca.Topics {
						has[tp.Topic] = map[int32]bool{}
						for _, p := range tp.Partitions {
							has[tp.Topic][p] = true
						}
					}
					for p := int32(0); p < parts; p++ {
						if has[inA][p] != has[inB][p] {
							bad = append(bad, fmt.Sprintf("member %s holds %s[%d]=%v but %s[%d]=%v", m.MemberID, inA, p, has[inA][p], inB, p, has[inB][p]))
						}
					}
				}
			}
		}
	}()

	processed := func(apps ...*samsa.App) int64 {
		var n int64
		for _, a := range apps {
			n += a.Processed()
		}
		return n
	}
	a1 := newApp("one")
	r1 := testkit.Start(t, a1)
	r1.WaitFor(t, 60*time.Second, "first instance processing", func() bool { return a1.Processed() > 2000 })
	a2 := newApp("two")
	r2 := testkit.Start(t, a2)
	r2.WaitFor(t, 60*time.Second, "second instance processing", func() bool { return a2.Processed() > 0 })
	a3 := newApp("three")
	r3 := testkit.Start(t, a3)
	r3.WaitFor(t, 60*time.Second, "third instance processing", func() bool { return a3.Processed() > 0 })
	before := a1.Processed() + a3.Processed()
	if err := r2.Stop(); err != nil {
		t.Fatalf("instance two: %v", err)
	}
	r1.WaitFor(t, 60*time.Second, "processing after two left", func() bool { return a1.Processed()+a3.Processed() > before+1000 })
	close(stopProd)
	if err := <-prodErr; err != nil {
		t.Fatal(err)
	}
	total := int(produced.Load())
	r1.WaitFor(t, 90*time.Second, "all input processed", func() bool { return processed(a1, a2, a3) >= int64(total) })

	// Wait until every input shows up in the output, then stop.
	var seen map[string]int
	deadline := time.Now().Add(60 * time.Second)
	for {
		got, err := c.ReadTopic(ctx, out)
		if err != nil {
			t.Fatal(err)
		}
		seen = map[string]int{}
		for _, rs := range got {
			for _, r := range rs {
				seen[strings.SplitN(string(r.Value), "@", 2)[0]]++
			}
		}
		if len(seen) >= total || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, r := range []*testkit.Running{r1, r3} {
		if err := r.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	close(stopWatch)
	badAssign := <-watchDone

	inputs := seen
	missing := 0
	for i := range total {
		if inputs[strconv.Itoa(i)] == 0 {
			missing++
		}
	}
	repeats := 0
	for _, n := range inputs {
		repeats += n - 1
	}
	if missing > 0 {
		t.Errorf("%d of %d inputs lost", missing, total)
	}
	for _, b := range own.badCop {
		t.Errorf("co-partitioning broken: %s", b)
	}
	for _, b := range badAssign {
		t.Errorf("co-partitioning broken in the assignment: %s", b)
	}
	// Each task on one instance at a time: its ownership spans never overlap.
	for id, ss := range own.spans {
		for i := range ss {
			for j := range ss {
				if i == j {
					continue
				}
				a, b := ss[i], ss[j]
				aEnd, bEnd := a.end, b.end
				if aEnd == 0 {
					aEnd = 1 << 62
				}
				if bEnd == 0 {
					bEnd = 1 << 62
				}
				if a.start < bEnd && b.start < aEnd {
					t.Errorf("task %s ran on %s and %s at the same time", id, a.instance, b.instance)
				}
			}
		}
	}
	moves := 0
	for _, ss := range own.spans {
		moves += len(ss) - 1
	}
	t.Logf("scale-out: %d inputs, %d lost, %d repeated (at-least-once), %d task moves, processed one=%d two=%d three=%d",
		total, missing, repeats, moves, a1.Processed(), a2.Processed(), a3.Processed())
}
