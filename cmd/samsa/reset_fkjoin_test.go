package main

import (
	"testing"

	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/topology"
)

// TestResetKnowsFKJoinTopics: reset deletes every internal topic of an
// application with a foreign-key join, whose repartition topics are named
// as Kafka Streams names them (-subscription-registration-topic,
// -subscription-response-topic), and no other application's topics or
// its input and output topics.
func TestResetKnowsFKJoinTopics(t *testing.T) {
	top := topology.New()
	orders := topology.TableOf(top, "orders", "orders-store", serde.String, serde.String)
	customers := topology.TableOf(top, "customers", "customers-store", serde.String, serde.String)
	topology.FKJoin(orders, customers, "fk", func(_, o string) (string, bool) { return o, o != "" },
		func(_, o, c string) string { return o + c }, topology.FKSerdes[string, string, string, string, string]{}).
		ToStream().To("out", serde.String, serde.String)
	c, err := top.Compile("app")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.InternalTopics()) != 6 { // with the result store's changelog
		t.Fatalf("internal topics %v, want 6", c.InternalTopics())
	}
	for _, topic := range c.InternalTopics() {
		if !internalTopic("app", topic) {
			t.Errorf("%s is not recognized as internal", topic)
		}
	}
	for _, topic := range []string{"orders", "customers", "out", "other-fk-subscription-response-topic", "app-subscription-response"} {
		if internalTopic("app", topic) {
			t.Errorf("%s is taken for an internal topic", topic)
		}
	}
}
