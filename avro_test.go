package samsa_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/serde/avro"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

const clickSchema = `{"type":"record","name":"Click","fields":[{"name":"user","type":"string"},{"name":"n","type":"long"}]}`

type click struct {
	User string `avro:"user"`
	N    int64  `avro:"n"`
}

// TestAvroWithRegistryOutageAndBadRecords: Avro input through the Schema
// Registry; the registry is down for a while (records wait and retry with
// backoff: nothing is lost), and an unknown schema id and a truncated
// payload go to the dead-letter topic.
func TestAvroWithRegistryOutageAndBadRecords(t *testing.T) {
	c := testkit.EmbeddedCluster(t)
	reg, _ := testkit.SchemaRegistry(t)
	var down atomic.Int64
	target, _ := url.Parse(reg.URL())
	proxy := httputil.NewSingleHostReverseProxy(target)
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() > 0 {
			down.Add(-1)
			http.Error(w, `{"error_code":50301,"message":"registry down"}`, http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(flaky.Close)
	cl, err := sr.NewClient(sr.URLs(flaky.URL))
	if err != nil {
		t.Fatal(err)
	}
	writer, err := avro.New[click](avro.Config{Client: cl, Schema: clickSchema})
	if err != nil {
		t.Fatal(err)
	}
	reader, err := avro.New[click](avro.Config{Client: cl, Schema: clickSchema})
	if err != nil {
		t.Fatal(err)
	}
	in, out, dlq := c.Topic(t, "clicks", 1), c.Topic(t, "clicks-out", 1), c.Topic(t, "clicks-dlq", 1)
	var recs []*kgo.Record
	for i := range 50 {
		b, err := writer.Serialize(in, click{User: "u", N: int64(i)})
		if err != nil {
			t.Fatal(err)
		}
		switch i {
		case 20:
			b = append([]byte{0, 0, 0, 0x30, 0x39}, b[5:]...) // unknown schema id 12345
		case 30:
			b = b[:len(b)-1] // truncated
		}
		recs = append(recs, &kgo.Record{Topic: in, Key: []byte("u"), Value: b})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.Produce(ctx, true, recs...); err != nil {
		t.Fatal(err)
	}
	// The reader has not fetched the schema yet: the first 6 lookups fail.
	down.Store(6)

	top := topology.New()
	topology.MapValues(topology.StreamOf(top, serde.String, serde.Serde[click](reader), in), func(_ string, c click) int64 { return c.N }).
		To(out, serde.String, serde.Int64)
	app, err := samsa.New(top, samsa.Config{ApplicationID: testkit.UniqueName("avro-app"), Bootstrap: c.Bootstrap,
		StateDir: t.TempDir(), CommitInterval: 100 * time.Millisecond,
		Errors: samsa.ErrorPolicies{Deserialization: samsa.DeadLetter}, DeadLetterTopic: dlq,
		Logger: testkit.Logger(t, slog.LevelWarn)})
	if err != nil {
		t.Fatal(err)
	}
	runUntil(t, app, 50)
	if down.Load() != 0 {
		t.Fatalf("the registry outage was not hit: %d failures left", down.Load())
	}
	got, err := c.ReadTopic(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	if len(got[0]) != 48 {
		t.Fatalf("%d records out, want 48 (nothing lost to the outage)", len(got[0]))
	}
	dl, err := c.ReadTopic(ctx, dlq)
	if err != nil {
		t.Fatal(err)
	}
	if len(dl[0]) != 2 || app.DeadLettered() != 2 {
		t.Fatalf("%d dead letters (counted %d), want 2: unknown id and truncated", len(dl[0]), app.DeadLettered())
	}
}
