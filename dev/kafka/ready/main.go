// Command ready checks that a Kafka cluster is usable by samsa's tests: it
// answers a metadata request and a transactional producer can commit a
// transaction (so the transaction state topic exists and has leaders). It
// retries until -timeout and exits non-zero, saying why, if the cluster is
// not ready by then. dev/kafka/run uses it after starting a broker.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	bootstrap := flag.String("bootstrap", "", "host:port[,host:port…]")
	brokers := flag.Int("brokers", 1, "number of brokers that must be up")
	timeout := flag.Duration("timeout", 120*time.Second, "give up after this long")
	flag.Parse()
	if *bootstrap == "" {
		fmt.Fprintln(os.Stderr, "ready: -bootstrap is required")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var last error
	for {
		last = check(ctx, strings.Split(*bootstrap, ","), *brokers)
		if last == nil {
			return
		}
		select {
		case <-ctx.Done():
			fmt.Fprintf(os.Stderr, "ready: cluster at %s not ready after %s: %v\n", *bootstrap, *timeout, last)
			os.Exit(1)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func check(ctx context.Context, seeds []string, brokers int) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	md, err := adm.BrokerMetadata(ctx)
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	if len(md.Brokers) < brokers {
		return fmt.Errorf("%d of %d brokers up", len(md.Brokers), brokers)
	}
	const topic = "__samsa_ready"
	rf := int16(min(brokers, 3))
	if _, err := adm.CreateTopic(ctx, 1, rf, nil, topic); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create topic: %w", err)
	}
	tx, err := kgo.NewClient(kgo.SeedBrokers(seeds...),
		kgo.TransactionalID("samsa-ready"),
		kgo.DefaultProduceTopic(topic),
		kgo.TransactionTimeout(10*time.Second))
	if err != nil {
		return err
	}
	defer tx.Close()
	if err := tx.BeginTransaction(); err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := tx.ProduceSync(ctx, &kgo.Record{Value: []byte("ready")}).FirstErr(); err != nil {
		_ = tx.EndTransaction(ctx, kgo.TryAbort)
		return fmt.Errorf("transactional produce: %w", err)
	}
	if err := tx.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	return nil
}
