package io.github.samsastreams.conformance;

import java.util.Locale;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * The Kafka Streams side of the table and stream-table join conformance
 * topologies, by name. Each one has a twin of the same name in
 * conformance/topologies_table_test.go built with samsa's DSL; the two must
 * stay the same program.
 */
final class TableTopologies {
  private TableTopologies() {}

  /** Returns the topology of that name, or null when it is not a table topology. */
  static Topology build(String name) {
    StreamsBuilder b = new StreamsBuilder();
    switch (name) {
      case "table" -> table(b, "in", "table-store").toStream().to("out");
      case "cogroup" -> {
        org.apache.kafka.streams.kstream.KGroupedStream<String, String> ga = b.<String, String>stream("in-a").groupByKey();
        org.apache.kafka.streams.kstream.KGroupedStream<String, String> gb = b.<String, String>stream("in-b").groupByKey();
        ga.<String>cogroup((k, v, agg) -> agg + "a:" + v + ";")
            .cogroup(gb, (k, v, agg) -> agg + "b:" + v + ";")
            .aggregate(() -> "").toStream().to("out");
      }
      case "streamStreamJoin" -> {
        KStream<String, String> l = b.stream("in-a");
        KStream<String, String> r = b.stream("in-b");
        l.join(r, (v1, v2) -> v1 + "|" + v2,
            org.apache.kafka.streams.kstream.JoinWindows.ofTimeDifferenceAndGrace(
                java.time.Duration.ofMillis(10), java.time.Duration.ofMillis(5)),
            org.apache.kafka.streams.kstream.StreamJoined.as("j")).to("out");
      }
      case "tableGroupCount" -> table(b, "in", "table-store")
          .groupBy((k, v) -> org.apache.kafka.streams.KeyValue.pair(Topologies.firstLetter(v), v),
              org.apache.kafka.streams.kstream.Grouped.as("g"))
          .count().toStream()
          .to("counts", org.apache.kafka.streams.kstream.Produced.with(
              org.apache.kafka.common.serialization.Serdes.String(), org.apache.kafka.common.serialization.Serdes.Long()));
      case "tableGroupAggregate" -> table(b, "in", "table-store")
          .groupBy((k, v) -> org.apache.kafka.streams.KeyValue.pair(Topologies.firstLetter(v), k),
              org.apache.kafka.streams.kstream.Grouped.as("g"))
          .aggregate(() -> "", (k, v, agg) -> agg + "+" + v, (k, v, agg) -> agg + "-" + v)
          .toStream().to("out");
      case "tableFilter" -> table(b, "in", "table-store")
          .filter((k, v) -> !v.startsWith("x")).toStream().to("out");
      case "tableMapValues" -> table(b, "in", "table-store")
          .mapValues((k, v) -> k + ":" + v.toUpperCase(Locale.ROOT)).toStream().to("out");
      case "streamTableJoin" -> {
        KStream<String, String> s = b.stream("in");
        KTable<String, String> t = table(b, "table-in", "table-store");
        s.join(t, (k, v, vt) -> k + ":" + v + "|" + vt).to("out");
      }
      case "streamTableLeftJoin" -> {
        KStream<String, String> s = b.stream("in");
        KTable<String, String> t = table(b, "table-in", "table-store");
        s.leftJoin(t, TableTopologies::leftJoiner).to("out");
      }
      case "streamFilteredTableJoin" -> {
        KStream<String, String> s = b.stream("in");
        KTable<String, String> t = table(b, "table-in", "table-store")
            .filter((k, v) -> !v.startsWith("x"))
            .mapValues(v -> v.toUpperCase(Locale.ROOT));
        s.leftJoin(t, TableTopologies::leftJoiner).to("out");
      }
      case "tableJoin" -> table(b, "in-a", "a-store")
          .join(table(b, "in-b", "b-store"), (va, vb) -> va + "|" + vb).toStream().to("out");
      case "tableLeftJoin" -> table(b, "in-a", "a-store")
          .leftJoin(table(b, "in-b", "b-store"), (va, vb) -> va + "|" + orNone(vb)).toStream().to("out");
      case "tableOuterJoin" -> table(b, "in-a", "a-store")
          .outerJoin(table(b, "in-b", "b-store"), (va, vb) -> orNone(va) + "|" + orNone(vb)).toStream().to("out");
      case "tableLeftJoinFilter" -> table(b, "in-a", "a-store")
          .leftJoin(table(b, "in-b", "b-store"), (va, vb) -> va + "|" + orNone(vb))
          .filter((k, v) -> !v.startsWith("x")).toStream().to("out");
      default -> {
        return null;
      }
    }
    return b.build();
  }

  /**
   * The joiner of the left joins. samsa's joiner sees "" for a null key (a
   * left join keeps a stream record with a null key) and found false for a
   * missing table value; this one treats null as samsa's treats them.
   */
  private static String leftJoiner(String k, String v, String vt) {
    return (k == null ? "" : k) + ":" + v + "|" + (vt == null ? "none" : vt);
  }

  private static String orNone(String v) {
    return v == null ? "none" : v;
  }

  private static KTable<String, String> table(StreamsBuilder b, String topic, String store) {
    return b.table(topic, Materialized.<String, String, KeyValueStore<Bytes, byte[]>>as(store));
  }
}
