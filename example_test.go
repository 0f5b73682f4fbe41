package samsa_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// An App on the embedded in-process cluster: produce, process, read back.
func Example() {
	cluster, err := testkit.Embedded(1)
	if err != nil {
		panic(err)
	}
	defer cluster.Close()
	ctx := context.Background()
	for _, topic := range []string{"greetings", "shouts"} {
		if err := cluster.CreateTopic(ctx, topic, 1, nil); err != nil {
			panic(err)
		}
	}
	if err := cluster.Produce(ctx, false,
		&kgo.Record{Topic: "greetings", Key: []byte("ann"), Value: []byte("hello")},
		&kgo.Record{Topic: "greetings", Key: []byte("bob"), Value: []byte("")},
		&kgo.Record{Topic: "greetings", Key: []byte("cy"), Value: []byte("hi")},
	); err != nil {
		panic(err)
	}

	top := topology.New()
	greetings := topology.StreamOf(top, serde.String, serde.String, "greetings")
	topology.MapValues(greetings, func(_ string, v string) string { return strings.ToUpper(v) + "!" }).
		Filter(func(_ string, v string) bool { return v != "!" }).
		To("shouts", serde.String, serde.String)

	app, err := samsa.New(top, samsa.Config{
		ApplicationID: "shouter",
		InMemoryState: true,
		Bootstrap:     cluster.Bootstrap,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		panic(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- app.Run(runCtx) }()
	for app.Processed() < 3 {
		select {
		case err := <-done:
			panic(fmt.Sprintf("app stopped: %v", err))
		case <-time.After(10 * time.Millisecond):
		}
	}
	stop() // graceful: commits what was processed
	if err := <-done; err != nil {
		panic(err)
	}

	out, err := cluster.ReadTopic(ctx, "shouts")
	if err != nil {
		panic(err)
	}
	for _, r := range out[0] {
		fmt.Printf("%s: %s\n", r.Key, r.Value)
	}
	// Output:
	// ann: HELLO!
	// cy: HI!
}
