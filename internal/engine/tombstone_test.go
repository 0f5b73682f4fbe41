package engine

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
)

// rawOut keeps the raw key and value bytes a sink produces, nil included.
type rawOut struct{ keys, values [][]byte }

func (o *rawOut) Produce(_ string, _ int32, k, v []byte, _ time.Time, _ []processor.Header, _ *kgo.Record) {
	o.keys, o.values = append(o.keys, k), append(o.values, v)
}
func (o *rawOut) Partitions(string) (int32, error) { return 1, nil }

// nilCheckSerde fails the test if the engine asks it to decode nil.
type nilCheckSerde struct{ t *testing.T }

func (p nilCheckSerde) Serialize(_ string, v string) ([]byte, error) {
	return serde.String.Serialize("", v)
}
func (p nilCheckSerde) Deserialize(_ string, data []byte) (string, error) {
	if data == nil {
		p.t.Error("a deserializer was called with nil")
	}
	return string(data), nil
}

// TestSourceAndSinkKeepNulls: a null key or value read by a source reaches
// the processors as a record that says so (with the zero value, without
// calling the deserializer), and the sink writes it null, while "" stays a
// non-null empty payload.
func TestSourceAndSinkKeepNulls(t *testing.T) {
	var seen []string
	g, subs := newGraph(t, func(g *Graph) {
		g.Add(&Node{Name: "src", Kind: KindSource, Topics: []string{"in"}, Make: NewSource[string, string](nilCheckSerde{t}, nilCheckSerde{t}, nil)})
		g.Add(&Node{Name: "peek", Kind: KindProcessor, Parents: []string{"src"}, Make: NewProcessor(processor.Func[string, string, string, string](
			func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
				seen = append(seen, fmt.Sprintf("%q/%v=%q/%v", r.Key, r.KeyIsNull(), r.Value, r.IsTombstone()))
				ctx.Forward(r)
				return nil
			}).Supplier())})
		g.Add(&Node{Name: "out", Kind: KindSink, Parents: []string{"peek"}, Topic: "o", Make: NewSink(SinkSpec[string, string]{Topic: "o", Key: nilCheckSerde{t}, Value: nilCheckSerde{t}})})
	})
	out := &rawOut{}
	task, err := NewTask(g, subs[0], 0, TaskConfig{AppID: "app", Output: out, Stores: NewMemoryStores()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = task.Close() }()
	in := [][2][]byte{{[]byte("a"), nil}, {nil, []byte("v")}, {nil, nil}, {[]byte{}, []byte{}}}
	for i, kv := range in {
		task.Add(&kgo.Record{Topic: "in", Key: kv[0], Value: kv[1], Offset: int64(i), Timestamp: time.UnixMilli(int64(i))})
	}
	if n := task.Process(10); n != len(in) || task.Err() != nil {
		t.Fatalf("processed %d, err %v", n, task.Err())
	}
	want := []string{`"a"/false=""/true`, `""/true="v"/false`, `""/true=""/true`, `""/false=""/false`}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("processor saw %q, want %q", seen, want)
	}
	for i, kv := range in {
		if (out.keys[i] == nil) != (kv[0] == nil) || !bytes.Equal(out.keys[i], kv[0]) {
			t.Errorf("record %d: key %#v written as %#v", i, kv[0], out.keys[i])
		}
		if (out.values[i] == nil) != (kv[1] == nil) || !bytes.Equal(out.values[i], kv[1]) {
			t.Errorf("record %d: value %#v written as %#v", i, kv[1], out.values[i])
		}
	}
}

// TestDropIsCountedNotAnError: a processor reporting a record it drops by
// design (through the Dropper its context implements) is counted by the
// task, and neither the error policy nor the skipped count hears of it.
func TestDropIsCountedNotAnError(t *testing.T) {
	g, subs := newGraph(t, func(g *Graph) {
		g.Add(&Node{Name: "src", Kind: KindSource, Topics: []string{"in"}, Make: NewSource(serde.String, serde.String, nil)})
		g.Add(&Node{Name: "drop", Kind: KindProcessor, Parents: []string{"src"}, Make: NewProcessor(processor.Func[string, string, string, string](
			func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
				if r.IsTombstone() {
					ctx.(Dropper).Drop("tombstone", "")
				}
				return nil
			}).Supplier())})
	})
	handled := 0
	task, err := NewTask(g, subs[0], 0, TaskConfig{AppID: "app", Output: &rawOut{}, Stores: NewMemoryStores(),
		OnError:   func(ErrorKind, error) Decision { handled++; return Skip },
		OnHandled: func(ErrorKind, Decision, error) { handled++ }})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = task.Close() }()
	task.Add(&kgo.Record{Topic: "in", Key: []byte("a"), Value: nil, Offset: 0, Timestamp: time.UnixMilli(1)})
	task.Add(&kgo.Record{Topic: "in", Key: []byte("a"), Value: []byte("x"), Offset: 1, Timestamp: time.UnixMilli(1)})
	task.Add(&kgo.Record{Topic: "in", Key: []byte("b"), Value: nil, Offset: 2, Timestamp: time.UnixMilli(1)})
	task.Process(10)
	if task.Dropped() != 2 || task.Skipped() != 0 || handled != 0 || task.Err() != nil {
		t.Fatalf("dropped %d, skipped %d, policy called %d times, err %v; want 2 dropped and nothing else", task.Dropped(), task.Skipped(), handled, task.Err())
	}
}
