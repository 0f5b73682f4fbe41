package samsa

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa/exactlyonce"
	"github.com/samsa-streams/samsa/processor"
)

// output is the engine.Output of a running App: the franz-go producer, with
// the first produce error kept until the next commit.
type output struct {
	cl        *kgo.Client
	bootstrap []string

	mu       sync.Mutex
	parts    map[string]int32
	firstErr error
}

func (o *output) Produce(topic string, partition int32, key, value []byte, ts time.Time, headers []processor.Header) {
	r := &kgo.Record{Topic: topic, Partition: partition, Key: key, Value: value, Timestamp: ts}
	if len(headers) > 0 {
		r.Headers = make([]kgo.RecordHeader, len(headers))
		for i, h := range headers {
			r.Headers[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
		}
	}
	o.cl.Produce(context.Background(), r, o.promise)
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
