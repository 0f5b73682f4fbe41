package io.github.samsastreams.conformance;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Branched;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;

/**
 * The Kafka Streams side of every conformance topology, by name. Each one has
 * a twin of the same name in conformance/topologies_test.go built with samsa's
 * DSL; the two must stay the same program. Keys and values are Strings (the
 * default serdes); counts are written with the Long serde.
 */
final class Topologies {
  private Topologies() {}

  static Topology build(String name) {
    StreamsBuilder b = new StreamsBuilder();
    switch (name) {
      case "passthrough" -> in(b).filter((k, v) -> true).to("out");
      case "filter" -> in(b).filter((k, v) -> !v.startsWith("x")).to("out");
      case "filterNot" -> in(b).filterNot((k, v) -> v.isEmpty() || v.equals(k)).to("out");
      case "mapValues" -> in(b).mapValues((k, v) -> k + ":" + v.toUpperCase(Locale.ROOT)).to("out");
      case "map" -> in(b).map((k, v) -> KeyValue.pair(v, k)).to("out");
      case "flatMap" -> in(b).flatMap((k, v) -> {
        List<KeyValue<String, String>> out = new ArrayList<>();
        for (String part : v.split(",", -1)) {
          if (!part.isEmpty()) {
            out.add(KeyValue.pair(k + "#" + out.size(), part));
          }
        }
        return out;
      }).to("out");
      case "selectKey" -> in(b).selectKey((k, v) -> firstLetter(v)).to("out");
      case "branch" -> {
        Map<String, KStream<String, String>> branches = in(b).split(Named.as("split-"))
            .branch((k, v) -> v.startsWith("a"), Branched.as("a"))
            .branch((k, v) -> v.contains("b"), Branched.as("b"))
            .defaultBranch(Branched.as("other"));
        branches.get("split-a").to("out-a");
        branches.get("split-b").to("out-b");
        branches.get("split-other").to("out-other");
      }
      case "merge" -> {
        KStream<String, String> a = b.stream("in-a");
        KStream<String, String> c = b.stream("in-b");
        a.merge(c).to("out");
      }
      case "peek" -> {
        List<String> seen = new ArrayList<>();
        in(b).peek((k, v) -> seen.add(k + "=" + v)).to("out");
      }
      case "count" -> in(b).groupByKey().count().toStream()
          .to("counts", Produced.with(Serdes.String(), Serdes.Long()));
      case "groupByCount" -> in(b).groupBy((k, v) -> v, Grouped.as("by-value")).count().toStream()
          .to("counts", Produced.with(Serdes.String(), Serdes.Long()));
      case "selectKeyCount" -> in(b).selectKey((k, v) -> firstLetter(v)).groupByKey(Grouped.as("by-letter"))
          .count().toStream().to("counts", Produced.with(Serdes.String(), Serdes.Long()));
      case "mapCount" -> in(b).map((k, v) -> KeyValue.pair(firstLetter(v), v))
          .filter((k, v) -> !v.equals("skip"))
          .mapValues(v -> v.toUpperCase(Locale.ROOT))
          .groupByKey().count().toStream().to("counts", Produced.with(Serdes.String(), Serdes.Long()));
      case "flatMapReduce" -> in(b).flatMap((k, v) -> {
        List<KeyValue<String, String>> out = new ArrayList<>();
        for (String w : v.split(" ", -1)) {
          if (!w.isEmpty()) {
            out.add(KeyValue.pair(w, k));
          }
        }
        return out;
      }).groupByKey().reduce((agg, v) -> agg + "+" + v).toStream().to("out");
      case "reduce" -> in(b).groupByKey().reduce((agg, v) -> agg + "+" + v).toStream().to("out");
      case "jsonPassthrough" -> in(b).mapValues(v -> v).to("out");
      case "tombstoneOperators" -> {
        KStream<String, String> a = b.stream("in-a");
        KStream<String, String> c = b.stream("in-b");
        Map<String, KStream<String, String>> branches = a.merge(c)
            .peek((k, v) -> { })
            .filterNot((k, v) -> "drop".equals(v))
            .split(Named.as("t-"))
            .branch((k, v) -> v != null && v.startsWith("a"), Branched.as("a"))
            .defaultBranch(Branched.as("other"));
        branches.get("t-a").to("out-a");
        branches.get("t-other").to("out-other");
      }
      case "repartition" -> in(b).repartition(Repartitioned.as("rp"))
          .mapValues(v -> v + "!").to("out");
      default -> {
        Topology w = WindowTopologies.build(name);
        if (w != null) {
          return w;
        }
        Topology t = TableTopologies.build(name); // tables and stream-table joins
        if (t != null) {
          return t;
        }
        if ((w = FinalTopologies.build(name)) != null) {
          return w;
        }
        Topology s = StatelessTopologies.build(name); // selectKey, flatMapValues, split, to(extractor), headers
        if (s != null) {
          return s;
        }
        if ((s = OuterJoinTopologies.build(name)) != null) { // left and outer stream-stream joins
          return s;
        }
        if ((w = SlidingTopologies.build(name)) != null) return w; // sliding windows
        if ((w = CogroupWindowTopologies.build(name)) != null) return w; // windowed cogroup
        if ((w = CogroupSessionTopologies.build(name)) != null) return w; // session-windowed cogroup
        if ((w = FkMaterializedTopologies.build(name)) != null) return w; // foreign-key join results used as tables
        if ((s = FKJoinTopologies.build(name)) != null) { // foreign-key table joins
          return s;
        }
        throw new IllegalArgumentException("no topology named " + name);
      }
    }
    return b.build();
  }

  private static KStream<String, String> in(StreamsBuilder b) {
    return b.stream("in");
  }

  static String firstLetter(String v) {
    return v.isEmpty() ? "" : v.substring(0, 1);
  }
}
