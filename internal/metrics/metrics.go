// Package metrics holds the Prometheus collectors of one samsa App, with
// the meaning of Kafka Streams' metrics of the same name, and the App's
// HTTP endpoints (/metrics, /healthz, /readyz, /topology).
//
// Every App has a registry of its own (never Prometheus' global default
// registry), so that two Apps in one process do not collide; the runtime
// may also register the same collectors with a user's Registerer for the
// time it runs (Register, Unregister).
//
// The hot path (one record) costs no allocation: the runtime adds a task's
// processed records once per batch, and the engine samples the process
// latency (one record in engine.LatencySampleEvery, 64) into a Task's
// cached histogram.
package metrics

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Namespace prefixes every metric name.
const Namespace = "samsa"

// States are the App states, in the order of their numeric values, as the
// state label carries them.
var States = [...]string{"CREATED", "REBALANCING", "RUNNING", "PENDING_SHUTDOWN", "NOT_RUNNING", "ERROR"}

// Metrics is one App's set of collectors. Its methods are safe for
// concurrent use.
type Metrics struct {
	reg        *prometheus.Registry
	collectors []prometheus.Collector

	processed      *prometheus.CounterVec
	processLatency *prometheus.HistogramVec
	punctuate      *prometheus.HistogramVec
	dropped        *prometheus.CounterVec
	commits        prometheus.Counter
	commitLatency  prometheus.Histogram
	lag            *prometheus.GaugeVec
	deadLetters    *prometheus.CounterVec
	skipped        *prometheus.CounterVec
	restoreDone    *prometheus.GaugeVec
	restoreToGo    *prometheus.GaugeVec
	rebalances     prometheus.Counter
	storeBytes     *prometheus.GaugeVec
	streamTime     *prometheus.GaugeVec
	watermark      *prometheus.GaugeVec
	state          *prometheus.GaugeVec
	stateValue     prometheus.Gauge

	// lagMu guards lagCache, the lag gauges by partition, which spares a
	// label lookup (and the partition's string) per poll.
	lagMu    sync.Mutex
	lagCache map[topicPartition]prometheus.Gauge
}

type topicPartition struct {
	topic     string
	partition int32
}

// Sources are the App's own counters that the metrics read at scrape time.
type Sources struct {
	// Restored returns the changelog records restored by the instance.
	Restored func() int64
}

// latencyBuckets are the buckets of the process and punctuation latencies,
// from 1µs to about 4s.
var latencyBuckets = prometheus.ExponentialBuckets(1e-6, 4, 12)

// commitBuckets are the buckets of the commit latency, from 1ms to about
// 16s.
var commitBuckets = prometheus.ExponentialBuckets(1e-3, 2, 15)

// New returns the collectors of the App with the given application id,
// registered with a new registry of their own (with the Go runtime and
// process collectors) that Gatherer returns.
func New(applicationID string, src Sources) *Metrics {
	cl := prometheus.Labels{"application_id": applicationID}
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: Namespace, Name: name, Help: help, ConstLabels: cl}
	}
	hist := func(name, help string, buckets []float64) prometheus.HistogramOpts {
		return prometheus.HistogramOpts{Namespace: Namespace, Name: name, Help: help, ConstLabels: cl, Buckets: buckets}
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		processed: prometheus.NewCounterVec(prometheus.CounterOpts(opts("processed_records_total",
			"Input records processed, by task (Kafka Streams' process-total).")), []string{"task"}),
		processLatency: prometheus.NewHistogramVec(hist("process_latency_seconds",
			"Time to process one input record through the task's topology, sampled (one record in 64), by task (Kafka Streams' process-latency).",
			latencyBuckets), []string{"task"}),
		punctuate: prometheus.NewHistogramVec(hist("punctuate_latency_seconds",
			"Time one punctuation took, by task (Kafka Streams' punctuate-latency).", latencyBuckets), []string{"task"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts(opts("dropped_records_total",
			"Records operators dropped by design (a null key or value reaching an aggregation, a late record…), by task, operator (node) and reason (Kafka Streams' dropped-records).")),
			[]string{"task", "node", "reason"}),
		commits: prometheus.NewCounter(prometheus.CounterOpts(opts("commits_total",
			"Commits that succeeded (Kafka Streams' commit-total)."))),
		commitLatency: prometheus.NewHistogram(hist("commit_latency_seconds",
			"Time a commit took: producer flush, offsets (and transaction) and local state (Kafka Streams' commit-latency).", commitBuckets)),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts(opts("consumer_lag_records",
			"Records between the consumer's position and the end of an input partition (last stable offset under read_committed, else high watermark), as of the last fetch (Kafka's records-lag).")),
			[]string{"topic", "partition"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts(opts("dead_letter_records_total",
			"Records sent to the dead-letter topic by the error policies, by kind of failure (deserialization, processing, production).")), []string{"kind"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts(opts("skipped_records_total",
			"Records (or punctuations) the error policies skipped, by kind of failure.")), []string{"kind"}),
		restoreDone: prometheus.NewGaugeVec(prometheus.GaugeOpts(opts("restore_records_done",
			"Changelog records applied by the current (or last) restore of a store of a task (Kafka Streams' restore-total).")), []string{"task", "store"}),
		restoreToGo: prometheus.NewGaugeVec(prometheus.GaugeOpts(opts("restore_records_remaining",
			"Changelog offsets left to restore of a store of a task; 0 once finished (Kafka Streams' restore-remaining-records-total).")), []string{"task", "store"}),
		storeBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts(opts("store_disk_bytes",
			"Estimated bytes on disk of a store's committed data (Pebble's file metadata; 0 in memory), updated at most every 10 s after a commit.")), []string{"task", "store"}),
		streamTime: prometheus.NewGaugeVec(prometheus.GaugeOpts(opts("task_stream_time_seconds",
			"A task's stream time: the highest event time it processed, as Unix seconds (0 before any record).")), []string{"task"}),
		watermark: prometheus.NewGaugeVec(prometheus.GaugeOpts(opts("task_watermark_seconds",
			"A task's watermark: the event time every input with records waiting has reached, as Unix seconds (0 before any record).")), []string{"task"}),
		rebalances: prometheus.NewCounter(prometheus.CounterOpts(opts("rebalances_total",
			"Group rebalances this instance completed (an assignment received)."))),
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts(opts("state",
			"The App's state: 1 for the current state, 0 for the others (Kafka Streams' state).")), []string{"state"}),
		stateValue: prometheus.NewGauge(prometheus.GaugeOpts(opts("state_value",
			"The App's state as a number: 0 CREATED, 1 REBALANCING, 2 RUNNING, 3 PENDING_SHUTDOWN, 4 NOT_RUNNING, 5 ERROR."))),
		lagCache: map[topicPartition]prometheus.Gauge{},
	}
	for _, s := range States {
		m.state.WithLabelValues(s).Set(0)
	}
	m.state.WithLabelValues(States[0]).Set(1)
	m.collectors = []prometheus.Collector{
		m.processed, m.processLatency, m.punctuate, m.dropped, m.commits, m.commitLatency, m.lag,
		m.deadLetters, m.skipped, m.restoreDone, m.restoreToGo, m.rebalances, m.state, m.stateValue, m.storeBytes,
		m.streamTime, m.watermark,
	}
	if src.Restored != nil {
		m.collectors = append(m.collectors, prometheus.NewCounterFunc(prometheus.CounterOpts(opts("restored_records_total",
			"Changelog records restored by this instance since it started.")), func() float64 { return float64(src.Restored()) }))
	}
	for _, c := range m.collectors {
		m.reg.MustRegister(c)
	}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Gatherer returns the App's own registry: samsa's metrics, the Go runtime's
// and the process'.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// Register registers samsa's collectors (not the Go runtime and process
// collectors, which the user's registry usually has) with r. A collision
// (another App with the same application id on r) fails, naming the
// metric; what was registered is unregistered again.
func (m *Metrics) Register(r prometheus.Registerer) error {
	for i, c := range m.collectors {
		if err := r.Register(c); err != nil {
			for _, done := range m.collectors[:i] {
				r.Unregister(done)
			}
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return fmt.Errorf("metrics already registered (another App with the same application id on this Registerer? wrap it with prometheus.WrapRegistererWith): %w", err)
			}
			return fmt.Errorf("register metrics: %w", err)
		}
	}
	return nil
}

// Unregister removes samsa's collectors from r.
func (m *Metrics) Unregister(r prometheus.Registerer) {
	for _, c := range m.collectors {
		r.Unregister(c)
	}
}

// Task is the metrics of one task, with its label values resolved once.
// It is used by the goroutine that owns the task.
type Task struct {
	m         *Metrics
	id        string
	processed prometheus.Counter
	latency   prometheus.Observer
	punctuate prometheus.Observer
	dropped   map[droppedKey]prometheus.Counter
	// streamTime and watermark are the task's time gauges.
	streamTime, watermark prometheus.Gauge
}

// Task returns the metrics of the task with the given id.
func (m *Metrics) Task(id string) *Task {
	return &Task{
		m: m, id: id,
		processed:  m.processed.WithLabelValues(id),
		latency:    m.processLatency.WithLabelValues(id),
		punctuate:  m.punctuate.WithLabelValues(id),
		dropped:    map[droppedKey]prometheus.Counter{},
		streamTime: m.streamTime.WithLabelValues(id),
		watermark:  m.watermark.WithLabelValues(id),
	}
}

// Processed adds n processed records.
func (t *Task) Processed(n int) {
	if n > 0 {
		t.processed.Add(float64(n))
	}
}

// ProcessLatency observes the time one (sampled) record took.
func (t *Task) ProcessLatency(d time.Duration) { t.latency.Observe(d.Seconds()) }

// PunctuateLatency observes the time one punctuation took.
func (t *Task) PunctuateLatency(d time.Duration) { t.punctuate.Observe(d.Seconds()) }

// Dropped counts a record an operator (node) dropped, by reason.
func (t *Task) Dropped(node, reason string) {
	k := droppedKey{node, reason}
	c, ok := t.dropped[k]
	if !ok {
		c = t.m.dropped.WithLabelValues(t.id, node, reason)
		t.dropped[k] = c
	}
	c.Inc()
}

// droppedKey is a dropped-records series of a task: its operator and
// reason.
type droppedKey struct{ node, reason string }

// Close removes the task's series: another instance may own it now.
func (t *Task) Close() {
	l := prometheus.Labels{"task": t.id}
	t.m.processed.DeletePartialMatch(l)
	t.m.processLatency.DeletePartialMatch(l)
	t.m.punctuate.DeletePartialMatch(l)
	t.m.dropped.DeletePartialMatch(l)
	t.m.restoreDone.DeletePartialMatch(l)
	t.m.restoreToGo.DeletePartialMatch(l)
	t.m.storeBytes.DeletePartialMatch(l)
	t.m.streamTime.DeletePartialMatch(l)
	t.m.watermark.DeletePartialMatch(l)
}

// Times sets the task's stream time and watermark.
func (t *Task) Times(streamTime, watermark time.Time) {
	unix := func(at time.Time) float64 {
		if at.IsZero() {
			return 0
		}
		return float64(at.UnixMilli()) / 1000
	}
	t.streamTime.Set(unix(streamTime))
	t.watermark.Set(unix(watermark))
}

// StoreBytes sets the estimated size on disk of one of the task's stores.
func (t *Task) StoreBytes(store string, n uint64) {
	t.m.storeBytes.WithLabelValues(t.id, store).Set(float64(n))
}

// Commit counts a successful commit that took d.
func (m *Metrics) Commit(d time.Duration) {
	m.commits.Inc()
	m.commitLatency.Observe(d.Seconds())
}

// Lag sets the consumer lag of an input partition.
func (m *Metrics) Lag(topic string, partition int32, lag int64) {
	k := topicPartition{topic, partition}
	m.lagMu.Lock()
	g, ok := m.lagCache[k]
	if !ok {
		g = m.lag.WithLabelValues(topic, strconv.Itoa(int(partition)))
		m.lagCache[k] = g
	}
	m.lagMu.Unlock()
	g.Set(float64(max(lag, 0)))
}

// ForgetLag removes the lag of input partitions this instance no longer
// consumes.
func (m *Metrics) ForgetLag(topic string, partitions []int32) {
	m.lagMu.Lock()
	defer m.lagMu.Unlock()
	for _, p := range partitions {
		k := topicPartition{topic, p}
		if _, ok := m.lagCache[k]; ok {
			delete(m.lagCache, k)
			m.lag.DeleteLabelValues(topic, strconv.Itoa(int(p)))
		}
	}
}

// DeadLetter counts a dead-lettered record of a kind of failure.
func (m *Metrics) DeadLetter(kind string) { m.deadLetters.WithLabelValues(kind).Inc() }

// Skip counts a skipped record of a kind of failure.
func (m *Metrics) Skip(kind string) { m.skipped.WithLabelValues(kind).Inc() }

// Restore sets the progress of the restore of a store of a task.
func (m *Metrics) Restore(task, store string, done, toGo int64) {
	m.restoreDone.WithLabelValues(task, store).Set(float64(done))
	m.restoreToGo.WithLabelValues(task, store).Set(float64(toGo))
}

// Rebalance counts a completed rebalance.
func (m *Metrics) Rebalance() { m.rebalances.Inc() }

// State sets the App's state, by its number (an index in States).
func (m *Metrics) State(s int) {
	for i, name := range States {
		v := 0.0
		if i == s {
			v = 1
		}
		m.state.WithLabelValues(name).Set(v)
	}
	m.stateValue.Set(float64(s))
}
