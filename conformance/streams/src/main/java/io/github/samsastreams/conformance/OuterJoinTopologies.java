package io.github.samsastreams.conformance;

import java.time.Duration;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.JoinWindows;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.StreamJoined;

/**
 * The left and outer stream-stream joins: the Kafka Streams twins of
 * topologies_outerjoin_test.go. A missing side is printed as "null" (Java's
 * string concatenation of a null).
 */
final class OuterJoinTopologies {
  private OuterJoinTopologies() {}

  /** Returns the topology of that name, or null if it is not one of these. */
  static Topology build(String name) {
    StreamsBuilder b = new StreamsBuilder();
    JoinWindows windows = JoinWindows.ofTimeDifferenceAndGrace(Duration.ofMillis(10), Duration.ofMillis(5));
    switch (name) {
      case "leftJoinStreams" -> {
        KStream<String, String> l = b.stream("in-a");
        KStream<String, String> r = b.stream("in-b");
        l.leftJoin(r, (v1, v2) -> v1 + "+" + v2, windows, StreamJoined.as("j")).to("out");
      }
      case "outerJoinStreams" -> {
        KStream<String, String> l = b.stream("in-a");
        KStream<String, String> r = b.stream("in-b");
        l.outerJoin(r, (v1, v2) -> v1 + "+" + v2, windows, StreamJoined.as("j")).to("out");
      }
      default -> {
        return null;
      }
    }
    return b.build();
  }
}
