package topology_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// driver runs top with one partition per topic unless parts says otherwise.
func driver(t *testing.T, top *topology.Topology, parts map[string]int32) *testkit.Driver {
	t.Helper()
	d, err := testkit.NewDriver(top, testkit.DriverConfig{Partitions: parts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// readAll reads every record left in topic as strings.
func readRecords(t *testing.T, d *testkit.Driver, topic string) []processor.Record[string, string] {
	t.Helper()
	out := testkit.OutputTopic(d, topic, serde.String, serde.String)
	var rs []processor.Record[string, string]
	for !out.IsEmpty() {
		r, err := out.ReadRecord()
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	return rs
}

func TestSelectKey(t *testing.T) {
	top := topology.New()
	in := topology.StreamOf(top, serde.String, serde.String, "in")
	topology.SelectKey(in, func(k, v string) string { return k + "/" + v }).To("out", serde.String, serde.String)
	d := driver(t, top, nil)
	input := testkit.InputTopic(d, "in", serde.String, serde.String)
	hs := []processor.Header{{Key: "h", Value: []byte("1")}}
	if err := input.PipeRecord(processor.SourceRecord("k", "v", time.UnixMilli(7), hs, processor.Origin{}), 0); err != nil {
		t.Fatal(err)
	}
	if err := input.PipeTombstone("t", time.UnixMilli(8)); err != nil {
		t.Fatal(err)
	}
	if err := input.PipeRaw(nil, []byte("nk"), time.UnixMilli(9), nil, 0); err != nil {
		t.Fatal(err)
	}
	got := readRecords(t, d, "out")
	if len(got) != 3 {
		t.Fatalf("got %d records, want 3", len(got))
	}
	if r := got[0]; r.Key != "k/v" || r.Value != "v" || r.Timestamp.UnixMilli() != 7 || len(r.Headers) != 1 || string(r.Headers[0].Value) != "1" {
		t.Errorf("record: got %+v, want key k/v, value v, time 7, header h=1", r)
	}
	if r := got[1]; r.Key != "t/" || !r.IsTombstone() {
		t.Errorf("tombstone: got key %q tombstone %v, want key t/ and still a tombstone", r.Key, r.IsTombstone())
	}
	if r := got[2]; r.Key != "/nk" || r.KeyIsNull() {
		t.Errorf("null key: got key %q null %v, want the new key /nk, not null", r.Key, r.KeyIsNull())
	}
}

// SelectKey changes the key: an aggregation after it repartitions, with the
// value serde SelectKey kept (here a JSON type samsa has no standard serde
// for), and sums per new key across input partitions.
func TestSelectKeyThenAggregateRepartitionsWithTheValueSerde(t *testing.T) {
	type item struct{ N int }
	top := topology.New()
	in := topology.StreamOf(top, serde.String, serde.JSON[item](), "in")
	byParity := topology.SelectKey(in, func(_ string, v item) string { return strconv.Itoa(v.N % 2) })
	topology.Aggregate(byParity, "sums", func() item { return item{} }, func(_ string, v, a item) item { return item{a.N + v.N} }, serde.String, serde.JSON[item]()).
		To("out", serde.String, serde.JSON[item]())
	if err := top.Validate(); err != nil {
		t.Fatalf("Validate: %v (SelectKey must keep the value serde for the repartition topic)", err)
	}
	if n := subtopologies(t, top); n != 2 {
		t.Fatalf("sub-topologies: got %d, want 2 (a repartition after SelectKey)", n)
	}
	d := driver(t, top, map[string]int32{"in": 4})
	input := testkit.InputTopic(d, "in", serde.String, serde.JSON[item]())
	for i := 1; i <= 6; i++ {
		if err := input.Pipe("k"+strconv.Itoa(i), item{i}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := testkit.ReadKeyValuesToMap(testkit.OutputTopic(d, "out", serde.String, serde.JSON[item]()))
	if err != nil {
		t.Fatal(err)
	}
	if got["0"].N != 2+4+6 || got["1"].N != 1+3+5 {
		t.Errorf("sums by parity: got %v, want 0:12 1:9", got)
	}
}

func TestFlatMapValuesKeepsKeyAndPartitioning(t *testing.T) {
	top := topology.New()
	in := topology.StreamOf(top, serde.String, serde.String, "in")
	words := topology.FlatMapValues(in, func(_, v string) []string { return strings.Fields(v) })
	words.To("out", serde.String, serde.String)
	topology.Count(words, "counts", serde.String).To("counts", serde.String, serde.Int64)
	if n := subtopologies(t, top); n != 1 {
		t.Fatalf("sub-topologies: got %d, want 1 (FlatMapValues keeps the key: no repartition)", n)
	}
	d := driver(t, top, nil)
	input := testkit.InputTopic(d, "in", serde.String, serde.String)
	hs := []processor.Header{{Key: "h", Value: []byte("x")}}
	if err := input.PipeRecord(processor.SourceRecord("a", "one two", time.UnixMilli(5), hs, processor.Origin{}), 0); err != nil {
		t.Fatal(err)
	}
	if err := input.Pipe("b", ""); err != nil { // no values: nothing
		t.Fatal(err)
	}
	if err := input.PipeRaw(nil, []byte("x y"), time.UnixMilli(6), nil, 0); err != nil {
		t.Fatal(err)
	}
	got := readRecords(t, d, "out")
	var lines []string
	for _, r := range got {
		line := r.Key + "=" + r.Value + "@" + strconv.FormatInt(r.Timestamp.UnixMilli(), 10)
		if r.KeyIsNull() {
			line = "null" + line
		}
		if h, ok := r.Header("h"); ok {
			line += " h=" + string(h)
		}
		lines = append(lines, line)
	}
	want := []string{"a=one@5 h=x", "a=two@5 h=x", "null=x@6", "null=y@6"}
	if !slices.Equal(lines, want) {
		t.Errorf("got %q, want %q", lines, want)
	}
	counts, err := testkit.ReadKeyValuesToMap(testkit.OutputTopic(d, "counts", serde.String, serde.Int64))
	if err != nil {
		t.Fatal(err)
	}
	if len(counts) != 1 || counts["a"] != 2 {
		t.Errorf("counts: got %v, want a:2 (null keys dropped)", counts)
	}
}

func TestMapValuesWithHeaders(t *testing.T) {
	top := topology.New()
	in := topology.StreamOf(top, serde.String, serde.String, "in")
	// Two children of the same node: changing the headers in one must not
	// change what the other sees.
	topology.MapValuesWithHeaders(in, func(_, v string, hs []processor.Header) (int64, []processor.Header) {
		for i := range hs {
			hs[i].Value = []byte("changed")
		}
		return int64(len(v)), append(hs, processor.Header{Key: "len", Value: []byte(strconv.Itoa(len(v)))})
	}).To("lens", serde.String, serde.Int64)
	topology.MapValuesWithHeaders(in, func(_, v string, hs []processor.Header) (string, []processor.Header) {
		var seen []string
		for _, h := range hs {
			seen = append(seen, h.Key+"="+string(h.Value))
		}
		return v + " " + strings.Join(seen, ","), hs[:0]
	}).To("seen", serde.String, serde.String)
	d := driver(t, top, nil)
	hs := []processor.Header{{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte("2")}}
	if err := testkit.InputTopic(d, "in", serde.String, serde.String).
		PipeRecord(processor.SourceRecord("k", "abc", time.UnixMilli(1), hs, processor.Origin{}), 0); err != nil {
		t.Fatal(err)
	}
	lens := testkit.OutputTopic(d, "lens", serde.String, serde.Int64)
	r, err := lens.ReadRecord()
	if err != nil {
		t.Fatal(err)
	}
	if r.Key != "k" || r.Value != 3 || len(r.Headers) != 3 || r.Headers[2].Key != "len" || string(r.Headers[2].Value) != "3" || string(r.Headers[0].Value) != "changed" {
		t.Errorf("lens: got %+v, want k=3 with headers a, b changed and len=3", r)
	}
	seen := readRecords(t, d, "seen")
	if len(seen) != 1 || seen[0].Value != "abc a=1,b=2" || len(seen[0].Headers) != 0 {
		t.Errorf("seen: got %+v, want value \"abc a=1,b=2\" (the input headers, untouched) and no headers", seen)
	}
}

func TestForeach(t *testing.T) {
	top := topology.New()
	in := topology.StreamOf(top, serde.String, serde.String, "in")
	var seen []string
	in.Foreach(func(k, v string) { seen = append(seen, k+"="+v) })
	in.To("out", serde.String, serde.String)
	d := driver(t, top, nil)
	input := testkit.InputTopic(d, "in", serde.String, serde.String)
	for _, kv := range [][2]string{{"a", "1"}, {"b", "2"}} {
		if err := input.Pipe(kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := input.PipeTombstone("c", time.UnixMilli(3)); err != nil {
		t.Fatal(err)
	}
	if want := []string{"a=1", "b=2", "c="}; !slices.Equal(seen, want) {
		t.Errorf("Foreach saw %q, want %q", seen, want)
	}
	if n := len(readRecords(t, d, "out")); n != 3 {
		t.Errorf("out: got %d records, want 3", n)
	}
	desc, err := top.Describe()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(desc.String(), "Processor: KSTREAM-FOREACH-0000000001") {
		t.Errorf("Describe does not show the foreach processor:\n%s", desc)
	}
}

func TestSplit(t *testing.T) {
	top := topology.New()
	in := topology.StreamOf(top, serde.String, serde.String, "in")
	calls := map[string]int{}
	branches := in.Split("s-").
		Branch(func(_, v string) bool { calls["a"]++; return strings.HasPrefix(v, "a") }, "a").
		Branch(func(_, v string) bool { calls["second"]++; return strings.Contains(v, "b") }, "").
		DefaultBranch("rest")
	names := make([]string, 0, len(branches))
	for name := range branches {
		names = append(names, name)
	}
	slices.Sort(names)
	if want := []string{"s-2", "s-a", "s-rest"}; !slices.Equal(names, want) {
		t.Fatalf("branch names: got %q, want %q", names, want)
	}
	branches["s-a"].To("out-a", serde.String, serde.String)
	branches["s-2"].To("out-b", serde.String, serde.String)
	branches["s-rest"].To("out-rest", serde.String, serde.String)
	d := driver(t, top, nil)
	input := testkit.InputTopic(d, "in", serde.String, serde.String)
	for i, v := range []string{"apple", "abc", "cab", "zzz"} {
		if err := input.Pipe(strconv.Itoa(i), v); err != nil {
			t.Fatal(err)
		}
	}
	if err := input.PipeTombstone("t", time.UnixMilli(9)); err != nil {
		t.Fatal(err)
	}
	values := func(topic string) []string {
		var out []string
		for _, r := range readRecords(t, d, topic) {
			if r.IsTombstone() {
				out = append(out, "<tombstone "+r.Key+">")
				continue
			}
			out = append(out, r.Value)
		}
		return out
	}
	if got, want := values("out-a"), []string{"apple", "abc"}; !slices.Equal(got, want) {
		t.Errorf("out-a: got %q, want %q", got, want)
	}
	if got, want := values("out-b"), []string{"cab"}; !slices.Equal(got, want) {
		t.Errorf("out-b: got %q, want %q (first match wins: abc went to a)", got, want)
	}
	if got, want := values("out-rest"), []string{"zzz", "<tombstone t>"}; !slices.Equal(got, want) {
		t.Errorf("out-rest: got %q, want %q", got, want)
	}
	// Each predicate runs once per record that reaches it.
	if calls["a"] != 5 || calls["second"] != 3 {
		t.Errorf("predicate calls: got %v, want a:5 second:3", calls)
	}
}

func TestSplitNamesAndPartitioning(t *testing.T) {
	swap := func(k, v string) (string, string) { return v, k }
	t.Run("generated prefix, no default branch", func(t *testing.T) {
		top := topology.New()
		in := topology.StreamOf(top, serde.String, serde.String, "in")
		b := in.Split("").Branch(func(_, _ string) bool { return true }, "").NoDefaultBranch()
		if _, ok := b["KSTREAM-BRANCH-00000000011"]; !ok || len(b) != 1 {
			t.Fatalf("branches: got %v, want only KSTREAM-BRANCH-00000000011 (Kafka Streams' naming)", b)
		}
		s := b["KSTREAM-BRANCH-00000000011"]
		s.To("out", serde.String, serde.String)
		topology.Count(s, "c", serde.String)
		if n := subtopologies(t, top); n != 1 {
			t.Errorf("sub-topologies: got %d, want 1 (a branch of a source keeps its partitioning)", n)
		}
	})
	t.Run("branches of a rekeyed stream repartition", func(t *testing.T) {
		top := topology.New()
		in := topology.StreamOf(top, serde.String, serde.String, "in")
		b := topology.Map(in, swap).Split("x-").DefaultBranch("")
		topology.Count(b["x-0"], "c", serde.String)
		if n := subtopologies(t, top); n != 2 {
			t.Errorf("sub-topologies: got %d, want 2 (the key changed before the split)", n)
		}
	})
	t.Run("mistakes", func(t *testing.T) {
		top := topology.New()
		in := topology.StreamOf(top, serde.String, serde.String, "in")
		sp := in.Split("d-")
		sp.Branch(func(_, _ string) bool { return true }, "a").Branch(func(_, _ string) bool { return true }, "a")
		sp.NoDefaultBranch()
		sp.Branch(func(_, _ string) bool { return true }, "late")
		err := top.Validate()
		if err == nil || !strings.Contains(err.Error(), `duplicate node name "d-a"`) || !strings.Contains(err.Error(), "Branch after DefaultBranch") {
			t.Errorf("Validate: got %v, want a duplicate branch name and a Branch after the end", err)
		}
	})
}

func TestToTopicFunc(t *testing.T) {
	top := topology.New()
	in := topology.StreamOf(top, serde.String, serde.String, "in")
	in.ToTopicFunc(func(r processor.Record[string, string]) string {
		if h, ok := r.Header("route"); ok {
			return string(h)
		}
		if r.IsTombstone() {
			return "deletes"
		}
		return "by-key-" + r.Key
	}, serde.String, serde.String)
	d := driver(t, top, nil)
	input := testkit.InputTopic(d, "in", serde.String, serde.String)
	if err := input.Pipe("x", "1"); err != nil {
		t.Fatal(err)
	}
	route := []processor.Header{{Key: "route", Value: []byte("special")}}
	if err := input.PipeRecord(processor.SourceRecord("x", "2", time.UnixMilli(2), route, processor.Origin{}), 0); err != nil {
		t.Fatal(err)
	}
	if err := input.PipeTombstone("y", time.UnixMilli(3)); err != nil {
		t.Fatal(err)
	}
	for topic, want := range map[string]string{"by-key-x": "x=1", "special": "x=2", "deletes": "y=<nil>"} {
		rs := readRecords(t, d, topic)
		if len(rs) != 1 {
			t.Errorf("%s: got %d records, want 1", topic, len(rs))
			continue
		}
		got := rs[0].Key + "=" + rs[0].Value
		if rs[0].IsTombstone() {
			got = rs[0].Key + "=<nil>"
		}
		if got != want {
			t.Errorf("%s: got %s, want %s", topic, got, want)
		}
	}
	desc, err := top.Describe()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(desc.String(), "TopicNameExtractor") {
		t.Errorf("Describe does not show the topic function:\n%s", desc)
	}
}

func TestToTopicFuncWithoutATopicFails(t *testing.T) {
	top := topology.New()
	in := topology.StreamOf(top, serde.String, serde.String, "in")
	in.ToTopicFunc(func(r processor.Record[string, string]) string { return r.Value }, serde.String, serde.String)
	d := driver(t, top, nil)
	input := testkit.InputTopic(d, "in", serde.String, serde.String)
	if err := input.Pipe("k", "fine"); err != nil {
		t.Fatal(err)
	}
	err := input.Pipe("k", "")
	if err == nil || !strings.Contains(err.Error(), "topic function returned no topic") {
		t.Fatalf("Pipe: got %v, want the error that the topic function returned no topic", err)
	}

	nilFn := topology.New()
	topology.StreamOf(nilFn, serde.String, serde.String, "in").ToTopicFunc(nil, serde.String, serde.String)
	if err := nilFn.Validate(); err == nil || !strings.Contains(err.Error(), "needs a topic function") {
		t.Errorf("Validate with a nil topic function: got %v", err)
	}
}

func TestRepartitionWithPartitions(t *testing.T) {
	build := func(n int32) *topology.Topology {
		top := topology.New()
		in := topology.StreamOf(top, serde.String, serde.String, "in")
		var rp topology.Stream[string, string]
		if n == 0 {
			rp = topology.Repartition(in, "rp", serde.String, serde.String)
		} else {
			rp = topology.RepartitionWithPartitions(in, "rp", n, serde.String, serde.String)
		}
		topology.Count(rp, "c", serde.String).To("counts", serde.String, serde.Int64)
		return top
	}
	// partitions pipes keys into a one-partition input and returns the
	// partitions of the repartition topic the records went to, and the
	// counts.
	partitions := func(t *testing.T, top *topology.Topology) (map[string]int32, map[string]int64) {
		d := driver(t, top, map[string]int32{"in": 1})
		input := testkit.InputTopic(d, "in", serde.String, serde.String)
		for i := range 40 {
			if err := input.Pipe("k"+strconv.Itoa(i%20), "v"); err != nil {
				t.Fatal(err)
			}
		}
		parts := map[string]int32{}
		for _, r := range readRecords(t, d, "driver-rp-repartition") {
			if p, seen := parts[r.Key]; seen && p != r.Partition() {
				t.Fatalf("key %s in partitions %d and %d", r.Key, p, r.Partition())
			}
			parts[r.Key] = r.Partition()
		}
		counts, err := testkit.ReadKeyValuesToMap(testkit.OutputTopic(d, "counts", serde.String, serde.Int64))
		if err != nil {
			t.Fatal(err)
		}
		return parts, counts
	}
	used := func(parts map[string]int32) []int32 {
		var ps []int32
		for _, p := range parts {
			ps = append(ps, p)
		}
		slices.Sort(ps)
		return slices.Compact(ps)
	}
	parts, counts := partitions(t, build(4))
	if ps := used(parts); len(ps) < 2 || ps[0] < 0 || ps[len(ps)-1] > 3 {
		t.Errorf("RepartitionWithPartitions(4): records in partitions %v, want several of 0..3", ps)
	}
	if len(counts) != 20 || counts["k7"] != 2 {
		t.Errorf("counts: got %v, want 20 keys counted twice each", counts)
	}
	parts, _ = partitions(t, build(0))
	if ps := used(parts); !slices.Equal(ps, []int32{0}) {
		t.Errorf("Repartition: records in partitions %v, want [0] (the input's count)", ps)
	}

	bad := topology.New()
	topology.RepartitionWithPartitions(topology.StreamOf(bad, serde.String, serde.String, "in"), "rp", 0, serde.String, serde.String).
		To("out", serde.String, serde.String)
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "partition count must be positive") {
		t.Errorf("Validate with 0 partitions: got %v", err)
	}
}

// A repartition topic with a fixed count read together with a table of
// another count cannot be co-partitioned: the driver says so, as the App
// fails at startup.
func TestRepartitionWithPartitionsCopartitioning(t *testing.T) {
	build := func() *topology.Topology {
		top := topology.New()
		in := topology.StreamOf(top, serde.String, serde.String, "in")
		tb := topology.TableOf(top, "table", "t", serde.String, serde.String)
		rp := topology.RepartitionWithPartitions(in, "rp", 3, serde.String, serde.String)
		topology.Join(rp, tb, func(_, v, vt string) string { return v + vt }).To("out", serde.String, serde.String)
		return top
	}
	if _, err := testkit.NewDriver(build(), testkit.DriverConfig{Partitions: map[string]int32{"table": 2}}); err == nil || !strings.Contains(err.Error(), "co-partitioned") {
		t.Errorf("table with 2 partitions: got %v, want a co-partitioning error", err)
	}
	d := driver(t, build(), map[string]int32{"table": 3, "in": 1})
	if err := testkit.InputTopic(d, "table", serde.String, serde.String).Pipe("k", "T"); err != nil {
		t.Fatal(err)
	}
	if err := testkit.InputTopic(d, "in", serde.String, serde.String).Pipe("k", "v"); err != nil {
		t.Fatal(err)
	}
	if got := readRecords(t, d, "out"); len(got) != 1 || got[0].Value != "vT" {
		t.Errorf("join: got %+v, want k=vT", got)
	}
}
