package io.github.samsastreams.conformance;

import java.time.Duration;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.CogroupedKStream;
import org.apache.kafka.streams.kstream.KGroupedStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.SlidingWindows;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.Windowed;

/**
 * The Kafka Streams side of the windowed cogroup conformance topologies, by
 * name. Each one has a twin of the same name in
 * conformance/topologies_cogroup_window_test.go built with samsa's DSL. Two
 * streams, in-a and in-b, are cogrouped with the adders agg + "a:" + v + ";"
 * and agg + "b:" + v + ";" from "", then windowed; windowed keys are written
 * as key + "@" + start + "/" + end (milliseconds), as in WindowTopologies.
 */
final class CogroupWindowTopologies {
  private CogroupWindowTopologies() {}

  /** Builds the topology of that name, or returns null for an unknown name. */
  static Topology build(String name) {
    StreamsBuilder b = new StreamsBuilder();
    switch (name) {
      // Hopping windows of 10 ms advancing by 5 ms, with 5 ms grace.
      case "cogroupWindowed" -> strings(cogrouped(b)
          .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMillis(10), Duration.ofMillis(5)).advanceBy(Duration.ofMillis(5)))
          .aggregate(() -> ""));
      // Tumbling windows of 10 ms with 5 ms grace, final results only.
      case "cogroupWindowedFinal" -> strings(cogrouped(b)
          .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMillis(10), Duration.ofMillis(5)))
          .aggregate(() -> "", Materialized.with(Serdes.String(), Serdes.String())) // the serdes suppress buffers with
          .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded())));
      // Sliding windows of 10 ms with 5 ms grace.
      case "cogroupSliding" -> strings(cogrouped(b)
          .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(Duration.ofMillis(10), Duration.ofMillis(5)))
          .aggregate(() -> ""));
      default -> {
        return null;
      }
    }
    return b.build();
  }

  /** in-a and in-b cogrouped with their adders (also CogroupSessionTopologies'). */
  static CogroupedKStream<String, String> cogrouped(StreamsBuilder b) {
    KGroupedStream<String, String> ga = b.<String, String>stream("in-a").groupByKey();
    KGroupedStream<String, String> gb = b.<String, String>stream("in-b").groupByKey();
    return ga.<String>cogroup((k, v, agg) -> agg + "a:" + v + ";")
        .cogroup(gb, (k, v, agg) -> agg + "b:" + v + ";");
  }

  /** Writes t's updates to out, keys as key@start/end (also CogroupSessionTopologies'). */
  static void strings(KTable<Windowed<String>, String> t) {
    t.toStream().map((k, v) -> KeyValue.pair(k.key() + "@" + k.window().start() + "/" + k.window().end(), v)).to("out");
  }
}
