package conformance

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
)

// Scenario is one conformance case, read from testdata/<name>.json: input
// records piped in order into a topology, and the output topics to read.
type Scenario struct {
	// Name names the scenario (and its file).
	Name string `json:"name"`
	// Topology names the topology on both sides; default Name.
	Topology string `json:"topology,omitempty"`
	// Description says what the scenario exercises.
	Description string `json:"description,omitempty"`
	// Inputs are piped in this order, each into partition 0 of its topic.
	Inputs []Record `json:"inputs"`
	// Outputs are read in this order, each topic to its end.
	Outputs []OutputTopic `json:"outputs"`
	// Divergence, when set, explains how samsa's output differs from
	// Kafka Streams' on this scenario: a known finding. Then KafkaStreams
	// and Samsa pin both outputs, and the suite checks they are still what
	// they were (and still differ).
	Divergence string `json:"divergence,omitempty"`
	// KafkaStreams is the pinned output of Kafka Streams (divergences only).
	KafkaStreams []Record `json:"kafkaStreams,omitempty"`
	// Samsa is the pinned output of samsa (divergences only).
	Samsa []Record `json:"samsa,omitempty"`
}

// OutputTopic is a topic a scenario reads: Value is "string" (default) or
// "long" (Kafka's LongSerializer, compared as a decimal string).
type OutputTopic struct {
	Topic string `json:"topic"`
	Value string `json:"value,omitempty"`
}

// Record is a record in canonical form: key and value as strings, nil for a
// Kafka null; timestamp in milliseconds.
type Record struct {
	Topic     string   `json:"topic"`
	Key       *string  `json:"key"`
	Value     *string  `json:"value"`
	Timestamp int64    `json:"timestamp"`
	Headers   []Header `json:"headers,omitempty"`
}

// Header is a record header; a nil Value is a Kafka null.
type Header struct {
	Key   string  `json:"key"`
	Value *string `json:"value"`
}

func (s Scenario) topology() string {
	if s.Topology != "" {
		return s.Topology
	}
	return s.Name
}

// withHeaders reports whether any input sets headers: only then are output
// headers compared.
func (s Scenario) withHeaders() bool {
	return slices.ContainsFunc(s.Inputs, func(r Record) bool { return len(r.Headers) > 0 })
}

func loadScenarios(t *testing.T) []Scenario {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("conformance: no scenario in testdata/*.json")
	}
	var out []Scenario
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var s Scenario
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s); err != nil {
			t.Fatalf("conformance: %s: %v", f, err)
		}
		if want := strings.TrimSuffix(filepath.Base(f), ".json"); s.Name != want {
			t.Fatalf("conformance: %s: name %q, want the file's name %q", f, s.Name, want)
		}
		if len(s.Inputs) == 0 || len(s.Outputs) == 0 {
			t.Fatalf("conformance: %s: a scenario needs inputs and outputs", f)
		}
		out = append(out, s)
	}
	return out
}

// runSamsa builds the scenario's topology with samsa's DSL and drives it
// through testkit.Driver (one partition per topic, as TopologyTestDriver),
// returning the outputs in canonical form.
func runSamsa(s Scenario) ([]Record, error) {
	build, ok := topologies[s.topology()]
	if !ok {
		return nil, fmt.Errorf("no samsa topology %q in topologies_test.go", s.topology())
	}
	d, err := testkit.NewDriver(build(), testkit.DriverConfig{
		ApplicationID: "conformance-" + s.Name, DefaultPartitions: 1,
		// The Runner sets statestore.cache.max.bytes=0: every update is
		// forwarded, as with caching off.
		CacheMaxBytes: -1,
	})
	if err != nil {
		return nil, fmt.Errorf("samsa driver: %w", err)
	}
	defer func() { _ = d.Close() }()
	inputs := map[string]*testkit.Input[[]byte, []byte]{}
	for i, r := range s.Inputs {
		in, ok := inputs[r.Topic]
		if !ok {
			in = testkit.InputTopic(d, r.Topic, serde.Bytes, serde.Bytes)
			inputs[r.Topic] = in
		}
		var hs []processor.Header
		for _, h := range r.Headers {
			hs = append(hs, processor.Header{Key: h.Key, Value: bytesOf(h.Value)})
		}
		if err := in.PipeRaw(bytesOf(r.Key), bytesOf(r.Value), time.UnixMilli(r.Timestamp), hs, 0); err != nil {
			return nil, fmt.Errorf("samsa: input %d: %w", i, err)
		}
	}
	var out []Record
	for _, o := range s.Outputs {
		topic := testkit.OutputTopic(d, o.Topic, serde.Bytes, serde.Bytes)
		for !topic.IsEmpty() {
			r, err := topic.ReadRecord()
			if err != nil {
				return nil, fmt.Errorf("samsa: read %s: %w", o.Topic, err)
			}
			value, err := canonicalValue(o, r.Value)
			if err != nil {
				return nil, fmt.Errorf("samsa: read %s offset %d: %w", o.Topic, r.Offset(), err)
			}
			rec := Record{Topic: o.Topic, Key: stringOf(r.Key), Value: value, Timestamp: r.Timestamp.UnixMilli()}
			for _, h := range r.Headers {
				rec.Headers = append(rec.Headers, Header{Key: h.Key, Value: stringOf(h.Value)})
			}
			out = append(out, rec)
		}
	}
	return out, nil
}

// canonicalValue decodes an output value as the Java runner prints it.
func canonicalValue(o OutputTopic, b []byte) (*string, error) {
	switch o.Value {
	case "", "string":
		return stringOf(b), nil
	case "long":
		if b == nil {
			return nil, nil
		}
		if len(b) != 8 {
			return nil, fmt.Errorf("a long value has 8 bytes, got %d", len(b))
		}
		v := strconv.FormatInt(int64(binary.BigEndian.Uint64(b)), 10)
		return &v, nil
	default:
		return nil, fmt.Errorf("unknown value type %q of output topic %s (string or long)", o.Value, o.Topic)
	}
}

func bytesOf(s *string) []byte {
	if s == nil {
		return nil
	}
	return []byte(*s)
}

func stringOf(b []byte) *string {
	if b == nil {
		return nil
	}
	s := string(b)
	return &s
}

// compare returns "" when the two outputs are the same record for record,
// and otherwise a readable line diff (- Kafka Streams, + samsa).
func compare(kafkaStreams, samsa []Record, headers bool) string {
	a, b := lines(kafkaStreams, headers), lines(samsa, headers)
	if slices.Equal(a, b) {
		return ""
	}
	return "--- Kafka Streams (TopologyTestDriver)\n+++ samsa (testkit.Driver)\n" + diff(a, b)
}

func lines(rs []Record, headers bool) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.line(headers)
	}
	return out
}

func (r Record) line(headers bool) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s key=%s value=%s ts=%d", r.Topic, quote(r.Key), quote(r.Value), r.Timestamp)
	if headers {
		sb.WriteString(" headers=[")
		for i, h := range r.Headers {
			if i > 0 {
				sb.WriteString(" ")
			}
			fmt.Fprintf(&sb, "%s:%s", strconv.Quote(h.Key), quote(h.Value))
		}
		sb.WriteString("]")
	}
	return sb.String()
}

func quote(s *string) string {
	if s == nil {
		return "null"
	}
	return strconv.Quote(*s)
}

// diff is a line diff by longest common subsequence: common lines are
// indented by two spaces, lines only in a are marked "- ", only in b "+ ".
func diff(a, b []string) string {
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var sb strings.Builder
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			sb.WriteString("  " + a[i] + "\n")
			i++
			j++
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			sb.WriteString("- " + a[i] + "\n")
			i++
		default:
			sb.WriteString("+ " + b[j] + "\n")
			j++
		}
	}
	return sb.String()
}

func scenarioInputs(s Scenario) string {
	var sb strings.Builder
	for _, r := range s.Inputs {
		sb.WriteString("  " + r.line(s.withHeaders()) + "\n")
	}
	return sb.String()
}

// dump writes both outputs of a scenario as JSON to
// $CONFORMANCE_DUMP/<name>.json when that variable is set: the kafkaStreams
// and samsa arrays to pin in a divergence's scenario file.
func dump(t *testing.T, s Scenario, ks, got []Record) {
	dir := os.Getenv("CONFORMANCE_DUMP")
	if dir == "" {
		return
	}
	b, err := json.MarshalIndent(map[string][]Record{"kafkaStreams": ks, "samsa": got}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, s.Name+".json"), b, 0o644); err != nil {
		t.Fatalf("CONFORMANCE_DUMP: %v", err)
	}
}

// TestConformance runs every scenario without a known divergence through
// Kafka Streams and samsa and requires the same outputs, record for record.
func TestConformance(t *testing.T) {
	ran := 0
	for _, s := range loadScenarios(t) {
		if s.Divergence != "" {
			continue
		}
		ran++
		t.Run(s.Name, func(t *testing.T) {
			if len(s.KafkaStreams) > 0 || len(s.Samsa) > 0 {
				t.Fatal("kafkaStreams and samsa outputs are pinned only for a divergence")
			}
			ks := kafkaStreams(t, s)
			for _, o := range s.Outputs {
				if !slices.ContainsFunc(ks, func(r Record) bool { return r.Topic == o.Topic }) {
					t.Fatalf("Kafka Streams wrote nothing to %s: the scenario proves nothing there; give it inputs that reach it", o.Topic)
				}
			}
			got, err := runSamsa(s)
			if err != nil {
				t.Fatal(err)
			}
			dump(t, s, ks, got)
			if d := compare(ks, got, s.withHeaders()); d != "" {
				t.Fatalf("samsa's output differs from Kafka Streams' on scenario %s (topology %s)\ninputs:\n%s%s",
					s.Name, s.topology(), scenarioInputs(s), d)
			}
			if s.topology() == "peek" && len(peeked) != len(s.Inputs) {
				t.Fatalf("Peek saw %d records, want one per input (%d): %v", len(peeked), len(s.Inputs), peeked)
			}
		})
	}
	if ran < 8 {
		t.Fatalf("only %d conformance scenarios ran, want at least 8", ran)
	}
}

// TestConformanceKnownDivergence checks that every known divergence is still
// exactly what its scenario file pins: Kafka Streams still produces the
// pinned kafkaStreams output, samsa still the pinned samsa output, and they
// differ. When samsa is fixed, this fails: then remove the divergence and the
// pinned outputs from the file, and the scenario joins TestConformance.
func TestConformanceKnownDivergence(t *testing.T) {
	for _, s := range loadScenarios(t) {
		if s.Divergence == "" {
			continue
		}
		t.Run(s.Name, func(t *testing.T) {
			h := s.withHeaders()
			if compare(s.KafkaStreams, s.Samsa, h) == "" {
				t.Fatal("a divergence must pin two different outputs (kafkaStreams and samsa)")
			}
			ks := kafkaStreams(t, s)
			if d := compare(s.KafkaStreams, ks, h); d != "" {
				t.Fatalf("Kafka Streams no longer produces the pinned kafkaStreams output (- pinned, + now):\n%s", diff(lines(s.KafkaStreams, h), lines(ks, h)))
			}
			got, err := runSamsa(s)
			if err != nil {
				t.Fatal(err)
			}
			dump(t, s, ks, got)
			if compare(ks, got, h) == "" {
				t.Fatalf("divergence gone: samsa now produces what Kafka Streams produces; remove \"divergence\", \"kafkaStreams\" and \"samsa\" from testdata/%s.json", s.Name)
			}
			if d := compare(s.Samsa, got, h); d != "" {
				t.Fatalf("samsa no longer produces the pinned samsa output (- pinned, + now):\n%s", diff(lines(s.Samsa, h), lines(got, h)))
			}
			t.Logf("known divergence: %s\ninputs:\n%s%s", s.Divergence, scenarioInputs(s), compare(ks, got, h))
		})
	}
}

// TestEveryTopologyHasAScenario keeps the two sides honest: a samsa topology
// that no scenario uses is dead code that proves nothing.
func TestEveryTopologyHasAScenario(t *testing.T) {
	used := map[string]bool{}
	for _, s := range loadScenarios(t) {
		used[s.topology()] = true
	}
	for name := range topologies {
		if !used[name] {
			t.Errorf("topology %q has no scenario in testdata", name)
		}
	}
}

// TestCompareShowsADiff proves the comparison fails on a difference and says
// where: one changed value, one missing record, one extra record.
func TestCompareShowsADiff(t *testing.T) {
	str := func(s string) *string { return &s }
	ks := []Record{
		{Topic: "out", Key: str("a"), Value: str("1"), Timestamp: 10},
		{Topic: "out", Key: str("b"), Value: nil, Timestamp: 20},
		{Topic: "out", Key: str("c"), Value: str("3"), Timestamp: 30, Headers: []Header{{Key: "h", Value: str("x")}}},
	}
	same := slices.Clone(ks)
	if d := compare(ks, same, true); d != "" {
		t.Fatalf("equal outputs differ:\n%s", d)
	}
	other := []Record{
		{Topic: "out", Key: str("a"), Value: str("1"), Timestamp: 10},
		{Topic: "out", Key: str("b"), Value: str(""), Timestamp: 20},
		{Topic: "out", Key: str("c"), Value: str("3"), Timestamp: 30, Headers: []Header{{Key: "h", Value: str("y")}}},
		{Topic: "out", Key: str("d"), Value: str("4"), Timestamp: 5},
	}
	want := `--- Kafka Streams (TopologyTestDriver)
+++ samsa (testkit.Driver)
  out key="a" value="1" ts=10 headers=[]
- out key="b" value=null ts=20 headers=[]
- out key="c" value="3" ts=30 headers=["h":"x"]
+ out key="b" value="" ts=20 headers=[]
+ out key="c" value="3" ts=30 headers=["h":"y"]
+ out key="d" value="4" ts=5 headers=[]
`
	if d := compare(ks, other, true); d != want {
		t.Fatalf("diff:\n%s\nwant:\n%s", d, want)
	}
	// Headers count only when the scenario sets them.
	other[2].Headers = nil
	if d := compare(ks[2:], other[2:3], false); d != "" {
		t.Fatalf("headers compared although the scenario sets none:\n%s", d)
	}
	if d := compare(ks[2:], other[2:3], true); d == "" {
		t.Fatal("a lost header is not a difference")
	}
}
