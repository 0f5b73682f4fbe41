package io.github.samsastreams.conformance;

import java.time.Duration;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.EmitStrategy;
import org.apache.kafka.streams.kstream.KGroupedStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.SessionWindows;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.Windowed;
import org.apache.kafka.streams.state.SessionStore;
import org.apache.kafka.streams.state.WindowStore;

/**
 * The Kafka Streams side of the conformance topologies of final results of
 * windowed aggregations (samsa's Windows.EmitFinal and Sessions.EmitFinal),
 * by name. Each has a twin of the same name in
 * conformance/topologies_final_test.go (sessions:
 * conformance/topologies_session_final_test.go). Windowed
 * keys are written as key + "@" + start + "/" + end (milliseconds), as in
 * {@link WindowTopologies}.
 *
 * <p>Most use suppress(untilWindowCloses(unbounded())); the names ending in
 * "Emit" use emitStrategy(EmitStrategy.onWindowClose()) instead, which the
 * Runner lets emit at every record (its wall-clock throttle set to 0).
 */
final class FinalTopologies {
  private FinalTopologies() {}

  /** Builds the topology of that name, or returns null for an unknown name. */
  static Topology build(String name) {
    StreamsBuilder b = new StreamsBuilder();
    KGroupedStream<String, String> in = b.<String, String>stream("in").groupByKey();
    TimeWindows tumbling = TimeWindows.ofSizeAndGrace(Duration.ofMillis(10), Duration.ofMillis(5));
    TimeWindows hopping = TimeWindows.ofSizeAndGrace(Duration.ofMillis(10), Duration.ofMillis(3))
        .advanceBy(Duration.ofMillis(5));
    SessionWindows sessions = SessionWindows.ofInactivityGapAndGrace(Duration.ofMillis(10), Duration.ofMillis(5));
    switch (name) {
      // Tumbling windows of 10 ms with 5 ms grace, counted, final results.
      case "tumblingCountFinal" -> longs(suppressed(in.windowedBy(tumbling).count(counts())));
      case "tumblingCountFinalEmit" -> longs(in.windowedBy(tumbling)
          .emitStrategy(EmitStrategy.onWindowClose()).count());
      // Hopping windows of 10 ms by 5 ms with 3 ms grace, counted.
      case "hoppingCountFinal" -> longs(suppressed(in.windowedBy(hopping).count(counts())));
      case "hoppingCountFinalEmit" -> longs(in.windowedBy(hopping)
          .emitStrategy(EmitStrategy.onWindowClose()).count());
      // Tumbling windows of 10 ms with 5 ms grace; reduce joins the values
      // (a tombstone's null as "", as samsa's reducer sees it).
      case "windowedReduceFinal" -> strings(suppressed(in.windowedBy(tumbling)
          .reduce((agg, v) -> agg + "+" + (v == null ? "" : v),
              Materialized.with(Serdes.String(), Serdes.String()))));
      // Session windows with a 10 ms inactivity gap and 5 ms grace, counted,
      // final results (samsa: SessionCount with Sessions.EmitFinal).
      case "sessionCountFinal" -> longs(suppressed(in.windowedBy(sessions)
          .count(Materialized.<String, Long, SessionStore<Bytes, byte[]>>with(Serdes.String(), Serdes.Long()))));
      case "sessionCountFinalEmit" -> longs(in.windowedBy(sessions)
          .emitStrategy(EmitStrategy.onWindowClose()).count());
      default -> {
        return null;
      }
    }
    return b.build();
  }

  /** The serdes suppress needs to buffer windowed counts. */
  private static Materialized<String, Long, WindowStore<Bytes, byte[]>> counts() {
    return Materialized.with(Serdes.String(), Serdes.Long());
  }

  private static <V> KTable<Windowed<String>, V> suppressed(KTable<Windowed<String>, V> t) {
    return t.suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()));
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
