package samsa_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// warnings is a slog handler that keeps the warnings logged, with their
// attributes, and passes everything to next.
type warnings struct {
	next  slog.Handler
	mu    *sync.Mutex
	attrs []slog.Attr
	got   *[]string
}

func (w warnings) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn || w.next.Enabled(ctx, l)
}

func (w warnings) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		var b strings.Builder
		b.WriteString(r.Message)
		for _, a := range w.attrs {
			fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		}
		r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
		w.mu.Lock()
		*w.got = append(*w.got, b.String())
		w.mu.Unlock()
	}
	if w.next.Enabled(ctx, r.Level) {
		return w.next.Handle(ctx, r)
	}
	return nil
}

func (w warnings) WithAttrs(as []slog.Attr) slog.Handler {
	w.attrs = append(append([]slog.Attr(nil), w.attrs...), as...)
	w.next = w.next.WithAttrs(as)
	return w
}

func (w warnings) WithGroup(name string) slog.Handler { w.next = w.next.WithGroup(name); return w }

// containing returns the warnings that contain every one of ss.
func (w warnings) containing(ss ...string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
next:
	for _, g := range *w.got {
		for _, s := range ss {
			if !strings.Contains(g, s) {
				continue next
			}
		}
		out = append(out, g)
	}
	return out
}

// TestDeletedInputRecordsAreNotSkippedSilently: records the group had not
// processed yet are deleted from the input (as the topic's retention does
// with old records) while the application is down; on restart the
// consumer's committed offset is out of range and it starts again at the
// partition's start, past the deleted records. Kafka allows that; samsa
// must say so: a warning names the topic, the partition and the offset it
// could not read, and the records still there are processed.
func TestDeletedInputRecordsAreNotSkippedSilently(t *testing.T) {
	c := testkit.RealCluster(t)
	in, out := c.Topic(t, "gone-in", 1), c.Topic(t, "gone-out", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	produce := func(from, to int) {
		t.Helper()
		var recs []*kgo.Record
		for i := from; i < to; i++ {
			recs = append(recs, &kgo.Record{Topic: in, Key: fmt.Appendf(nil, "k%02d", i), Value: fmt.Appendf(nil, "v%02d", i)})
		}
		if err := c.Produce(ctx, false, recs...); err != nil {
			t.Fatal(err)
		}
	}
	appID, stateDir := testkit.UniqueName("gone-app"), t.TempDir()
	run := func(logger *slog.Logger, processed int64) {
		t.Helper()
		top := topology.New()
		topology.StreamOf(top, serde.String, serde.String, in).To(out, serde.String, serde.String)
		app, err := samsa.New(top, samsa.Config{ApplicationID: appID, Bootstrap: c.Bootstrap,
			CommitInterval: 100 * time.Millisecond, StateDir: filepath.Join(stateDir, "s"), Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		r := testkit.Start(t, app)
		r.WaitFor(t, 60*time.Second, fmt.Sprintf("%d records processed", processed), func() bool { return app.Processed() >= processed })
		if err := r.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	produce(0, 10)
	run(testkit.Logger(t, 0), 10)
	produce(10, 20)
	resp, err := c.Admin().DeleteRecords(ctx, kadm.Offsets{in: {0: {Topic: in, Partition: 0, At: 15, LeaderEpoch: -1}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := resp.Error(); err != nil {
		t.Fatal(err)
	}
	w := warnings{next: testkit.Logger(t, 0).Handler(), mu: &sync.Mutex{}, got: new([]string)}
	run(slog.New(w), 5)
	if got := w.containing("input records skipped", "topic="+in, "partition=0", "prior_offset=10"); len(got) == 0 {
		t.Errorf("no warning names the records skipped at offset 10 of %s partition 0; warnings: %q", in, w.containing(""))
	}
	var keys []string
	for _, r := range readAll(t, c, out) {
		keys = append(keys, string(r.Key))
	}
	if got := strings.Join(keys, ","); got != "k00,k01,k02,k03,k04,k05,k06,k07,k08,k09,k15,k16,k17,k18,k19" {
		t.Errorf("output keys %s, want k00–k09 then k15–k19 (k10–k14 deleted before they were read)", got)
	}
}
