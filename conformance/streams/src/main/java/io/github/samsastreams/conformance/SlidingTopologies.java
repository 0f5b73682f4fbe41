package io.github.samsastreams.conformance;

import java.time.Duration;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.SlidingWindows;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.Windowed;

/**
 * The Kafka Streams side of the sliding-window conformance topologies, by
 * name. Each one has a twin of the same name in
 * conformance/topologies_sliding_test.go built with samsa's DSL. Windowed
 * keys are written as key + "@" + start + "/" + end (milliseconds; a sliding
 * window's end is inclusive), as in WindowTopologies.
 */
final class SlidingTopologies {
  private SlidingTopologies() {}

  /** Builds the topology of that name, or returns null for an unknown name. */
  static Topology build(String name) {
    StreamsBuilder b = new StreamsBuilder();
    KStream<String, String> in = b.stream("in");
    switch (name) {
      // Sliding windows with a 10 ms time difference, no grace.
      case "slidingCount" -> longs(in.groupByKey()
          .windowedBy(SlidingWindows.ofTimeDifferenceWithNoGrace(Duration.ofMillis(10)))
          .count());
      // Sliding windows of 10 ms with 5 ms grace.
      case "slidingCountGrace" -> longs(in.groupByKey()
          .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(Duration.ofMillis(10), Duration.ofMillis(5)))
          .count());
      // The value becomes the key: the count reads a repartition topic.
      case "slidingCountRekey" -> longs(in.selectKey((k, v) -> v)
          .groupByKey()
          .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(Duration.ofMillis(10), Duration.ofMillis(5)))
          .count());
      // Sliding windows of 10 ms with 5 ms grace; reduce joins the values.
      case "slidingReduce" -> strings(in.groupByKey()
          .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(Duration.ofMillis(10), Duration.ofMillis(5)))
          .reduce((agg, v) -> agg + "+" + v));
      // Sliding windows of 10 ms with 20 ms grace; aggregate makes a list
      // that starts with "[".
      case "slidingAggregate" -> strings(in.groupByKey()
          .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(Duration.ofMillis(10), Duration.ofMillis(20)))
          .aggregate(() -> "[", (k, v, agg) -> agg + v + ";"));
      // Sliding windows of 10 ms with 5 ms grace, final counts only.
      case "slidingCountFinal" -> longs(in.groupByKey()
          .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(Duration.ofMillis(10), Duration.ofMillis(5)))
          .count(Materialized.with(Serdes.String(), Serdes.Long())) // the serdes suppress buffers with
          .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded())));
      default -> {
        return null;
      }
    }
    return b.build();
  }

  private static String windowed(Windowed<String> k) {
    return k.key() + "@" + k.window().start() + "/" + k.window().end();
  }

  private static void longs(KTable<Windowed<String>, Long> t) {
    t.toStream().map((k, v) -> KeyValue.pair(windowed(k), v))
        .to("counts", Produced.with(Serdes.String(), Serdes.Long()));
  }

  private static void strings(KTable<Windowed<String>, String> t) {
    t.toStream().map((k, v) -> KeyValue.pair(windowed(k), v)).to("out");
  }
}
