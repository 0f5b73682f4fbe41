// Package conformance holds samsa's DSL conformance suite: each scenario
// (testdata/*.json) is run through a topology built with samsa's DSL on
// testkit.Driver and through the same topology built with Kafka Streams'
// StreamsBuilder on its TopologyTestDriver (the Maven project in streams/),
// and the output records are compared record for record: topic, key, value,
// timestamp and, where the scenario sets them, headers.
//
// The package has no API; run it with `go test ./conformance/`. See
// README.md for how to add a scenario.
package conformance
