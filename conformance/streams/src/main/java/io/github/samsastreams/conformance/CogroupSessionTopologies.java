package io.github.samsastreams.conformance;

import java.time.Duration;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.SessionWindows;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.state.SessionStore;

/**
 * The Kafka Streams side of the session-windowed cogroup conformance
 * topologies, by name. Each one has a twin of the same name in
 * conformance/topologies_cogroup_session_test.go built with samsa's DSL.
 * in-a and in-b are cogrouped as in CogroupWindowTopologies (adders
 * agg + "a:" + v + ";" and agg + "b:" + v + ";" from ""), then windowed
 * into sessions of a 10 ms inactivity gap and 5 ms grace, merged with
 * a + b; keys are written as key@start/end (milliseconds, end inclusive).
 */
final class CogroupSessionTopologies {
  private CogroupSessionTopologies() {}

  /** Builds the topology of that name, or returns null for an unknown name. */
  static Topology build(String name) {
    StreamsBuilder b = new StreamsBuilder();
    SessionWindows sessions = SessionWindows.ofInactivityGapAndGrace(Duration.ofMillis(10), Duration.ofMillis(5));
    switch (name) {
      case "cogroupSession" -> CogroupWindowTopologies.strings(CogroupWindowTopologies.cogrouped(b)
          .windowedBy(sessions)
          .aggregate(() -> "", (k, x, y) -> x + y));
      // Final results only.
      case "cogroupSessionFinal" -> CogroupWindowTopologies.strings(CogroupWindowTopologies.cogrouped(b)
          .windowedBy(sessions)
          .aggregate(() -> "", (k, x, y) -> x + y,
              Materialized.<String, String, SessionStore<Bytes, byte[]>>with(Serdes.String(), Serdes.String())) // the serdes suppress buffers with
          .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded())));
      default -> {
        return null;
      }
    }
    return b.build();
  }
}
