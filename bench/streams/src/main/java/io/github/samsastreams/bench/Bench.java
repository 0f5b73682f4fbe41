package io.github.samsastreams.bench;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;

import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * The Kafka Streams contender of samsa's benchmark harness: the same flags
 * as the Go contenders (-bootstrap, -in, -out, -app, -topology
 * stateless|count, -guarantee alos|eos, -commit 30s|100ms, -state DIR), the
 * same topologies, Kafka Streams' defaults otherwise (one stream thread,
 * a 10 MB record cache). Runs until SIGTERM, then closes.
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
      default:
        throw new IllegalArgumentException("unknown topology " + f.get("topology"));
    }

    KafkaStreams streams = new KafkaStreams(b.build(), p);
    CountDownLatch done = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      streams.close(Duration.ofSeconds(15));
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
