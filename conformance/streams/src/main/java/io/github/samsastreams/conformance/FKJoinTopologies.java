package io.github.samsastreams.conformance;

import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.TableJoined;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * The foreign-key table joins (KIP-213): the Kafka Streams twins of
 * topologies_fkjoin_test.go. Orders ("customer:item") are joined with
 * customers on the customer id before the colon; a value without one has
 * a null foreign key. A missing right side is printed as "none".
 */
final class FKJoinTopologies {
  private FKJoinTopologies() {}

  /** Returns the topology of that name, or null if it is not one of these. */
  static Topology build(String name) {
    StreamsBuilder b = new StreamsBuilder();
    switch (name) {
      case "fkJoin" -> orders(b)
          .join(customers(b), FKJoinTopologies::customerOf, (o, c) -> o + "|" + c, TableJoined.as("fk"))
          .toStream().to("out");
      case "fkLeftJoin" -> orders(b)
          .leftJoin(customers(b), FKJoinTopologies::customerOf, (o, c) -> o + "|" + (c == null ? "none" : c), TableJoined.as("fk"))
          .toStream().to("out");
      case "fkJoinFiltered" -> orders(b)
          .filter((k, v) -> !v.contains("x"))
          .mapValues(v -> v + "!")
          .join(customers(b).filter((k, v) -> !v.isEmpty()), FKJoinTopologies::customerOf, (o, c) -> o + "|" + c, TableJoined.as("fk"))
          .toStream().to("out");
      default -> {
        return null;
      }
    }
    return b.build();
  }

  /** The customer id before the first colon; null when there is none. */
  static String customerOf(String order) {
    int i = order.indexOf(':');
    return i <= 0 ? null : order.substring(0, i);
  }

  private static KTable<String, String> orders(StreamsBuilder b) {
    return b.table("orders", Materialized.<String, String, KeyValueStore<Bytes, byte[]>>as("orders-store"));
  }

  private static KTable<String, String> customers(StreamsBuilder b) {
    return b.table("customers", Materialized.<String, String, KeyValueStore<Bytes, byte[]>>as("customers-store"));
  }
}
