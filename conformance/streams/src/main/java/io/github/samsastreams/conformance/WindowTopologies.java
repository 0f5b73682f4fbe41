package io.github.samsastreams.conformance;

import java.time.Duration;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.SessionWindows;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.Windowed;

/**
 * The Kafka Streams side of the windowed-aggregation conformance topologies,
 * by name. Each one has a twin of the same name in
 * conformance/topologies_window_test.go built with samsa's DSL. Windowed keys
 * are written as key + "@" + start + "/" + end (milliseconds), so that both
 * sides print them the same with the String serde.
 */
final class WindowTopologies {
  private WindowTopologies() {}

  /** Builds the topology of that name, or returns null for an unknown name. */
  static Topology build(String name) {
    StreamsBuilder b = new StreamsBuilder();
    KStream<String, String> in = b.stream("in");
    switch (name) {
      // Tumbling windows of 10 ms, no grace.
      case "tumblingCount" -> longs(in.groupByKey()
          .windowedBy(TimeWindows.ofSizeWithNoGrace(Duration.ofMillis(10)))
          .count());
      // Hopping windows of 10 ms advancing by 5 ms, no grace.
      case "hoppingCount" -> longs(in.groupByKey()
          .windowedBy(TimeWindows.ofSizeWithNoGrace(Duration.ofMillis(10)).advanceBy(Duration.ofMillis(5)))
          .count());
      // Tumbling windows of 10 ms with 5 ms grace; reduce joins the values
      // (a tombstone's null as "", as samsa's reducer sees it).
      case "windowedReduce" -> strings(in.groupByKey()
          .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMillis(10), Duration.ofMillis(5)))
          .reduce((agg, v) -> agg + "+" + orEmpty(v)));
      // Hopping windows of 10 ms by 5 ms with 3 ms grace; aggregate makes a
      // list that starts with "[" (a tombstone's null as "").
      case "windowedAggregate" -> strings(in.groupByKey()
          .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMillis(10), Duration.ofMillis(3))
              .advanceBy(Duration.ofMillis(5)))
          .aggregate(() -> "[", (k, v, agg) -> agg + orEmpty(v) + ";"));
      // Tumbling windows of 10 ms with 5 ms grace, after a filter that drops
      // values starting with "skip": what stream time does the window
      // processor see?
      case "windowedLate" -> longs(in.filterNot((k, v) -> v != null && v.startsWith("skip"))
          .groupByKey()
          .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMillis(10), Duration.ofMillis(5)))
          .count());
      // Session windows with a 10 ms inactivity gap and 5 ms grace.
      case "sessionCount" -> longs(in.groupByKey()
          .windowedBy(SessionWindows.ofInactivityGapAndGrace(Duration.ofMillis(10), Duration.ofMillis(5)))
          .count());
      default -> {
        return null;
      }
    }
    return b.build();
  }

  private static String orEmpty(String v) {
    return v == null ? "" : v;
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
