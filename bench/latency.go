package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The latency scenarios' feed: latencyRate records/s (latencyRate/20
// every 50 ms), below every contender's capacity, after latencyWarm
// records loaded before the start (their output shows the contender
// running).
const (
	latencyRate = 10_000
	latencyWarm = 1_000
	// latencySettle: the output of records fed in the feed's first second
	// is not measured (the contender settling from its start on a few
	// records to the steady feed).
	latencySettle = time.Second
)

// percentile is the p-th percentile (0 < p ≤ 100) of ds by nearest rank:
// the smallest value at least p% of ds are at or below; 0 for none. ds is
// sorted in place.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(float64(len(ds))*p/100+0.999999999) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}

// runLatency runs contender c once on a latency scenario s: a fresh input
// topic holding latencyWarm records at the start, the rest of s.Input.N
// fed at s.Latency records/s from the first output record, each with its
// produce time as timestamp (franz-go's default). Every contender's count
// output keeps the timestamp of the input record counted, so the reader's
// time at the fetch minus an output record's timestamp is the record's
// end-to-end latency: producer batching, the contender's consume, count,
// produce and commit (under exactly-once nothing is readable before the
// transaction commits), and the read_committed fetch. Only the output of
// fed records is measured (timestamps from the feed's start on).
func (h *harness) runLatency(ctx context.Context, s *scenario, c contender, run int) (runResult, error) {
	app := fmt.Sprintf("bench-%s-%s-%s-%d", h.stamp, s.ID, c.ID, run)
	in := &input{Name: fmt.Sprintf("%s-%s-%d", s.ID, c.ID, run), N: latencyWarm, Keys: s.Input.Keys}
	rs := runSpec{App: app, Out: app + "-out", StateDir: filepath.Join(h.tmp, app)}
	defer h.cleanup(app, rs.StateDir)
	defer h.deleteInput(in)
	if err := h.preload(ctx, in); err != nil {
		return runResult{Contender: c.ID, Run: run}, err
	}
	rs.In = in.Topic
	more := &input{Topic: in.Topic, N: s.Input.N, Keys: s.Input.Keys}

	begin, stop := make(chan struct{}), make(chan struct{})
	fed := make(chan feedResult, 1)
	go func() { fed <- h.feed(ctx, more, latencyWarm, max(s.Latency/20, 1), begin, stop) }()
	var from time.Time // the feed's start: fed records' timestamps are at or after it
	var lats, settling []time.Duration
	ph := phase{onRecord: func(r *kgo.Record, now time.Time) {
		if from.IsZero() {
			from = time.Now()
			close(begin)
			return
		}
		switch {
		case !r.Timestamp.Before(from.Add(latencySettle)):
			lats = append(lats, now.Sub(r.Timestamp))
		case !r.Timestamp.Before(from):
			settling = append(settling, now.Sub(r.Timestamp))
		}
	}}
	res, start, err := h.runProcess(ctx, s, c, rs, newCountChecker(s.Input.N, s.Input.Keys), filepath.Join(h.tmp, app+".log"), ph)
	close(stop)
	if from.IsZero() {
		close(begin)
	}
	f := <-fed
	res.Run = run
	if err == nil && f.err != nil {
		err = fmt.Errorf("feeding the input: %w", f.err)
	}
	if err != nil {
		return res, err
	}
	if len(lats) == 0 {
		return res, fmt.Errorf("%s: no output record of the fed input", c.Name)
	}
	res.LatN = len(lats)
	res.LatP50, res.LatP99, res.LatMax = percentile(lats, 50), percentile(lats, 99), percentile(lats, 100)
	if d := f.end.Sub(f.start); d > 0 {
		res.FedPerSec = float64(f.next-latencyWarm) / d.Seconds()
	}
	res.Drain = start.Add(res.Total).Sub(f.end)
	h.log.Info("latency", "scenario", s.ID, "contender", c.ID, "p50", res.LatP50, "p99", res.LatP99, "max", res.LatMax,
		"measured", res.LatN, "first_second_p99", percentile(settling, 99), "first_second_max", percentile(settling, 100), "fed_per_s", int(res.FedPerSec), "drain", res.Drain.Round(time.Millisecond))
	err = h.measureTopics(ctx, app, &res)
	return res, err
}
