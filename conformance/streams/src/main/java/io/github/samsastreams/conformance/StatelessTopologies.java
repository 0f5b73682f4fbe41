package io.github.samsastreams.conformance;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Branched;
import org.apache.kafka.streams.kstream.GlobalKTable;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.processor.api.FixedKeyProcessor;
import org.apache.kafka.streams.processor.api.FixedKeyProcessorContext;
import org.apache.kafka.streams.processor.api.FixedKeyRecord;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * The Kafka Streams side of the stateless operator conformance topologies
 * (selectKey, flatMapValues, split with named branches, a topic per record,
 * headers) and of the stream-global table joins, by name. Each one has a twin of the same name in
 * conformance/topologies_stateless_test.go built with samsa's DSL; the two
 * must stay the same program. samsa's functions see "" where these see
 * null, so these map null to "".
 */
final class StatelessTopologies {
  private StatelessTopologies() {}

  /** Returns the topology of that name, or null when it is not one of these. */
  static Topology build(String name) {
    StreamsBuilder b = new StreamsBuilder();
    switch (name) {
      case "selectKeyOp" -> in(b).selectKey((k, v) -> firstLetter(v)).to("out");
      case "selectKeyOpCount" -> in(b).selectKey((k, v) -> firstLetter(v)).groupByKey().count().toStream()
          .to("counts", Produced.with(Serdes.String(), Serdes.Long()));
      case "flatMapValues" -> in(b).flatMapValues(v -> {
        List<String> out = new ArrayList<>();
        for (String part : orEmpty(v).split(",", -1)) {
          if (!part.isEmpty()) {
            out.add(part);
          }
        }
        return out;
      }).to("out");
      case "split" -> {
        Map<String, KStream<String, String>> branches = in(b).split(Named.as("s-"))
            .branch((k, v) -> orEmpty(v).startsWith("a"), Branched.as("a"))
            .branch((k, v) -> orEmpty(v).contains("b"))
            .defaultBranch();
        branches.get("s-a").to("out-a");
        branches.get("s-2").to("out-2");
        branches.get("s-0").to("out-0");
      }
      case "toTopicFunc" -> {
        KStream<String, String> a = b.stream("in-a");
        KStream<String, String> c = b.stream("in-b");
        a.merge(c).to((k, v, ctx) -> {
          Header route = ctx.headers().lastHeader("route");
          if (route != null) {
            return new String(route.value(), StandardCharsets.UTF_8);
          }
          if (v == null) {
            return "deletes";
          }
          return "from-" + ctx.topic();
        });
      }
      case "headers" -> in(b).processValues(() -> new FixedKeyProcessor<String, String, String>() {
        private FixedKeyProcessorContext<String, String> ctx;

        @Override
        public void init(FixedKeyProcessorContext<String, String> context) {
          ctx = context;
        }

        @Override
        public void process(FixedKeyRecord<String, String> r) {
          Header h = r.headers().lastHeader("h");
          String seen = h == null ? "none" : new String(h.value(), StandardCharsets.UTF_8);
          Headers hs = new RecordHeaders(r.headers().toArray());
          hs.remove("drop");
          hs.add("seen", seen.getBytes(StandardCharsets.UTF_8));
          ctx.forward(r.withValue(orEmpty(r.value()) + "|" + seen).withHeaders(hs));
        }
      }).to("out");
      case "globalJoin" -> {
        GlobalKTable<String, String> g = b.globalTable("global-in",
            Materialized.<String, String, KeyValueStore<Bytes, byte[]>>as("global-store"));
        in(b).join(g, StatelessTopologies::globalKey, (k, v, vg) -> orEmpty(k) + ":" + v + "|" + vg).to("out");
      }
      case "globalLeftJoin" -> {
        GlobalKTable<String, String> g = b.globalTable("global-in",
            Materialized.<String, String, KeyValueStore<Bytes, byte[]>>as("global-store"));
        in(b).leftJoin(g, StatelessTopologies::globalKey,
            (k, v, vg) -> orEmpty(k) + ":" + v + "|" + (vg == null ? "none" : vg)).to("out");
      }
      default -> {
        return null;
      }
    }
    return b.build();
  }

  private static KStream<String, String> in(StreamsBuilder b) {
    return b.stream("in");
  }

  /** The join key of a stream record: its value up to the first "/". */
  private static String globalKey(String k, String v) {
    String s = orEmpty(v);
    int i = s.indexOf('/');
    return i < 0 ? s : s.substring(0, i);
  }

  private static String orEmpty(String v) {
    return v == null ? "" : v;
  }

  private static String firstLetter(String v) {
    return v == null || v.isEmpty() ? "" : v.substring(0, 1);
  }
}
