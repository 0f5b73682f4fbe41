package io.github.samsastreams.bench;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;

import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.WindowedSerdes;
import org.apache.kafka.streams.processor.StateRestoreListener;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.WindowStore;

/**
 * The Kafka Streams contender of samsa's benchmark harness: the same flags
 * as the Go contenders (-bootstrap, -in, -out, -app, -topology
 * stateless|count|groupby-count|window-count|join, -table TOPIC, -guarantee
 * alos|eos, -commit 30s|100ms, -state DIR, -session 6s), the same topologies, Kafka
 * Streams' defaults otherwise (one stream thread, a 10 MB record cache).
 * Prints "bench-restored unixms=... records=..." at the end of each store's
 * restore. Runs until SIGTERM, then closes and leaves the group (so that a
 * restart with the same application id does not wait out the session).
 */
public final class Bench {
  private Bench() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> f = new HashMap<>();
    for (int i = 0; i + 1 < args.length; i += 2) {
      if (!args[i].startsWith("-")) {
        throw new IllegalArgumentException("bad flag " + args[i]);
      }
      f.put(args[i].substring(1), args[i + 1]);
    }
    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, req(f, "app"));
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, req(f, "bootstrap"));
    p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, Long.toString(millis(f.getOrDefault("commit", "30s"))));
    p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG,
        "eos".equals(f.getOrDefault("guarantee", "alos")) ? StreamsConfig.EXACTLY_ONCE_V2 : StreamsConfig.AT_LEAST_ONCE);
    if (f.containsKey("state")) {
      p.put(StreamsConfig.STATE_DIR_CONFIG, f.get("state"));
    }
    p.put("auto.offset.reset", "earliest");
    if (f.containsKey("session")) {
      long session = millis(f.get("session"));
      p.put("session.timeout.ms", Long.toString(session));
      p.put("heartbeat.interval.ms", Long.toString(session / 3));
    }

    String in = req(f, "in");
    String out = req(f, "out");
    StreamsBuilder b = new StreamsBuilder();
    KStream<String, String> s = b.stream(in, Consumed.with(Serdes.String(), Serdes.String()));
    switch (f.getOrDefault("topology", "stateless")) {
      case "stateless":
        s.mapValues(v -> v.toUpperCase())
            .filter((k, v) -> !v.isEmpty() && v.charAt(0) != '0')
            .to(out, Produced.with(Serdes.String(), Serdes.String()));
        break;
      case "count":
        s.groupByKey()
            .count(Materialized.<String, Long, KeyValueStore<Bytes, byte[]>>as("counts"))
            .toStream()
            .to(out, Produced.with(Serdes.String(), Serdes.Long()));
        break;
      case "groupby-count":
        // "k0001234" → "g000123", as work.GroupKey.
        s.groupBy((k, v) -> "g" + k.substring(1, k.length() - 1), Grouped.with(Serdes.String(), Serdes.String()))
            .count(Materialized.<String, Long, KeyValueStore<Bytes, byte[]>>as("counts"))
            .toStream()
            .to(out, Produced.with(Serdes.String(), Serdes.Long()));
        break;
      case "window-count":
        s.groupByKey()
            .windowedBy(TimeWindows.ofSizeWithNoGrace(Duration.ofMinutes(1)))
            .count(Materialized.<String, Long, WindowStore<Bytes, byte[]>>as("wcounts"))
            .toStream()
            .to(out, Produced.with(WindowedSerdes.timeWindowedSerdeFrom(String.class, 60_000L), Serdes.Long()));
        break;
      case "join":
        KTable<String, String> table = b.table(req(f, "table"), Consumed.with(Serdes.String(), Serdes.String()),
            Materialized.<String, String, KeyValueStore<Bytes, byte[]>>as("table"));
        // As work.Joined: the table value or "-", '|', the value's first 10 characters.
        s.leftJoin(table, (v, tv) -> (tv == null ? "-" : tv) + "|" + v.substring(0, Math.min(10, v.length())))
            .to(out, Produced.with(Serdes.String(), Serdes.String()));
        break;
      default:
        throw new IllegalArgumentException("unknown topology " + f.get("topology"));
    }

    KafkaStreams streams = new KafkaStreams(b.build(), p);
    streams.setGlobalStateRestoreListener(new StateRestoreListener() {
      @Override
      public void onRestoreStart(TopicPartition tp, String store, long start, long end) {}

      @Override
      public void onBatchRestored(TopicPartition tp, String store, long batchEnd, long n) {}

      @Override
      public void onRestoreEnd(TopicPartition tp, String store, long total) {
        System.out.println("bench-restored unixms=" + System.currentTimeMillis() + " records=" + total);
      }
    });
    CountDownLatch done = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      streams.close(CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP)
          .withTimeout(Duration.ofSeconds(15)));
      done.countDown();
    }));
    streams.setUncaughtExceptionHandler(e -> {
      e.printStackTrace();
      Runtime.getRuntime().halt(1);
      return null;
    });
    streams.start();
    done.await();
  }

  private static String req(Map<String, String> f, String k) {
    String v = f.get(k);
    if (v == null || v.isEmpty()) {
      throw new IllegalArgumentException("-" + k + " is required");
    }
    return v;
  }

  /** millis parses a Go duration of the form 100ms, 30s or 1m0s. */
  static long millis(String d) {
    if (d.endsWith("ms")) {
      return Long.parseLong(d.substring(0, d.length() - 2));
    }
    if (d.endsWith("m0s")) {
      return Long.parseLong(d.substring(0, d.length() - 3)) * 60_000L;
    }
    if (d.endsWith("s")) {
      return (long) (Double.parseDouble(d.substring(0, d.length() - 1)) * 1000);
    }
    throw new IllegalArgumentException("bad duration " + d);
  }
}
