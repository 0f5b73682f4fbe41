package io.github.samsastreams.conformance;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.LongDeserializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.test.TestRecord;

/**
 * Runs conformance scenarios through Kafka Streams' TopologyTestDriver.
 *
 * <p>Reads one scenario per line of stdin (JSON: name, optional topology,
 * inputs, outputs), builds the topology of that name (see {@link Topologies}),
 * pipes the inputs in order and prints, per output topic in the order of the
 * scenario's outputs list, every output record as one JSON line (topic, key,
 * value, timestamp, headers). Each scenario's block ends with a line
 * {"end": name}; a scenario that fails prints {"error": ...} before its end
 * line and the runner goes on with the next one. Only these lines go to
 * stdout; logs go to stderr.
 */
public final class Runner {
  private static final ObjectMapper JSON = new ObjectMapper();

  private Runner() {}

  /** Entry point: scenarios on stdin, results on stdout, until end of input. */
  public static void main(String[] args) throws Exception {
    PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
    // Nothing but result lines may reach stdout.
    System.setOut(System.err);
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String line;
    while ((line = in.readLine()) != null) {
      if (line.isBlank()) {
        continue;
      }
      String name = "?";
      List<String> lines = new ArrayList<>();
      try {
        JsonNode scenario = JSON.readTree(line);
        name = scenario.path("name").asText("?");
        run(scenario, lines);
      } catch (Exception | StackOverflowError e) {
        StringWriter sw = new StringWriter();
        e.printStackTrace(new PrintWriter(sw));
        ObjectNode err = JSON.createObjectNode();
        err.put("error", sw.toString());
        lines.add(JSON.writeValueAsString(err));
      }
      for (String l : lines) {
        out.println(l);
      }
      ObjectNode end = JSON.createObjectNode();
      end.put("end", name);
      out.println(JSON.writeValueAsString(end));
      out.flush();
    }
  }

  private static final String STATE_DIR = stateDir();

  private static String stateDir() {
    try {
      java.io.File dir = java.nio.file.Files.createTempDirectory("samsa-conformance-").toFile();
      dir.deleteOnExit();
      return dir.getPath();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static void run(JsonNode scenario, List<String> lines) throws Exception {
    String name = scenario.path("name").asText();
    String topologyName = scenario.path("topology").asText(name);
    Topology topology = Topologies.build(topologyName);

    Properties props = new Properties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, "conformance-" + name);
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
    // A state directory of this JVM's own: runs of the suite side by side
    // (in other checkouts) would otherwise share /tmp/kafka-streams and
    // fail to lock each other's RocksDB stores.
    props.put(StreamsConfig.STATE_DIR_CONFIG, STATE_DIR);
    props.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
    props.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
    // No record cache: every update of a table is forwarded, as samsa does.
    props.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0L);
    // emitStrategy(onWindowClose()) emits final results at most once per
    // second of wall-clock time, which the test driver never advances: at
    // every record instead, as suppress(untilWindowCloses) and samsa do.
    props.put(StreamsConfig.InternalConfig.EMIT_INTERVAL_MS_KSTREAMS_WINDOWED_AGGREGATION, 0L);
    // The same for the non-joined results of left and outer stream-stream
    // joins: looked for at every record, not once per wall-clock second.
    props.put(StreamsConfig.InternalConfig.EMIT_INTERVAL_MS_KSTREAMS_OUTER_JOIN_SPURIOUS_RESULTS_FIX, 0L);

    try (TopologyTestDriver driver = new TopologyTestDriver(topology, props, Instant.EPOCH)) {
      Map<String, TestInputTopic<String, String>> inputs = new HashMap<>();
      for (JsonNode r : scenario.path("inputs")) {
        String topic = r.path("topic").asText();
        TestInputTopic<String, String> t = inputs.computeIfAbsent(topic,
            n -> driver.createInputTopic(n, new StringSerializer(), new StringSerializer()));
        Headers headers = new RecordHeaders();
        for (JsonNode h : r.path("headers")) {
          JsonNode v = h.path("value");
          headers.add(new RecordHeader(h.path("key").asText(),
              v.isNull() || v.isMissingNode() ? null : v.asText().getBytes(StandardCharsets.UTF_8)));
        }
        t.pipeInput(new TestRecord<>(text(r.path("key")), text(r.path("value")), headers,
            Instant.ofEpochMilli(r.path("timestamp").asLong())));
      }
      for (JsonNode o : scenario.path("outputs")) {
        String topic = o.path("topic").asText();
        boolean isLong = "long".equals(o.path("value").asText("string"));
        Deserializer<?> values = isLong ? new LongDeserializer() : new StringDeserializer();
        TestOutputTopic<String, ?> t = driver.createOutputTopic(topic, new StringDeserializer(), values);
        for (TestRecord<String, ?> rec : t.readRecordsToList()) {
          ObjectNode n = JSON.createObjectNode();
          n.put("topic", topic);
          n.put("key", rec.key());
          n.put("value", rec.value() == null ? null : rec.value().toString());
          n.put("timestamp", rec.timestamp());
          ArrayNode hs = n.putArray("headers");
          for (Header h : rec.headers()) {
            ObjectNode hn = hs.addObject();
            hn.put("key", h.key());
            hn.put("value", h.value() == null ? null : new String(h.value(), StandardCharsets.UTF_8));
          }
          lines.add(JSON.writeValueAsString(n));
        }
      }
    }
  }

  private static String text(JsonNode n) {
    return n.isNull() || n.isMissingNode() ? null : n.asText();
  }
}
