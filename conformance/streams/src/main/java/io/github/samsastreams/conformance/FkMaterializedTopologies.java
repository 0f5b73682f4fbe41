package io.github.samsastreams.conformance;

import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.TableJoined;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * The result of a foreign-key join used as a table: looked up by a
 * stream-table and a table-table join, filtered, grouped and counted. The
 * Kafka Streams twins of topologies_fkjoin_materialized_test.go. Orders
 * ("customer:item") are joined with customers on the customer id before
 * the colon, as in FKJoinTopologies. The result is materialized as samsa
 * materializes it (see result()).
 */
final class FkMaterializedTopologies {
  private FkMaterializedTopologies() {}

  /** Returns the topology of that name, or null if it is not one of these. */
  static Topology build(String name) {
    StreamsBuilder b = new StreamsBuilder();
    switch (name) {
      case "fkMatStreamJoin" -> {
        KTable<String, String> enriched = orders(b)
            .join(customers(b), FKJoinTopologies::customerOf, (o, c) -> o + "|" + c, TableJoined.as("fk"), result());
        KStream<String, String> s = b.stream("in");
        s.join(enriched, (k, v, e) -> k + ":" + v + ">" + e).to("out");
        s.leftJoin(enriched, (k, v, e) -> (k == null ? "" : k) + ":" + v + ">" + (e == null ? "none" : e)).to("out-left");
      }
      case "fkMatFilterCount" -> {
        KTable<String, String> enriched = orders(b)
            .leftJoin(customers(b), FKJoinTopologies::customerOf, (o, c) -> o + "|" + (c == null ? "none" : c), TableJoined.as("fk"), result());
        enriched.filter((k, v) -> !v.endsWith("|none")).toStream().to("out");
        enriched.groupBy((k, v) -> KeyValue.pair(customerName(v), v), Grouped.as("g"))
            .count().toStream()
            .to("counts", Produced.with(Serdes.String(), Serdes.Long()));
      }
      case "fkFilterCountLazy" -> {
        // fkMatFilterCount without Materialized: the result is materialized
        // only by the groupBy, after the filter was declared.
        KTable<String, String> enriched = orders(b)
            .leftJoin(customers(b), FKJoinTopologies::customerOf, (o, c) -> o + "|" + (c == null ? "none" : c), TableJoined.as("fk"));
        enriched.filter((k, v) -> !v.endsWith("|none")).toStream().to("out");
        enriched.groupBy((k, v) -> KeyValue.pair(customerName(v), v), Grouped.as("g"))
            .count().toStream()
            .to("counts", Produced.with(Serdes.String(), Serdes.Long()));
      }
      case "fkMatTableJoin" -> orders(b)
          .join(customers(b), FKJoinTopologies::customerOf, (o, c) -> o + "|" + c, TableJoined.as("fk"), result())
          .join(b.table("shipments", Materialized.<String, String, KeyValueStore<Bytes, byte[]>>as("shipments-store")),
              (e, s) -> e + "#" + s)
          .toStream().to("out");
      default -> {
        return null;
      }
    }
    return b.build();
  }

  /**
   * The result's store, as samsa names it: samsa always materializes a
   * foreign-key join's result (in {@code <name>-result-store}), as Kafka
   * Streams does given {@code Materialized.as}. Without it, Kafka Streams
   * materializes the result only once an operator needs it, and a filter
   * declared before that forwards a tombstone for every rejected value,
   * also of keys it never had.
   */
  private static Materialized<String, String, KeyValueStore<Bytes, byte[]>> result() {
    return Materialized.as("fk-result-store");
  }

  /** The customer's name in a joined value "order|name": after the last bar. */
  static String customerName(String v) {
    return v.substring(v.lastIndexOf('|') + 1);
  }

  private static KTable<String, String> orders(StreamsBuilder b) {
    return b.table("orders", Materialized.<String, String, KeyValueStore<Bytes, byte[]>>as("orders-store"));
  }

  private static KTable<String, String> customers(StreamsBuilder b) {
    return b.table("customers", Materialized.<String, String, KeyValueStore<Bytes, byte[]>>as("customers-store"));
  }
}
