package samsa

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa/exactlyonce"
	"github.com/samsa-streams/samsa/internal/engine"
	"github.com/samsa-streams/samsa/processor"
)

// output is the engine.Output of a running App: the franz-go producer, with
// the first produce error kept until the next commit.
type output struct {
	cl        *kgo.Client
	bootstrap []string
	// production error policy, dead-letter topic and counters.
	policy       ErrorPolicies
	dlq          string
	appID        string
	log          *slog.Logger
	skipped      *atomic.Int64 // the App's counters
	deadLettered *atomic.Int64
	rr           atomic.Int32

	mu       sync.Mutex
	alone    *kgo.Client // sends records rejected in a too-large batch again, one by one
	parts    map[string]int32
	firstErr error
}

func (o *output) Produce(topic string, partition int32, key, value []byte, ts time.Time, headers []processor.Header, origin *kgo.Record) {
	if partition < 0 {
		n, err := o.Partitions(topic)
		if err != nil {
			o.promise(&kgo.Record{Topic: topic}, err)
			return
		}
		if key != nil {
			partition = engine.KeyPartition(key, n)
		} else {
			partition = (o.rr.Add(1) & 0x7fffffff) % n
		}
	}
	r := &kgo.Record{Topic: topic, Partition: partition, Key: key, Value: value, Timestamp: ts}
	if len(headers) > 0 {
		r.Headers = make([]kgo.RecordHeader, len(headers))
		for i, h := range headers {
			r.Headers[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
		}
	}
	if origin == nil || o.policy.Production == Fail {
		o.cl.Produce(context.Background(), r, o.promise)
		return
	}
	o.cl.Produce(context.Background(), r, func(r *kgo.Record, err error) {
		if err == nil {
			return
		}
		o.productionError(r, origin, err)
	})
}

// productionError applies the production error policy to a rejected record.
// The broker rejects a whole batch whose size is over the limit, so a record
// rejected as too large is first sent again alone: its innocent neighbours
// get through, and only a record too large by itself meets the policy (the
// retried records may land after records produced later).
func (o *output) productionError(r, origin *kgo.Record, err error) {
	if errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge) {
		if err = o.produceAlone(r); err == nil {
			return
		}
	}
	werr := fmt.Errorf("produce to topic %q partition %d for the record at topic %q partition %d offset %d: %w", r.Topic, r.Partition, origin.Topic, origin.Partition, origin.Offset, err)
	switch o.policy.Production {
	case Skip:
		o.skipped.Add(1)
		o.log.Warn("skipping a record the broker rejected", "err", werr)
	case DeadLetter:
		o.deadLettered.Add(1)
		o.log.Warn("dead-lettering a record the broker rejected", "err", werr)
		task := fmt.Sprintf("?_%d", origin.Partition)
		o.Produce(o.dlq, -1, origin.Key, origin.Value, origin.Timestamp,
			engine.DeadLetterHeaders(origin, engine.ErrorProduction, werr, o.appID, task, time.Now()), nil)
	default:
		o.promise(r, err)
	}
}

// produceAck produces a changelog record and reports its offset to ack once
// the broker acknowledged it.
func (o *output) produceAck(topic string, partition int32, key, value []byte, ack func(int64)) {
	r := &kgo.Record{Topic: topic, Partition: partition, Key: key, Value: value}
	o.cl.Produce(context.Background(), r, func(r *kgo.Record, err error) {
		if err != nil {
			o.promise(r, err)
			return
		}
		ack(r.Offset)
	})
}

func (o *output) promise(r *kgo.Record, err error) {
	if err == nil {
		return
	}
	o.mu.Lock()
	if o.firstErr == nil {
		if fenced(err) {
			// A newer producer with our transactional id, or the group,
			// fenced this one: what it wrote is aborted; rebuild.
			err = fmt.Errorf("%w: fenced: %w", exactlyonce.ErrUnknownOutcome, err)
		}
		o.firstErr = fmt.Errorf("samsa: produce to topic %q partition %d: %w", r.Topic, r.Partition, err)
	}
	o.mu.Unlock()
}

// produceAlone sends one record in a batch of its own, synchronously.
func (o *output) produceAlone(r *kgo.Record) error {
	o.mu.Lock()
	if o.alone == nil {
		cl, err := kgo.NewClient(kgo.SeedBrokers(o.bootstrap...), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
		if err != nil {
			o.mu.Unlock()
			return err
		}
		o.alone = cl
	}
	cl := o.alone
	o.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	one := &kgo.Record{Topic: r.Topic, Partition: r.Partition, Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp}
	return cl.ProduceSync(ctx, one).FirstErr()
}

// close releases the client of lone retries.
func (o *output) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.alone != nil {
		o.alone.Close()
		o.alone = nil
	}
}

// reset forgets a produce error after the transaction that saw it aborted.
func (o *output) reset() {
	o.mu.Lock()
	o.firstErr = nil
	o.mu.Unlock()
}

func (o *output) err() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.firstErr
}

// Partitions returns the partition count of an output topic; topics chosen
// per record are looked up once.
func (o *output) Partitions(topic string) (int32, error) {
	o.mu.Lock()
	n, ok := o.parts[topic]
	o.mu.Unlock()
	if ok {
		return n, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	td, err := kadm.NewClient(o.cl).ListTopics(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("look up topic %q: %w", topic, err)
	}
	d, ok := td[topic]
	if !ok || d.Err != nil {
		return 0, fmt.Errorf("%w: output topic %q does not exist", ErrMissingTopic, topic)
	}
	n = int32(len(d.Partitions))
	o.mu.Lock()
	o.parts[topic] = n
	o.mu.Unlock()
	return n, nil
}

// fenced reports whether a produce error means this transactional producer
// was fenced or its transaction can no longer commit.
func fenced(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) ||
		errors.Is(err, kerr.TransactionAbortable) || errors.Is(err, kerr.InvalidTxnState)
}
