package topology_test

import (
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// Stateless operators.

// Filter keeps the records its predicate accepts.
func ExampleStream_Filter() {
	t := topology.New()
	topology.StreamOf(t, serde.String, serde.Int64, "orders").
		Filter(func(_ string, cents int64) bool { return cents >= 1000 }).
		To("large-orders", serde.String, serde.Int64)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "orders", serde.String, serde.Int64)
	_ = in.Pipe("o1", 250)
	_ = in.Pipe("o2", 4000)
	_ = in.Pipe("o3", 1000)
	kvs, _ := testkit.OutputTopic(d, "large-orders", serde.String, serde.Int64).ReadKeyValues()
	fmt.Println(kvs)
	// Output:
	// [{o2 4000} {o3 1000}]
}

// FilterNot drops the records its predicate accepts.
func ExampleStream_FilterNot() {
	t := topology.New()
	topology.StreamOf(t, serde.String, serde.String, "lines").
		FilterNot(func(_, line string) bool { return strings.HasPrefix(line, "#") }).
		To("code", serde.String, serde.String)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "lines", serde.String, serde.String)
	for _, line := range []string{"# a comment", "x := 1", "#!", "return x"} {
		_ = in.Pipe("f.go", line)
	}
	values, _ := testkit.OutputTopic(d, "code", serde.String, serde.String).ReadValues()
	fmt.Printf("%q\n", values)
	// Output:
	// ["x := 1" "return x"]
}

// Map changes key and value (and their types) at once: here a user's
// "page:seconds" becomes page → seconds.
func ExampleMap() {
	t := topology.New()
	visits := topology.StreamOf(t, serde.String, serde.String, "visits") // user → "page:seconds"
	topology.Map(visits, func(user, visit string) (string, int64) {
		page, secs, _ := strings.Cut(visit, ":")
		var n int64
		fmt.Sscan(secs, &n)
		return page, n
	}).To("time-on-page", serde.String, serde.Int64)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "visits", serde.String, serde.String)
	_ = in.Pipe("ann", "/home:12")
	_ = in.Pipe("bob", "/cart:40")
	kvs, _ := testkit.OutputTopic(d, "time-on-page", serde.String, serde.Int64).ReadKeyValues()
	fmt.Println(kvs)
	// Output:
	// [{/home 12} {/cart 40}]
}

// MapValues changes the value only; the key, and so the partitioning, stay.
func ExampleMapValues() {
	t := topology.New()
	names := topology.StreamOf(t, serde.String, serde.String, "names")
	topology.MapValues(names, func(_, name string) int64 { return int64(len(name)) }).
		To("name-lengths", serde.String, serde.Int64)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "names", serde.String, serde.String)
	_ = in.Pipe("u1", "Ann")
	_ = in.Pipe("u2", "Gregor")
	kvs, _ := testkit.OutputTopic(d, "name-lengths", serde.String, serde.Int64).ReadKeyValues()
	fmt.Println(kvs)
	// Output:
	// [{u1 3} {u2 6}]
}

// FlatMap turns each record into any number of records, with new keys:
// here a sentence into its words, each keyed by itself.
func ExampleFlatMap() {
	t := topology.New()
	sentences := topology.StreamOf(t, serde.String, serde.String, "sentences")
	topology.FlatMap(sentences, func(_, s string) []processor.KeyValue[string, string] {
		var out []processor.KeyValue[string, string]
		for _, w := range strings.Fields(s) {
			out = append(out, processor.KeyValue[string, string]{Key: strings.ToLower(w), Value: w})
		}
		return out
	}).To("words", serde.String, serde.String)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "sentences", serde.String, serde.String)
	_ = in.Pipe("s1", "Hello Kafka")
	_ = in.Pipe("s2", "") // no words: no records
	_ = in.Pipe("s3", "Go")
	kvs, _ := testkit.OutputTopic(d, "words", serde.String, serde.String).ReadKeyValues()
	fmt.Println(kvs)
	// Output:
	// [{hello Hello} {kafka Kafka} {go Go}]
}

// FlatMapValues turns each value into any number of values of the same key.
func ExampleFlatMapValues() {
	t := topology.New()
	carts := topology.StreamOf(t, serde.String, serde.String, "carts") // user → "item,item,…"
	topology.FlatMapValues(carts, func(_, items string) []string { return strings.Split(items, ",") }).
		To("cart-items", serde.String, serde.String)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "carts", serde.String, serde.String)
	_ = in.Pipe("ann", "book,pen")
	_ = in.Pipe("bob", "ink")
	kvs, _ := testkit.OutputTopic(d, "cart-items", serde.String, serde.String).ReadKeyValues()
	fmt.Println(kvs)
	// Output:
	// [{ann book} {ann pen} {bob ink}]
}

// Peek sees every record and passes it on unchanged.
func ExampleStream_Peek() {
	t := topology.New()
	topology.StreamOf(t, serde.String, serde.String, "in").
		Peek(func(k, v string) { fmt.Println("saw", k, v) }).
		To("out", serde.String, serde.String)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "in", serde.String, serde.String)
	_ = in.Pipe("a", "1")
	_ = in.Pipe("b", "2")
	kvs, _ := testkit.OutputTopic(d, "out", serde.String, serde.String).ReadKeyValues()
	fmt.Println(kvs)
	// Output:
	// saw a 1
	// saw b 2
	// [{a 1} {b 2}]
}

// Foreach ends a stream in a function: it forwards nothing.
func ExampleStream_Foreach() {
	t := topology.New()
	topology.StreamOf(t, serde.String, serde.Int64, "temperatures").
		Foreach(func(room string, c int64) {
			if c > 30 {
				fmt.Printf("%s is hot: %d°C\n", room, c)
			}
		})

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "temperatures", serde.String, serde.Int64)
	_ = in.Pipe("kitchen", 24)
	_ = in.Pipe("attic", 34)
	// Output:
	// attic is hot: 34°C
}

// Merge interleaves streams of the same types into one, in the order the
// records are processed.
func ExampleStream_Merge() {
	t := topology.New()
	web := topology.StreamOf(t, serde.String, serde.String, "web-orders")
	shop := topology.StreamOf(t, serde.String, serde.String, "shop-orders")
	web.Merge(shop).To("all-orders", serde.String, serde.String)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	w := testkit.InputTopic(d, "web-orders", serde.String, serde.String)
	s := testkit.InputTopic(d, "shop-orders", serde.String, serde.String)
	_ = w.Pipe("o1", "book")
	_ = s.Pipe("o2", "pen")
	_ = w.Pipe("o3", "ink")
	kvs, _ := testkit.OutputTopic(d, "all-orders", serde.String, serde.String).ReadKeyValues()
	fmt.Println(kvs)
	// Output:
	// [{o1 book} {o2 pen} {o3 ink}]
}

// ToTopicFunc picks each record's topic from the record: here the
// country prefix of the key.
func ExampleStream_ToTopicFunc() {
	t := topology.New()
	topology.StreamOf(t, serde.String, serde.String, "orders").
		ToTopicFunc(func(r processor.Record[string, string]) string {
			country, _, _ := strings.Cut(r.Key, "-")
			return "orders-" + country
		}, serde.String, serde.String)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "orders", serde.String, serde.String)
	_ = in.Pipe("de-1", "book")
	_ = in.Pipe("fr-1", "pen")
	_ = in.Pipe("de-2", "ink")
	for _, topic := range []string{"orders-de", "orders-fr"} {
		kvs, _ := testkit.OutputTopic(d, topic, serde.String, serde.String).ReadKeyValues()
		fmt.Println(topic, kvs)
	}
	// Output:
	// orders-de [{de-1 book} {de-2 ink}]
	// orders-fr [{fr-1 pen}]
}

// Repartition writes the stream through a repartition topic and reads it
// back, as Kafka Streams' repartition(): after a key change, every record
// of a key is then processed by the task of that key's partition.
func ExampleRepartition() {
	t := topology.New()
	clicks := topology.StreamOf(t, serde.String, serde.String, "clicks") // user → page
	byPage := topology.SelectKey(clicks, func(_, page string) string { return page })
	topology.Repartition(byPage, "by-page", serde.String, serde.String).
		To("clicks-by-page", serde.String, serde.String)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{DefaultPartitions: 2})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "clicks", serde.String, serde.String)
	_ = in.Pipe("ann", "/home")
	_ = in.Pipe("bob", "/cart")
	kvs, _ := testkit.OutputTopic(d, "clicks-by-page", serde.String, serde.String).ReadKeyValues()
	sort.Slice(kvs, func(i, j int) bool { return kvs[i].Key < kvs[j].Key })
	fmt.Println(kvs)
	// Output:
	// [{/cart /cart} {/home /home}]
}

// StreamFrom reads a topic with a timestamp extractor: here the event time
// is the first 8 bytes of the value (Unix milliseconds, big-endian), not
// the record's own timestamp.
func ExampleStreamFrom() {
	t := topology.New()
	readings := topology.StreamFrom(t, topology.Source[string, []byte]{
		Topics: []string{"readings"},
		Key:    serde.String,
		Value:  serde.Bytes,
		Timestamp: func(r *kgo.Record) time.Time {
			return time.UnixMilli(int64(binary.BigEndian.Uint64(r.Value)))
		},
	})
	readings.To("stamped", serde.String, serde.Bytes)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "readings", serde.String, serde.Bytes)
	_ = in.PipeAt("sensor", binary.BigEndian.AppendUint64(nil, 5000), time.UnixMilli(999999))
	r, _ := testkit.OutputTopic(d, "stamped", serde.String, serde.Bytes).ReadRecord()
	fmt.Println(r.Key, r.Timestamp.UnixMilli())
	// Output:
	// sensor 5000
}

// StreamFrom with EventTime: the event time is a field of the decoded
// value, and a record without one gets its partition's time so far.
func ExampleStreamFrom_eventTime() {
	type reading struct {
		Celsius float64
		AtMilli int64
	}
	t := topology.New()
	readings := topology.StreamFrom(t, topology.Source[string, reading]{
		Topics: []string{"readings"},
		Key:    serde.String,
		Value:  serde.JSON[reading](),
		EventTime: func(r processor.Record[string, reading], partitionTime time.Time) (time.Time, error) {
			if r.Value.AtMilli == 0 {
				return partitionTime, nil
			}
			return time.UnixMilli(r.Value.AtMilli), nil
		},
	})
	readings.To("stamped", serde.String, serde.JSON[reading]())

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "readings", serde.String, serde.JSON[reading]())
	_ = in.PipeAt("s1", reading{Celsius: 21.5, AtMilli: 4000}, time.UnixMilli(9000))
	_ = in.PipeAt("s1", reading{Celsius: 22}, time.UnixMilli(9500))
	out := testkit.OutputTopic(d, "stamped", serde.String, serde.JSON[reading]())
	for !out.IsEmpty() {
		r, _ := out.ReadRecord()
		fmt.Println(r.Key, r.Value.Celsius, r.Timestamp.UnixMilli())
	}
	// Output:
	// s1 21.5 4000
	// s1 22 4000
}

// Named names the node an operator added, in place of the generated name.
func ExampleStream_Named() {
	t := topology.New()
	topology.StreamOf(t, serde.String, serde.String, "orders").
		Filter(func(_, v string) bool { return v != "" }).Named("drop-empty").
		To("valid-orders", serde.String, serde.String)

	desc, _ := t.Describe()
	fmt.Print(desc)
	// Output:
	// Topologies:
	//    Sub-topology: 0
	//     Source: KSTREAM-SOURCE-0000000000 (topics: [orders])
	//       --> drop-empty
	//     Processor: drop-empty (stores: [])
	//       --> KSTREAM-SINK-0000000002
	//       <-- KSTREAM-SOURCE-0000000000
	//     Sink: KSTREAM-SINK-0000000002 (topic: valid-orders)
	//       <-- drop-empty
}

// Describe lists the sub-topologies, their nodes and stores: here GroupBy
// splits the topology in two at a repartition topic, and Count's store
// belongs to the second.
func ExampleTopology_Describe() {
	t := topology.New()
	views := topology.StreamOf(t, serde.String, serde.String, "page-views") // user → page
	byPage := topology.GroupBy(views, "by-page", func(_, page string) string { return page }, serde.String, serde.String)
	topology.Count(byPage, "views-per-page", serde.String).To("page-counts", serde.String, serde.Int64)

	desc, err := t.Describe()
	if err != nil {
		panic(err)
	}
	fmt.Print(desc)
	// Output:
	// Topologies:
	//    Sub-topology: 0
	//     Source: KSTREAM-SOURCE-0000000000 (topics: [page-views])
	//       --> KSTREAM-MAP-0000000001
	//     Processor: KSTREAM-MAP-0000000001 (stores: [])
	//       --> by-page-repartition-sink
	//       <-- KSTREAM-SOURCE-0000000000
	//     Sink: by-page-repartition-sink (topic: by-page-repartition)
	//       <-- KSTREAM-MAP-0000000001
	//
	//    Sub-topology: 1
	//     Source: by-page-repartition-source (topics: [by-page-repartition])
	//       --> KSTREAM-AGGREGATE-0000000002
	//     Processor: KSTREAM-AGGREGATE-0000000002 (stores: [views-per-page])
	//       --> KSTREAM-SINK-0000000003
	//       <-- by-page-repartition-source
	//     Sink: KSTREAM-SINK-0000000003 (topic: page-counts)
	//       <-- KSTREAM-AGGREGATE-0000000002
}

// Aggregations and grouping.

// Aggregate folds each key's values into an aggregate of another type:
// here the sum and the number of a user's purchases, emitted at each one.
func ExampleAggregate() {
	type spend struct{ Total, Count int64 }
	t := topology.New()
	buys := topology.StreamOf(t, serde.String, serde.Int64, "purchases")
	topology.Aggregate(buys, "spend-per-user", func() spend { return spend{} },
		func(_ string, amount int64, s spend) spend { return spend{s.Total + amount, s.Count + 1} },
		serde.String, serde.JSON[spend]()).
		To("spend", serde.String, serde.JSON[spend]())

	d, err := testkit.NewDriver(t, testkit.DriverConfig{CacheMaxBytes: -1})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "purchases", serde.String, serde.Int64)
	_ = in.Pipe("ann", 30)
	_ = in.Pipe("bob", 5)
	_ = in.Pipe("ann", 12)
	out := testkit.OutputTopic(d, "spend", serde.String, serde.JSON[spend]())
	for !out.IsEmpty() {
		r, _ := out.ReadRecord()
		fmt.Printf("%s: %d in %d purchases\n", r.Key, r.Value.Total, r.Value.Count)
	}
	// Output:
	// ann: 30 in 1 purchases
	// bob: 5 in 1 purchases
	// ann: 42 in 2 purchases
}

// GroupBy re-keys a stream for an aggregation, through a repartition topic
// (Kafka Streams' groupBy): here page views keyed by user are counted per
// page.
func ExampleGroupBy() {
	t := topology.New()
	views := topology.StreamOf(t, serde.String, serde.String, "page-views") // user → page
	byPage := topology.GroupBy(views, "by-page", func(_, page string) string { return page }, serde.String, serde.String)
	topology.Count(byPage, "views-per-page", serde.String).To("page-counts", serde.String, serde.Int64)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{CacheMaxBytes: -1})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "page-views", serde.String, serde.String)
	_ = in.Pipe("ann", "/home")
	_ = in.Pipe("bob", "/home")
	_ = in.Pipe("ann", "/cart")
	kvs, _ := testkit.OutputTopic(d, "page-counts", serde.String, serde.Int64).ReadKeyValues()
	fmt.Println(kvs)
	// Output:
	// [{/home 1} {/home 2} {/cart 1}]
}

// WithoutCache turns an aggregation's record cache off: with the driver's
// manual commits, the cache collapses the updates of a key between two
// commits into one; without it, every update is forwarded.
func ExampleTopology_WithoutCache() {
	for _, cached := range []bool{true, false} {
		t := topology.New()
		clicks := topology.StreamOf(t, serde.String, serde.String, "clicks")
		topology.Count(clicks, "clicks-per-user", serde.String).To("click-counts", serde.String, serde.Int64)
		if !cached {
			t.WithoutCache("clicks-per-user")
		}

		d, err := testkit.NewDriver(t, testkit.DriverConfig{ManualCommit: true})
		if err != nil {
			panic(err)
		}
		in := testkit.InputTopic(d, "clicks", serde.String, serde.String)
		_ = in.Pipe("ann", "/home")
		_ = in.Pipe("ann", "/cart")
		_ = in.Pipe("ann", "/help")
		_ = d.Commit()
		kvs, _ := testkit.OutputTopic(d, "click-counts", serde.String, serde.Int64).ReadKeyValues()
		fmt.Println("cached:", cached, kvs)
		d.Close()
	}
	// Output:
	// cached: true [{ann 3}]
	// cached: false [{ann 1} {ann 2} {ann 3}]
}

// Cogroup folds several streams of one key into one aggregate, each with
// its own adder (Kafka Streams' cogroup): here a user's views and
// purchases.
func ExampleCogroup() {
	type activity struct{ Views, Spent int64 }
	t := topology.New()
	views := topology.StreamOf(t, serde.String, serde.String, "page-views") // user → page
	buys := topology.StreamOf(t, serde.String, serde.Int64, "purchases")    // user → amount
	c := topology.Cogroup(views, func(_, _ string, a activity) activity { a.Views++; return a })
	c = topology.CogroupWith(c, buys, func(_ string, amount int64, a activity) activity { a.Spent += amount; return a })
	c.Aggregate("activity", func() activity { return activity{} }, serde.String, serde.JSON[activity]()).
		To("activity", serde.String, serde.JSON[activity]())

	d, err := testkit.NewDriver(t, testkit.DriverConfig{CacheMaxBytes: -1})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	pv := testkit.InputTopic(d, "page-views", serde.String, serde.String)
	pu := testkit.InputTopic(d, "purchases", serde.String, serde.Int64)
	_ = pv.Pipe("ann", "/home")
	_ = pv.Pipe("ann", "/shoes")
	_ = pu.Pipe("ann", 80)
	_ = pu.Pipe("bob", 15)
	out := testkit.OutputTopic(d, "activity", serde.String, serde.JSON[activity]())
	for !out.IsEmpty() {
		r, _ := out.ReadRecord()
		fmt.Printf("%s: %d views, spent %d\n", r.Key, r.Value.Views, r.Value.Spent)
	}
	// Output:
	// ann: 1 views, spent 0
	// ann: 2 views, spent 0
	// ann: 2 views, spent 80
	// bob: 0 views, spent 15
}

// Tables.

// TableOf reads a topic as a table: the latest value of each key, a
// tombstone deleting it. ToStream emits the table's changes.
func ExampleTableOf() {
	t := topology.New()
	topology.TableOf(t, "stock", "stock-store", serde.String, serde.Int64).
		ToStream().To("stock-changes", serde.String, serde.Int64)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{CacheMaxBytes: -1})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "stock", serde.String, serde.Int64)
	_ = in.Pipe("tea", 12)
	_ = in.Pipe("jam", 3)
	_ = in.Pipe("tea", 11)
	_ = in.PipeTombstone("jam", time.UnixMilli(0))
	out := testkit.OutputTopic(d, "stock-changes", serde.String, serde.Int64)
	for !out.IsEmpty() {
		r, _ := out.ReadRecord()
		if r.IsTombstone() {
			fmt.Printf("%s deleted\n", r.Key)
			continue
		}
		fmt.Printf("%s=%d\n", r.Key, r.Value)
	}
	store, _ := testkit.KeyValueStoreOf[string, int64](d, "stock-store", 0)
	tea, _, _ := store.Get("tea")
	_, jam, _ := store.Get("jam")
	fmt.Println("store: tea", tea, "jam found", jam)
	// Output:
	// tea=12
	// jam=3
	// tea=11
	// jam deleted
	// store: tea 11 jam found false
}

// TableMapValues maps a table's values; a tombstone stays a tombstone.
func ExampleTableMapValues() {
	t := topology.New()
	prices := topology.TableOf(t, "prices", "prices-store", serde.String, serde.Int64) // cents
	topology.TableMapValues(prices, func(_ string, cents int64) string { return fmt.Sprintf("%d.%02d €", cents/100, cents%100) }).
		ToStream().To("price-labels", serde.String, serde.String)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{CacheMaxBytes: -1})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "prices", serde.String, serde.Int64)
	_ = in.Pipe("tea", 450)
	_ = in.PipeTombstone("tea", time.UnixMilli(0))
	out := testkit.OutputTopic(d, "price-labels", serde.String, serde.String)
	for !out.IsEmpty() {
		r, _ := out.ReadRecord()
		fmt.Printf("%s: %q tombstone=%v\n", r.Key, r.Value, r.IsTombstone())
	}
	// Output:
	// tea: "4.50 €" tombstone=false
	// tea: "" tombstone=true
}

// Table.FilterNot drops the keys its predicate accepts, forwarding a
// tombstone for a key that leaves the filtered table.
func ExampleTable_FilterNot() {
	t := topology.New()
	users := topology.TableOf(t, "users", "users-store", serde.String, serde.String) // id → status
	users.FilterNot(func(_, status string) bool { return status == "banned" }).
		ToStream().To("active-users", serde.String, serde.String)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{CacheMaxBytes: -1})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "users", serde.String, serde.String)
	_ = in.Pipe("u1", "ok")
	_ = in.Pipe("u1", "banned")
	out := testkit.OutputTopic(d, "active-users", serde.String, serde.String)
	for !out.IsEmpty() {
		r, _ := out.ReadRecord()
		fmt.Printf("%s: %q tombstone=%v\n", r.Key, r.Value, r.IsTombstone())
	}
	// Output:
	// u1: "ok" tombstone=false
	// u1: "" tombstone=true
}

// Table.Named names the node that produces the table.
func ExampleTable_Named() {
	t := topology.New()
	topology.TableOf(t, "users", "users-store", serde.String, serde.String).
		Filter(func(_, v string) bool { return v != "" }).Named("non-empty-users").
		ToStream().To("users-out", serde.String, serde.String)

	desc, _ := t.Describe()
	fmt.Print(desc)
	// Output:
	// Topologies:
	//    Sub-topology: 0
	//     Source: KSTREAM-SOURCE-0000000000 (topics: [users])
	//       --> KTABLE-SOURCE-0000000001
	//     Processor: KTABLE-SOURCE-0000000001 (stores: [users-store])
	//       --> non-empty-users
	//       <-- KSTREAM-SOURCE-0000000000
	//     Processor: non-empty-users (stores: [])
	//       --> KTABLE-TOSTREAM-0000000003
	//       <-- KTABLE-SOURCE-0000000001
	//     Processor: KTABLE-TOSTREAM-0000000003 (stores: [])
	//       --> KSTREAM-SINK-0000000004
	//       <-- non-empty-users
	//     Sink: KSTREAM-SINK-0000000004 (topic: users-out)
	//       <-- KTABLE-TOSTREAM-0000000003
}

// GroupTable re-keys a table for an aggregation; TableCount counts the rows
// of each new key. When a row changes group, the old group's count goes
// down (the subtractor) and the new one's up; a tombstone takes the row
// out.
func ExampleTableCount() {
	t := topology.New()
	users := topology.TableOf(t, "users", "users-store", serde.String, serde.String) // user → city
	byCity := topology.GroupTable(users, "by-city", func(_, city string) (string, string) { return city, city }, serde.String, serde.String)
	topology.TableCount(byCity, "users-per-city").ToStream().To("city-counts", serde.String, serde.Int64)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{CacheMaxBytes: -1})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "users", serde.String, serde.String)
	_ = in.Pipe("ann", "Paris")
	_ = in.Pipe("bob", "Paris")
	_ = in.Pipe("ann", "Rome") // moves: Paris 1, Rome 1
	_ = in.PipeTombstone("bob", time.UnixMilli(0))
	kvs, _ := testkit.OutputTopic(d, "city-counts", serde.String, serde.Int64).ReadKeyValues()
	fmt.Println(kvs)
	// Output:
	// [{Paris 1} {Paris 2} {Paris 1} {Rome 1} {Paris 0}]
}

// TableAggregate keeps an aggregate of each group of a grouped table, with
// an adder for a new row value and a subtractor for the old one: here the
// total balance of the accounts of each customer.
func ExampleTableAggregate() {
	t := topology.New()
	accounts := topology.TableOf(t, "accounts", "accounts-store", serde.String, serde.String) // account → "customer:balance"
	byCustomer := topology.GroupTable(accounts, "by-customer", func(_, v string) (string, int64) {
		customer, balance, _ := strings.Cut(v, ":")
		var n int64
		fmt.Sscan(balance, &n)
		return customer, n
	}, serde.String, serde.Int64)
	topology.TableAggregate(byCustomer, "balance-per-customer", func() int64 { return 0 },
		func(_ string, balance, total int64) int64 { return total + balance },
		func(_ string, balance, total int64) int64 { return total - balance },
		serde.Int64).ToStream().To("customer-balances", serde.String, serde.Int64)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{CacheMaxBytes: -1})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "accounts", serde.String, serde.String)
	_ = in.Pipe("a1", "ann:100")
	_ = in.Pipe("a2", "ann:50")
	_ = in.Pipe("a1", "ann:70") // 100 out, 70 in
	_ = in.PipeTombstone("a2", time.UnixMilli(0))
	kvs, _ := testkit.OutputTopic(d, "customer-balances", serde.String, serde.Int64).ReadKeyValues()
	fmt.Println(kvs)
	// Output:
	// [{ann 100} {ann 150} {ann 120} {ann 70}]
}

// TableReduce is TableAggregate with the value type as the aggregate:
// here the total stock of each product over all warehouses.
func ExampleTableReduce() {
	t := topology.New()
	stock := topology.TableOf(t, "stock", "stock-store", serde.String, serde.Int64) // "warehouse/product" → units
	byProduct := topology.GroupTable(stock, "by-product", func(k string, units int64) (string, int64) {
		_, product, _ := strings.Cut(k, "/")
		return product, units
	}, serde.String, serde.Int64)
	topology.TableReduce(byProduct, "stock-per-product",
		func(total, units int64) int64 { return total + units },
		func(total, units int64) int64 { return total - units },
		serde.Int64).ToStream().To("product-stock", serde.String, serde.Int64)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{CacheMaxBytes: -1})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "stock", serde.String, serde.Int64)
	_ = in.Pipe("north/tea", 10)
	_ = in.Pipe("south/tea", 5)
	_ = in.Pipe("north/tea", 7)
	kvs, _ := testkit.OutputTopic(d, "product-stock", serde.String, serde.Int64).ReadKeyValues()
	fmt.Println(kvs)
	// Output:
	// [{tea 10} {tea 15} {tea 12}]
}

// Joins.

// A left stream-table join keeps the records whose key the table does not
// have, with found false.
func ExampleLeftJoin() {
	t := topology.New()
	orders := topology.StreamOf(t, serde.String, serde.String, "orders")
	customers := topology.TableOf(t, "customers", "customers-store", serde.String, serde.String)
	topology.LeftJoin(orders, customers, func(_, order, name string, found bool) string {
		if !found {
			return order + " for an unknown customer"
		}
		return order + " for " + name
	}).To("orders-enriched", serde.String, serde.String)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	ords := testkit.InputTopic(d, "orders", serde.String, serde.String)
	custs := testkit.InputTopic(d, "customers", serde.String, serde.String)
	_ = ords.PipeAt("c1", "book", time.UnixMilli(10))
	_ = custs.PipeAt("c1", "Ann", time.UnixMilli(20))
	_ = ords.PipeAt("c1", "pen", time.UnixMilli(30))
	values, _ := testkit.OutputTopic(d, "orders-enriched", serde.String, serde.String).ReadValues()
	fmt.Printf("%q\n", values)
	// Output:
	// ["book for an unknown customer" "pen for Ann"]
}

// A table-table join is a table of the keys both tables have: an update on
// either side re-joins, and a key leaving either side is a tombstone.
func ExampleTableJoin() {
	t := topology.New()
	names := topology.TableOf(t, "names", "names-store", serde.String, serde.String)
	emails := topology.TableOf(t, "emails", "emails-store", serde.String, serde.String)
	topology.TableJoin(names, emails, func(_, name, email string) string { return name + " <" + email + ">" }).
		ToStream().To("contacts", serde.String, serde.String)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{CacheMaxBytes: -1})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	n := testkit.InputTopic(d, "names", serde.String, serde.String)
	e := testkit.InputTopic(d, "emails", serde.String, serde.String)
	_ = n.Pipe("u1", "Ann")                      // no email yet: nothing
	_ = e.Pipe("u1", "ann@example.com")          // joins
	_ = n.Pipe("u1", "Ann Lee")                  // re-joins
	_ = e.PipeTombstone("u1", time.UnixMilli(0)) // leaves the join
	out := testkit.OutputTopic(d, "contacts", serde.String, serde.String)
	for !out.IsEmpty() {
		r, _ := out.ReadRecord()
		if r.IsTombstone() {
			fmt.Printf("%s deleted\n", r.Key)
			continue
		}
		fmt.Printf("%s: %s\n", r.Key, r.Value)
	}
	// Output:
	// u1: Ann <ann@example.com>
	// u1: Ann Lee <ann@example.com>
	// u1 deleted
}

// A left table-table join keeps every key of the left table, with found2
// false while the right table does not have it.
func ExampleTableLeftJoin() {
	t := topology.New()
	names := topology.TableOf(t, "names", "names-store", serde.String, serde.String)
	emails := topology.TableOf(t, "emails", "emails-store", serde.String, serde.String)
	topology.TableLeftJoin(names, emails, func(_, name, email string, found2 bool) string {
		if !found2 {
			return name + " (no email)"
		}
		return name + " <" + email + ">"
	}).ToStream().To("contacts", serde.String, serde.String)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{CacheMaxBytes: -1})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	n := testkit.InputTopic(d, "names", serde.String, serde.String)
	e := testkit.InputTopic(d, "emails", serde.String, serde.String)
	_ = n.Pipe("u1", "Ann")
	_ = e.Pipe("u1", "ann@example.com")
	_ = e.PipeTombstone("u1", time.UnixMilli(0))
	_ = e.Pipe("u2", "bob@example.com") // no name: not in the left table
	values, _ := testkit.OutputTopic(d, "contacts", serde.String, serde.String).ReadValues()
	fmt.Printf("%q\n", values)
	// Output:
	// ["Ann (no email)" "Ann <ann@example.com>" "Ann (no email)"]
}

// An outer table-table join has every key of either table; it is deleted
// only when both sides are.
func ExampleTableOuterJoin() {
	t := topology.New()
	names := topology.TableOf(t, "names", "names-store", serde.String, serde.String)
	emails := topology.TableOf(t, "emails", "emails-store", serde.String, serde.String)
	topology.TableOuterJoin(names, emails, func(_, name, email string, found1, found2 bool) string {
		return fmt.Sprintf("name=%q(%v) email=%q(%v)", name, found1, email, found2)
	}).ToStream().To("contacts", serde.String, serde.String)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{CacheMaxBytes: -1})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	n := testkit.InputTopic(d, "names", serde.String, serde.String)
	e := testkit.InputTopic(d, "emails", serde.String, serde.String)
	_ = e.Pipe("u1", "ann@example.com")
	_ = n.Pipe("u1", "Ann")
	_ = e.PipeTombstone("u1", time.UnixMilli(0))
	_ = n.PipeTombstone("u1", time.UnixMilli(0))
	out := testkit.OutputTopic(d, "contacts", serde.String, serde.String)
	for !out.IsEmpty() {
		r, _ := out.ReadRecord()
		if r.IsTombstone() {
			fmt.Printf("%s deleted\n", r.Key)
			continue
		}
		fmt.Printf("%s: %s\n", r.Key, r.Value)
	}
	// Output:
	// u1: name=""(false) email="ann@example.com"(true)
	// u1: name="Ann"(true) email="ann@example.com"(true)
	// u1: name="Ann"(true) email=""(false)
	// u1 deleted
}

// A stream-stream join pairs the records of a key on both sides whose
// times are at most the time difference apart, in either order.
func ExampleJoinStreams() {
	t := topology.New()
	ads := topology.StreamOf(t, serde.String, serde.String, "ad-impressions") // ad → user
	clicks := topology.StreamOf(t, serde.String, serde.String, "ad-clicks")   // ad → user
	topology.JoinStreams(ads, clicks, "shown-clicked", topology.JoinTimeDifference(10*time.Second),
		func(ad, shownTo, clickedBy string) string { return "shown to " + shownTo + ", clicked by " + clickedBy },
		serde.String, serde.String, serde.String).To("ad-conversions", serde.String, serde.String)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	imp := testkit.InputTopic(d, "ad-impressions", serde.String, serde.String)
	clk := testkit.InputTopic(d, "ad-clicks", serde.String, serde.String)
	at := func(s int) time.Time { return time.UnixMilli(int64(s) * 1000) }
	_ = imp.PipeAt("ad1", "ann", at(0))
	_ = clk.PipeAt("ad1", "ann", at(4)) // 4 s after: joins
	_ = imp.PipeAt("ad2", "bob", at(5))
	_ = clk.PipeAt("ad2", "bob", at(30)) // 25 s after: too late
	out := testkit.OutputTopic(d, "ad-conversions", serde.String, serde.String)
	for !out.IsEmpty() {
		r, _ := out.ReadRecord()
		fmt.Printf("%s: %s at %ds\n", r.Key, r.Value, r.Timestamp.Unix())
	}
	// Output:
	// ad1: shown to ann, clicked by ann at 4s
}

// An outer stream-stream join also emits the records of either side that
// found no partner, once their window has closed.
func ExampleOuterJoinStreams() {
	t := topology.New()
	left := topology.StreamOf(t, serde.String, serde.String, "left")
	right := topology.StreamOf(t, serde.String, serde.String, "right")
	topology.OuterJoinStreams(left, right, "outer", topology.JoinTimeDifference(10*time.Millisecond).WithGrace(0),
		func(_, l, r string, found1, found2 bool) string {
			if !found1 {
				l = "-"
			}
			if !found2 {
				r = "-"
			}
			return l + "+" + r
		}, serde.String, serde.String, serde.String).To("joined", serde.String, serde.String)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	l := testkit.InputTopic(d, "left", serde.String, serde.String)
	r := testkit.InputTopic(d, "right", serde.String, serde.String)
	_ = l.PipeAt("a", "L1", time.UnixMilli(100))
	_ = r.PipeAt("a", "R1", time.UnixMilli(105)) // joins L1
	_ = l.PipeAt("b", "L2", time.UnixMilli(110)) // no partner
	_ = r.PipeAt("c", "R2", time.UnixMilli(112)) // no partner
	_ = l.PipeAt("z", "L3", time.UnixMilli(200)) // closes the windows of b and c
	out := testkit.OutputTopic(d, "joined", serde.String, serde.String)
	for !out.IsEmpty() {
		r, _ := out.ReadRecord()
		fmt.Printf("%s: %s at %d\n", r.Key, r.Value, r.Timestamp.UnixMilli())
	}
	// Output:
	// a: L1+R1 at 105
	// b: L2+- at 110
	// c: -+R2 at 112
}

// A global table is a full copy of a topic in every instance: a stream
// joins it on any key computed from the record, with no repartitioning.
// Join drops the records whose key the global table does not have.
func ExampleJoinGlobal() {
	t := topology.New()
	orders := topology.StreamOf(t, serde.String, serde.String, "orders") // order → product
	products := topology.GlobalTableOf(t, "products", "products-store", serde.String, serde.String)
	topology.JoinGlobal(orders, products,
		func(_, product string) string { return product },
		func(_, product, title string) string { return title }).
		To("order-titles", serde.String, serde.String)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{DefaultPartitions: 3})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	prods := testkit.InputTopic(d, "products", serde.String, serde.String)
	ords := testkit.InputTopic(d, "orders", serde.String, serde.String)
	_ = prods.Pipe("p1", "The Trial")
	_ = ords.Pipe("o1", "p1")
	_ = ords.Pipe("o2", "p9") // no such product: dropped
	kvs, _ := testkit.OutputTopic(d, "order-titles", serde.String, serde.String).ReadKeyValues()
	fmt.Println(kvs)
	// Output:
	// [{o1 The Trial}]
}

// LeftJoinGlobal keeps the records whose key the global table does not
// have, with found false.
func ExampleLeftJoinGlobal() {
	t := topology.New()
	orders := topology.StreamOf(t, serde.String, serde.String, "orders") // order → product
	products := topology.GlobalTableOf(t, "products", "products-store", serde.String, serde.String)
	topology.LeftJoinGlobal(orders, products,
		func(_, product string) string { return product },
		func(_, product, title string, found bool) string {
			if !found {
				return "unknown product " + product
			}
			return title
		}).To("order-titles", serde.String, serde.String)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	prods := testkit.InputTopic(d, "products", serde.String, serde.String)
	ords := testkit.InputTopic(d, "orders", serde.String, serde.String)
	_ = prods.Pipe("p1", "The Trial")
	_ = ords.Pipe("o1", "p1")
	_ = ords.Pipe("o2", "p9")
	kvs, _ := testkit.OutputTopic(d, "order-titles", serde.String, serde.String).ReadKeyValues()
	fmt.Println(kvs)
	// Output:
	// [{o1 The Trial} {o2 unknown product p9}]
}

// A left foreign-key join keeps every row of the left table: an order
// whose customer is not there joins with found false instead of being
// deleted.
func ExampleFKLeftJoin() {
	t := topology.New()
	orders := topology.TableOf(t, "orders", "orders", serde.String, serde.String)          // id → "customer:item"
	customers := topology.TableOf(t, "customers", "customers", serde.String, serde.String) // id → name
	customerOf := func(_, order string) (string, bool) {
		c, _, ok := strings.Cut(order, ":")
		return c, ok
	}
	topology.FKLeftJoin(orders, customers, "order-customer", customerOf,
		func(_, order, name string, found bool) string {
			if !found {
				return order + " for ?"
			}
			return order + " for " + name
		},
		topology.FKSerdes[string, string, string, string, string]{Value: serde.String, ForeignValue: serde.String}).
		ToStream().To("orders-with-customer", serde.String, serde.String)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{DefaultPartitions: 2})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	ords := testkit.InputTopic(d, "orders", serde.String, serde.String)
	custs := testkit.InputTopic(d, "customers", serde.String, serde.String)
	_ = ords.Pipe("o1", "c1:book") // c1 not there yet
	_ = custs.Pipe("c1", "Ann")
	_ = custs.PipeTombstone("c1", time.UnixMilli(0))
	out := testkit.OutputTopic(d, "orders-with-customer", serde.String, serde.String)
	for !out.IsEmpty() {
		r, _ := out.ReadRecord()
		if r.IsTombstone() {
			fmt.Printf("%s deleted\n", r.Key)
			continue
		}
		fmt.Printf("%s: %s\n", r.Key, r.Value)
	}
	// Output:
	// o1: c1:book for ?
	// o1: c1:book for Ann
	// o1: c1:book for ?
}

// Windows.

// WindowedAggregate folds each key's records into one aggregate per time
// window: here the highest temperature of each room and minute. Every
// record emits its window's aggregate, changed or not.
func ExampleWindowedAggregate() {
	t := topology.New()
	temps := topology.StreamOf(t, serde.String, serde.Int64, "temperatures")
	windows := topology.TumblingWindows(time.Minute)
	topology.WindowedAggregate(temps, windows, "max-per-minute", func() int64 { return -273 },
		func(_ string, c, max int64) int64 {
			if c > max {
				return c
			}
			return max
		}, serde.String, serde.Int64).
		To("max-temperatures", topology.TimeWindowedSerde(serde.String, windows.Size()), serde.Int64)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{CacheMaxBytes: -1})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "temperatures", serde.String, serde.Int64)
	at := func(sec int) time.Time { return time.UnixMilli(int64(sec) * 1000) }
	_ = in.PipeAt("attic", 30, at(10))
	_ = in.PipeAt("attic", 34, at(20))
	_ = in.PipeAt("attic", 31, at(50))
	_ = in.PipeAt("attic", 29, at(70))
	out := testkit.OutputTopic(d, "max-temperatures", topology.TimeWindowedSerde(serde.String, windows.Size()), serde.Int64)
	for !out.IsEmpty() {
		r, _ := out.ReadRecord()
		fmt.Printf("%s [%s, %s) max %d\n", r.Key.Key, r.Key.Start.UTC().Format("4:05"), r.Key.End.UTC().Format("4:05"), r.Value)
	}
	// Output:
	// attic [0:00, 1:00) max 30
	// attic [0:00, 1:00) max 34
	// attic [0:00, 1:00) max 34
	// attic [1:00, 2:00) max 29
}

// WindowedReduce is WindowedAggregate with the value type as the
// aggregate: here the sum of each account's amounts per hour.
func ExampleWindowedReduce() {
	t := topology.New()
	amounts := topology.StreamOf(t, serde.String, serde.Int64, "amounts")
	windows := topology.TumblingWindows(time.Hour)
	topology.WindowedReduce(amounts, windows, "hourly-sum", func(sum, n int64) int64 { return sum + n }, serde.String, serde.Int64).
		To("hourly-sums", topology.TimeWindowedSerde(serde.String, windows.Size()), serde.Int64)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{CacheMaxBytes: -1})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "amounts", serde.String, serde.Int64)
	at := func(h, m int) time.Time { return time.Date(2024, 1, 1, h, m, 0, 0, time.UTC) }
	_ = in.PipeAt("acct", 10, at(9, 5))
	_ = in.PipeAt("acct", 25, at(9, 40))
	_ = in.PipeAt("acct", 7, at(10, 1))
	out := testkit.OutputTopic(d, "hourly-sums", topology.TimeWindowedSerde(serde.String, windows.Size()), serde.Int64)
	for !out.IsEmpty() {
		r, _ := out.ReadRecord()
		fmt.Printf("%s %s-%s: %d\n", r.Key.Key, r.Key.Start.UTC().Format("15:04"), r.Key.End.UTC().Format("15:04"), r.Value)
	}
	// Output:
	// acct 09:00-10:00: 10
	// acct 09:00-10:00: 35
	// acct 10:00-11:00: 7
}

// Hopping windows overlap: windows of one minute every 30 seconds put each
// record in two windows.
func ExampleHoppingWindows() {
	t := topology.New()
	views := topology.StreamOf(t, serde.String, serde.String, "page-views")
	windows := topology.HoppingWindows(time.Minute, 30*time.Second)
	topology.WindowedCount(views, windows, "views", serde.String).
		To("views-per-minute", topology.TimeWindowedSerde(serde.String, windows.Size()), serde.Int64)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{CacheMaxBytes: -1})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "page-views", serde.String, serde.String)
	at := func(sec int) time.Time { return time.UnixMilli(int64(sec) * 1000) }
	_ = in.PipeAt("ann", "/home", at(40))
	_ = in.PipeAt("ann", "/cart", at(70))
	out := testkit.OutputTopic(d, "views-per-minute", topology.TimeWindowedSerde(serde.String, windows.Size()), serde.Int64)
	for !out.IsEmpty() {
		r, _ := out.ReadRecord()
		fmt.Printf("%s [%s, %s) = %d\n", r.Key.Key, r.Key.Start.UTC().Format("4:05"), r.Key.End.UTC().Format("4:05"), r.Value)
	}
	// Output:
	// ann [0:00, 1:00) = 1
	// ann [0:30, 1:30) = 1
	// ann [0:30, 1:30) = 2
	// ann [1:00, 2:00) = 1
}

// WithMaxOutOfOrder lets the watermark trail the newest record: with 20
// seconds, a record up to 20 seconds older than the newest is on time even
// with no grace, so the view at 0:50 after one at 1:05 still counts in
// [0:00, 1:00); the one at 0:30 after one at 1:25 is late.
func ExampleWindows_WithMaxOutOfOrder() {
	t := topology.New()
	views := topology.StreamOf(t, serde.String, serde.String, "page-views")
	windows := topology.TumblingWindows(time.Minute).WithMaxOutOfOrder(20 * time.Second)
	topology.WindowedCount(views, windows, "views", serde.String).
		To("views-per-minute", topology.TimeWindowedSerde(serde.String, windows.Size()), serde.Int64)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{CacheMaxBytes: -1})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "page-views", serde.String, serde.String)
	at := func(sec int) time.Time { return time.UnixMilli(int64(sec) * 1000) }
	_ = in.PipeAt("ann", "/a", at(10))
	_ = in.PipeAt("ann", "/b", at(65))
	_ = in.PipeAt("ann", "/c", at(50))
	_ = in.PipeAt("ann", "/d", at(85))
	_ = in.PipeAt("ann", "/e", at(30))
	out := testkit.OutputTopic(d, "views-per-minute", topology.TimeWindowedSerde(serde.String, windows.Size()), serde.Int64)
	for !out.IsEmpty() {
		r, _ := out.ReadRecord()
		fmt.Printf("%s [%s, %s) = %d\n", r.Key.Key, r.Key.Start.UTC().Format("4:05"), r.Key.End.UTC().Format("4:05"), r.Value)
	}
	fmt.Println("dropped as late:", d.Dropped())
	// Output:
	// ann [0:00, 1:00) = 1
	// ann [1:00, 2:00) = 1
	// ann [0:00, 1:00) = 2
	// ann [1:00, 2:00) = 2
	// dropped as late: 1
}

// LateRecordsTo writes the records a windowed aggregation drops as late to
// a topic, with headers saying why and which window had closed.
func ExampleWindows_LateRecordsTo() {
	t := topology.New()
	views := topology.StreamOf(t, serde.String, serde.String, "page-views")
	windows := topology.TumblingWindows(time.Minute).WithGrace(10 * time.Second).LateRecordsTo("late-views")
	topology.WindowedCount(views, windows, "views", serde.String).
		To("views-per-minute", topology.TimeWindowedSerde(serde.String, windows.Size()), serde.Int64)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "page-views", serde.String, serde.String)
	at := func(sec int) time.Time { return time.UnixMilli(int64(sec) * 1000) }
	_ = in.PipeAt("ann", "/home", at(10))
	_ = in.PipeAt("ann", "/cart", at(75))
	_ = in.PipeAt("ann", "/late", at(40)) // [0:00, 1:00) closed at 1:10
	late := testkit.OutputTopic(d, "late-views", serde.String, serde.String)
	for !late.IsEmpty() {
		r, _ := late.ReadRecord()
		fmt.Printf("late: %s %s at %d\n", r.Key, r.Value, r.Timestamp.UnixMilli())
		for _, h := range r.Headers {
			if h.Key == topology.HeaderLateReason || h.Key == topology.HeaderLateWindowStart || h.Key == topology.HeaderLateWindowEnd {
				fmt.Printf("  %s: %s\n", h.Key, h.Value)
			}
		}
	}
	// Output:
	// late: ann /late at 40000
	//   samsa.late.reason: window closed
	//   samsa.late.window.start: 0
	//   samsa.late.window.end: 60000
}

// Processing-time windows count records by the wall clock when they are
// processed, not by their event time; with EmitFinal a window's result is
// emitted when the wall clock passes its end, even without new records.
func ExampleWindows_ProcessingTime() {
	t := topology.New()
	views := topology.StreamOf(t, serde.String, serde.String, "page-views")
	windows := topology.TumblingWindows(time.Minute).WithGrace(0).ProcessingTime().EmitFinal()
	topology.WindowedCount(views, windows, "views", serde.String).
		To("views-per-minute", topology.TimeWindowedSerde(serde.String, windows.Size()), serde.Int64)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{StartTime: time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC)})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "page-views", serde.String, serde.String)
	_ = in.PipeAt("ann", "/home", time.UnixMilli(0)) // event time ignored
	_ = d.AdvanceWallClockTime(20 * time.Second)
	_ = in.PipeAt("ann", "/cart", time.UnixMilli(0))
	_ = d.AdvanceWallClockTime(50 * time.Second) // 10:01:10: [10:00, 10:01) closes
	out := testkit.OutputTopic(d, "views-per-minute", topology.TimeWindowedSerde(serde.String, windows.Size()), serde.Int64)
	for !out.IsEmpty() {
		r, _ := out.ReadRecord()
		fmt.Printf("%s [%s, %s) = %d\n", r.Key.Key, r.Key.Start.UTC().Format("15:04"), r.Key.End.UTC().Format("15:04"), r.Value)
	}
	// Output:
	// ann [10:00, 10:01) = 2
}

// SlidingAggregate folds each key's records into sliding windows (see
// SlidingCount): here the total of a card's payments in any 10 minutes, to
// spot bursts.
func ExampleSlidingAggregate() {
	t := topology.New()
	payments := topology.StreamOf(t, serde.String, serde.Int64, "payments")
	windows := topology.SlidingWindows(10 * time.Minute)
	topology.SlidingAggregate(payments, windows, "spent-in-10-minutes", func() int64 { return 0 },
		func(_ string, amount, total int64) int64 { return total + amount }, serde.String, serde.Int64).
		Filter(func(_ topology.Windowed[string], total int64) bool { return total > 100 }).
		To("card-alerts", topology.TimeWindowedSerde(serde.String, windows.TimeDifference()), serde.Int64)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{CacheMaxBytes: -1})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "payments", serde.String, serde.Int64)
	at := func(m int) time.Time { return time.Date(2024, 1, 1, 10, m, 0, 0, time.UTC) }
	_ = in.PipeAt("card1", 60, at(0))
	_ = in.PipeAt("card1", 30, at(15))
	_ = in.PipeAt("card1", 80, at(20)) // 110 within 10:10-10:20
	out := testkit.OutputTopic(d, "card-alerts", topology.TimeWindowedSerde(serde.String, windows.TimeDifference()), serde.Int64)
	for !out.IsEmpty() {
		r, _ := out.ReadRecord()
		fmt.Printf("%s [%s, %s] spent %d\n", r.Key.Key, r.Key.Start.UTC().Format("15:04:05.000"), r.Key.End.UTC().Format("15:04:05.000"), r.Value)
	}
	// Output:
	// card1 [10:10:00.000, 10:20:00.000] spent 110
}

// SlidingReduce is SlidingAggregate with the value type as the aggregate:
// here the highest reading in any 5 seconds.
func ExampleSlidingReduce() {
	t := topology.New()
	readings := topology.StreamOf(t, serde.String, serde.Int64, "readings")
	windows := topology.SlidingWindows(5 * time.Second)
	topology.SlidingReduce(readings, windows, "max-in-5s", func(max, v int64) int64 {
		if v > max {
			return v
		}
		return max
	}, serde.String, serde.Int64).
		To("max-readings", topology.TimeWindowedSerde(serde.String, windows.TimeDifference()), serde.Int64)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{CacheMaxBytes: -1})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "readings", serde.String, serde.Int64)
	at := func(s int) time.Time { return time.Date(2024, 1, 1, 10, 0, s, 0, time.UTC) }
	_ = in.PipeAt("s1", 7, at(1))
	_ = in.PipeAt("s1", 3, at(4))
	out := testkit.OutputTopic(d, "max-readings", topology.TimeWindowedSerde(serde.String, windows.TimeDifference()), serde.Int64)
	for !out.IsEmpty() {
		r, _ := out.ReadRecord()
		fmt.Printf("%s [%s, %s] max %d\n", r.Key.Key, r.Key.Start.UTC().Format("15:04:05.000"), r.Key.End.UTC().Format("15:04:05.000"), r.Value)
	}
	// Output:
	// s1 [09:59:56.000, 10:00:01.000] max 7
	// s1 [10:00:01.001, 10:00:06.001] max 3
	// s1 [09:59:59.000, 10:00:04.000] max 7
}

// Sessions.

// SessionCount counts each key's records in sessions of activity: a
// session ends after a gap of 5 minutes without a record. A record that
// falls between two sessions merges them: the merged-away sessions are
// emitted as tombstones before the merged one. The grace keeps a session
// open to merges for 10 minutes after its gap has passed.
func ExampleSessionCount() {
	t := topology.New()
	clicks := topology.StreamOf(t, serde.String, serde.String, "clicks")
	sessions := topology.SessionWindows(5 * time.Minute).WithGrace(10 * time.Minute)
	topology.SessionCount(clicks, sessions, "clicks-per-session", serde.String).
		To("session-clicks", topology.SessionWindowedSerde(serde.String), serde.Int64)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "clicks", serde.String, serde.String)
	at := func(m int) time.Time { return time.Date(2024, 1, 1, 10, m, 0, 0, time.UTC) }
	_ = in.PipeAt("ann", "/home", at(0))
	_ = in.PipeAt("ann", "/cart", at(8)) // 8 min later: a new session
	_ = in.PipeAt("ann", "/help", at(4)) // within 5 min of both: merges them
	out := testkit.OutputTopic(d, "session-clicks", topology.SessionWindowedSerde(serde.String), serde.Int64)
	for !out.IsEmpty() {
		r, _ := out.ReadRecord()
		if r.IsTombstone() {
			fmt.Printf("%s [%s, %s] deleted\n", r.Key.Key, r.Key.Start.UTC().Format("15:04"), r.Key.End.UTC().Format("15:04"))
			continue
		}
		fmt.Printf("%s [%s, %s] = %d\n", r.Key.Key, r.Key.Start.UTC().Format("15:04"), r.Key.End.UTC().Format("15:04"), r.Value)
	}
	// Output:
	// ann [10:00, 10:00] = 1
	// ann [10:08, 10:08] = 1
	// ann [10:00, 10:00] deleted
	// ann [10:08, 10:08] deleted
	// ann [10:00, 10:08] = 3
}

// SessionAggregate folds each key's records into sessions, with a merger
// for sessions that a record joins: here the pages of each visit. A
// session extended by a record is a new session: the old one is emitted
// as a tombstone before it.
func ExampleSessionAggregate() {
	t := topology.New()
	clicks := topology.StreamOf(t, serde.String, serde.String, "clicks")
	sessions := topology.SessionWindows(5 * time.Minute)
	topology.SessionAggregate(clicks, sessions, "visits", func() string { return "" },
		func(_, page, pages string) string { return pages + page },
		func(_, a, b string) string { return a + b },
		serde.String, serde.String).
		To("visit-pages", topology.SessionWindowedSerde(serde.String), serde.String)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "clicks", serde.String, serde.String)
	at := func(m int) time.Time { return time.Date(2024, 1, 1, 10, m, 0, 0, time.UTC) }
	_ = in.PipeAt("ann", "/home", at(0))
	_ = in.PipeAt("ann", "/cart", at(2))
	_ = in.PipeAt("ann", "/home", at(30))
	out := testkit.OutputTopic(d, "visit-pages", topology.SessionWindowedSerde(serde.String), serde.String)
	for !out.IsEmpty() {
		r, _ := out.ReadRecord()
		if r.IsTombstone() {
			fmt.Printf("%s [%s, %s] deleted\n", r.Key.Key, r.Key.Start.UTC().Format("15:04"), r.Key.End.UTC().Format("15:04"))
			continue
		}
		fmt.Printf("%s [%s, %s] %s\n", r.Key.Key, r.Key.Start.UTC().Format("15:04"), r.Key.End.UTC().Format("15:04"), r.Value)
	}
	// Output:
	// ann [10:00, 10:00] /home
	// ann [10:00, 10:00] deleted
	// ann [10:00, 10:02] /home/cart
	// ann [10:30, 10:30] /home
}

// With EmitFinal, a session's result is emitted once, when it can no
// longer change (its end + gap + grace is behind the stream time); the
// sessions merged before that emit nothing. Here ann's sessions of 10:00
// and 10:08 are merged by her click at 10:04, and the merged session is
// emitted when bob's click at 10:20 passes its end + 5 + 5 minutes.
func ExampleSessions_EmitFinal() {
	t := topology.New()
	clicks := topology.StreamOf(t, serde.String, serde.String, "clicks")
	sessions := topology.SessionWindows(5 * time.Minute).WithGrace(5 * time.Minute).EmitFinal()
	topology.SessionCount(clicks, sessions, "clicks-per-session", serde.String).
		To("session-clicks", topology.SessionWindowedSerde(serde.String), serde.Int64)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "clicks", serde.String, serde.String)
	out := testkit.OutputTopic(d, "session-clicks", topology.SessionWindowedSerde(serde.String), serde.Int64)
	at := func(m int) time.Time { return time.Date(2024, 1, 1, 10, m, 0, 0, time.UTC) }
	click := func(user string, m int) {
		_ = in.PipeAt(user, "/page", at(m))
		for !out.IsEmpty() {
			r, _ := out.ReadRecord()
			fmt.Printf("at 10:%02d: %s [%s, %s] = %d\n", m, r.Key.Key, r.Key.Start.UTC().Format("15:04"), r.Key.End.UTC().Format("15:04"), r.Value)
		}
	}
	click("ann", 0)
	click("ann", 8)
	click("ann", 4) // merges the two: nothing emitted
	click("bob", 14)
	click("bob", 20) // ann's session [10:00, 10:08] closes at 10:18
	// Output:
	// at 10:20: ann [10:00, 10:08] = 3
}

// Cogrouped windows: sliding and session aggregations of several streams.

// A sliding cogroup: a user's logins and failed logins in any 10 minutes.
func ExampleCogrouped_SlidingAggregate() {
	type attempts struct{ OK, Failed int64 }
	t := topology.New()
	ok := topology.StreamOf(t, serde.String, serde.String, "logins")
	failed := topology.StreamOf(t, serde.String, serde.String, "failed-logins")
	c := topology.Cogroup(ok, func(_, _ string, a attempts) attempts { a.OK++; return a })
	c = topology.CogroupWith(c, failed, func(_, _ string, a attempts) attempts { a.Failed++; return a })
	windows := topology.SlidingWindows(10 * time.Minute)
	c.SlidingAggregate(windows, "attempts", func() attempts { return attempts{} }, serde.String, serde.JSON[attempts]()).
		To("attempts-in-10-minutes", topology.TimeWindowedSerde(serde.String, windows.TimeDifference()), serde.JSON[attempts]())

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	lo := testkit.InputTopic(d, "logins", serde.String, serde.String)
	fa := testkit.InputTopic(d, "failed-logins", serde.String, serde.String)
	at := func(m int) time.Time { return time.Date(2024, 1, 1, 10, m, 0, 0, time.UTC) }
	_ = fa.PipeAt("ann", "bad password", at(0))
	_ = lo.PipeAt("ann", "ok", at(3))
	out := testkit.OutputTopic(d, "attempts-in-10-minutes", topology.TimeWindowedSerde(serde.String, windows.TimeDifference()), serde.JSON[attempts]())
	for !out.IsEmpty() {
		r, _ := out.ReadRecord()
		fmt.Printf("%s [%s, %s] ok %d failed %d\n", r.Key.Key, r.Key.Start.UTC().Format("15:04:05.000"), r.Key.End.UTC().Format("15:04:05.000"), r.Value.OK, r.Value.Failed)
	}
	// Output:
	// ann [09:50:00.000, 10:00:00.000] ok 0 failed 1
	// ann [10:00:00.001, 10:10:00.001] ok 1 failed 0
	// ann [09:53:00.000, 10:03:00.000] ok 1 failed 1
}

// A session cogroup: a visit's page views and purchases, with final
// results: one record per visit, when it closes.
func ExampleCogrouped_SessionAggregate() {
	type visit struct{ Views, Spent int64 }
	t := topology.New()
	views := topology.StreamOf(t, serde.String, serde.String, "page-views")
	buys := topology.StreamOf(t, serde.String, serde.Int64, "purchases")
	c := topology.Cogroup(views, func(_, _ string, v visit) visit { v.Views++; return v })
	c = topology.CogroupWith(c, buys, func(_ string, amount int64, v visit) visit { v.Spent += amount; return v })
	sessions := topology.SessionWindows(5 * time.Minute).WithGrace(0).EmitFinal()
	c.SessionAggregate(sessions, "visits", func() visit { return visit{} },
		func(_ string, a, b visit) visit { return visit{a.Views + b.Views, a.Spent + b.Spent} },
		serde.String, serde.JSON[visit]()).
		To("visits", topology.SessionWindowedSerde(serde.String), serde.JSON[visit]())

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	pv := testkit.InputTopic(d, "page-views", serde.String, serde.String)
	pu := testkit.InputTopic(d, "purchases", serde.String, serde.Int64)
	at := func(m int) time.Time { return time.Date(2024, 1, 1, 10, m, 0, 0, time.UTC) }
	_ = pv.PipeAt("ann", "/home", at(0))
	_ = pv.PipeAt("ann", "/shoes", at(3))
	_ = pu.PipeAt("ann", 80, at(6))
	_ = pv.PipeAt("bob", "/home", at(20)) // closes ann's visit
	out := testkit.OutputTopic(d, "visits", topology.SessionWindowedSerde(serde.String), serde.JSON[visit]())
	for !out.IsEmpty() {
		r, _ := out.ReadRecord()
		fmt.Printf("%s [%s, %s]: %d views, spent %d\n", r.Key.Key, r.Key.Start.UTC().Format("15:04"), r.Key.End.UTC().Format("15:04"), r.Value.Views, r.Value.Spent)
	}
	// Output:
	// ann [10:00, 10:06]: 2 views, spent 80
}

// Operators that can fail, headers, processors.

// MapValuesErr: a mapping that can fail. The error goes to the
// processing-error policy: here DeadLetter, which writes the input record
// to a dead-letter topic with headers saying why, and processing goes on.
func ExampleMapValuesErr() {
	t := topology.New()
	raw := topology.StreamOf(t, serde.String, serde.String, "raw-amounts")
	topology.MapValuesErr(raw, func(_, s string) (int64, error) {
		var n int64
		_, err := fmt.Sscan(s, &n)
		return n, err
	}).To("amounts", serde.String, serde.Int64)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{
		Errors:          samsa.ErrorPolicies{Processing: samsa.DeadLetter},
		DeadLetterTopic: "bad-amounts",
	})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "raw-amounts", serde.String, serde.String)
	_ = in.Pipe("a", "12")
	_ = in.Pipe("b", "twelve")
	_ = in.Pipe("c", "7")
	kvs, _ := testkit.OutputTopic(d, "amounts", serde.String, serde.Int64).ReadKeyValues()
	fmt.Println(kvs)
	bad, _ := testkit.OutputTopic(d, "bad-amounts", serde.String, serde.String).ReadRecord()
	msg, _ := bad.Header(samsa.HeaderErrorMessage)
	fmt.Printf("dead letter: %s=%s: %s\n", bad.Key, bad.Value, msg)
	// Output:
	// [{a 12} {c 7}]
	// dead letter: b=twelve: task 0_0: processing failed: node "KSTREAM-MAPVALUES-0000000001" on record at topic "raw-amounts" partition 0 offset 1: expected integer
}

// MapErr is Map with a function that can fail; here the Skip policy drops
// the failing record and counts it.
func ExampleMapErr() {
	t := topology.New()
	lines := topology.StreamOf(t, serde.String, serde.String, "lines") // "key=value"
	topology.MapErr(lines, func(_, line string) (string, string, error) {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return "", "", fmt.Errorf("no '=' in %q", line)
		}
		return k, v, nil
	}).To("settings", serde.String, serde.String)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{Errors: samsa.ErrorPolicies{Processing: samsa.Skip}})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "lines", serde.String, serde.String)
	_ = in.Pipe("", "color=blue")
	_ = in.Pipe("", "garbage")
	_ = in.Pipe("", "size=10")
	kvs, _ := testkit.OutputTopic(d, "settings", serde.String, serde.String).ReadKeyValues()
	fmt.Println(kvs, "skipped:", d.Skipped())
	// Output:
	// [{color blue} {size 10}] skipped: 1
}

// FilterErr is Filter with a predicate that can fail.
func ExampleStream_FilterErr() {
	t := topology.New()
	topology.StreamOf(t, serde.String, serde.String, "ages").
		FilterErr(func(_, s string) (bool, error) {
			var age int
			if _, err := fmt.Sscan(s, &age); err != nil {
				return false, err
			}
			return age >= 18, nil
		}).To("adults", serde.String, serde.String)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{Errors: samsa.ErrorPolicies{Processing: samsa.Skip}})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "ages", serde.String, serde.String)
	_ = in.Pipe("ann", "34")
	_ = in.Pipe("bob", "?")
	_ = in.Pipe("cid", "12")
	kvs, _ := testkit.OutputTopic(d, "adults", serde.String, serde.String).ReadKeyValues()
	fmt.Println(kvs, "skipped:", d.Skipped())
	// Output:
	// [{ann 34}] skipped: 1
}

// MapValuesWithHeaders reads and changes the headers with the value: here
// it reads a trace id and adds a header.
func ExampleMapValuesWithHeaders() {
	t := topology.New()
	in := topology.StreamOf(t, serde.String, serde.String, "requests")
	topology.MapValuesWithHeaders(in, func(_, v string, hs []processor.Header) (string, []processor.Header) {
		trace := ""
		for _, h := range hs {
			if h.Key == "trace" {
				trace = string(h.Value)
			}
		}
		return v + " (trace " + trace + ")", append(hs, processor.Header{Key: "seen-by", Value: []byte("samsa")})
	}).To("traced", serde.String, serde.String)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	rec := processor.NewRecord("r1", "GET /", time.UnixMilli(0))
	rec.Headers = []processor.Header{{Key: "trace", Value: []byte("abc")}}
	_ = testkit.InputTopic(d, "requests", serde.String, serde.String).PipeRecord(rec, 0)
	r, _ := testkit.OutputTopic(d, "traced", serde.String, serde.String).ReadRecord()
	fmt.Println(r.Value)
	for _, h := range r.Headers {
		fmt.Printf("%s=%s\n", h.Key, h.Value)
	}
	// Output:
	// GET / (trace abc)
	// trace=abc
	// seen-by=samsa
}

// Process runs a processor of the processor API in a DSL stream: here one
// that forwards a record only when its value differs from the key's last.
func ExampleProcess() {
	t := topology.New()
	readings := topology.StreamOf(t, serde.String, serde.String, "readings")
	changes := topology.Process(readings, processor.Func[string, string, string, string](
		func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
			last, err := processor.GetKeyValueStore[string, string](ctx, "last")
			if err != nil {
				return err
			}
			prev, found, err := last.Get(r.Key)
			if err != nil || (found && prev == r.Value) {
				return err
			}
			if err := last.Put(r.Key, r.Value); err != nil {
				return err
			}
			ctx.Forward(r)
			return nil
		}).Supplier())
	topology.AddKeyValueStore(t, topology.KeyValueStore[string, string]{Name: "last", Key: serde.String, Value: serde.String}, changes.Node())
	changes.To("changes", serde.String, serde.String)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "readings", serde.String, serde.String)
	for _, v := range []string{"on", "on", "off", "off", "on"} {
		_ = in.Pipe("lamp", v)
	}
	values, _ := testkit.OutputTopic(d, "changes", serde.String, serde.String).ReadValues()
	fmt.Println(values)
	// Output:
	// [on off on]
}

// Branch sends each record to the first branch whose predicate accepts
// it; a record no predicate accepts is dropped.
func ExampleStream_Branch() {
	t := topology.New()
	branches := topology.StreamOf(t, serde.String, serde.Int64, "numbers").Branch(
		func(_ string, n int64) bool { return n < 0 },
		func(_ string, n int64) bool { return n%2 == 0 },
	)
	branches[0].To("negative", serde.String, serde.Int64)
	branches[1].To("even", serde.String, serde.Int64)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "numbers", serde.String, serde.Int64)
	for _, n := range []int64{-2, 4, 7, -3} {
		_ = in.Pipe("n", n)
	}
	for _, topic := range []string{"negative", "even"} {
		values, _ := testkit.OutputTopic(d, topic, serde.String, serde.Int64).ReadValues()
		fmt.Println(topic, values)
	}
	// Output:
	// negative [-2 -3]
	// even [4]
}

// ToSink writes with a fully configured sink: here a partitioner that puts
// every VIP order in partition 0.
func ExampleStream_ToSink() {
	t := topology.New()
	topology.StreamOf(t, serde.String, serde.String, "orders").
		ToSink(topology.Sink[string, string]{
			Topic: "orders-by-tier",
			Key:   serde.String,
			Value: serde.String,
			Partitioner: func(_ string, key, tier string, _ []byte, n int32) int32 {
				if tier == "vip" {
					return 0
				}
				return 1 + int32(len(key))%(n-1)
			},
		})

	d, err := testkit.NewDriver(t, testkit.DriverConfig{Partitions: map[string]int32{"orders-by-tier": 3}})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "orders", serde.String, serde.String)
	_ = in.Pipe("o1", "vip")
	_ = in.Pipe("o22", "basic")
	out := testkit.OutputTopic(d, "orders-by-tier", serde.String, serde.String)
	for !out.IsEmpty() {
		r, _ := out.ReadRecord()
		fmt.Printf("%s (%s) in partition %d\n", r.Key, r.Value, r.Partition())
	}
	// Output:
	// o1 (vip) in partition 0
	// o22 (basic) in partition 2
}

// Deduplicate drops a record whose id was seen within the retention: here
// payments delivered twice by an at-least-once producer.
func ExampleDeduplicate() {
	t := topology.New()
	payments := topology.StreamOf(t, serde.String, serde.String, "payments") // account → "paymentID:amount"
	topology.Deduplicate(payments, "payment-ids", func(r processor.Record[string, string]) string {
		id, _, _ := strings.Cut(r.Value, ":")
		return id
	}, time.Hour).To("payments-once", serde.String, serde.String)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "payments", serde.String, serde.String)
	_ = in.Pipe("acct", "p1:10")
	_ = in.Pipe("acct", "p2:25")
	_ = in.Pipe("acct", "p1:10") // sent again
	values, _ := testkit.OutputTopic(d, "payments-once", serde.String, serde.String).ReadValues()
	fmt.Println(values)
	// Output:
	// [p1:10 p2:25]
}

// RepartitionWithPartitions repartitions into a topic of a fixed partition
// count, whatever the input's.
func ExampleRepartitionWithPartitions() {
	t := topology.New()
	in := topology.StreamOf(t, serde.String, serde.String, "events")
	topology.RepartitionWithPartitions(in, "spread", 4, serde.String, serde.String).
		To("events-spread", serde.String, serde.String)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	fmt.Println(d.PartitionCount("events"), d.PartitionCount(topology.RepartitionTopic("driver", "spread")))
	// Output:
	// 1 4
}

// Mermaid renders the description as a Mermaid flowchart, for docs.
func ExampleDescription_Mermaid() {
	t := topology.New()
	clicks := topology.StreamOf(t, serde.String, serde.String, "clicks")
	topology.Count(clicks, "clicks-per-user", serde.String).To("click-counts", serde.String, serde.Int64)

	desc, err := t.Describe()
	if err != nil {
		panic(err)
	}
	fmt.Print(desc.Mermaid())
	// Output:
	// flowchart TD
	//   subgraph sub0["Sub-topology 0"]
	//     n_KSTREAM_SOURCE_0000000000["KSTREAM-SOURCE-0000000000"]
	//     n_KSTREAM_AGGREGATE_0000000001["KSTREAM-AGGREGATE-0000000001"]
	//     n_KSTREAM_SINK_0000000002["KSTREAM-SINK-0000000002"]
	//   end
	//   t_clicks(["clicks"])
	//   t_clicks --> n_KSTREAM_SOURCE_0000000000
	//   n_KSTREAM_SOURCE_0000000000 --> n_KSTREAM_AGGREGATE_0000000001
	//   n_KSTREAM_AGGREGATE_0000000001 --> n_KSTREAM_SINK_0000000002
	//   s_clicks_per_user[("clicks-per-user")]
	//   n_KSTREAM_AGGREGATE_0000000001 --- s_clicks_per_user
	//   t_click_counts(["click-counts"])
	//   n_KSTREAM_SINK_0000000002 --> t_click_counts
}

// Sliding windows with final results: each window's result is emitted
// once, when it closes (end + grace <= stream time). bob's login at
// 10:01:40 closes all of ann's windows; his own window ends at the stream
// time and closes at once.
func ExampleSliding_EmitFinal() {
	t := topology.New()
	logins := topology.StreamOf(t, serde.String, serde.String, "logins")
	windows := topology.SlidingWindows(time.Minute).WithGrace(0).EmitFinal()
	topology.SlidingCount(logins, windows, "logins-per-minute", serde.String).
		To("logins-per-minute", topology.TimeWindowedSerde(serde.String, windows.TimeDifference()), serde.Int64)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "logins", serde.String, serde.String)
	at := func(s int) time.Time {
		return time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC).Add(time.Duration(s) * time.Second)
	}
	_ = in.PipeAt("ann", "ok", at(0))
	_ = in.PipeAt("ann", "ok", at(30))
	_ = in.PipeAt("bob", "ok", at(100))
	out := testkit.OutputTopic(d, "logins-per-minute", topology.TimeWindowedSerde(serde.String, windows.TimeDifference()), serde.Int64)
	for !out.IsEmpty() {
		r, _ := out.ReadRecord()
		fmt.Printf("%s [%s, %s] = %d\n", r.Key.Key, r.Key.Start.UTC().Format("15:04:05.000"), r.Key.End.UTC().Format("15:04:05.000"), r.Value)
	}
	// Output:
	// ann [09:59:00.000, 10:00:00.000] = 1
	// ann [09:59:30.000, 10:00:30.000] = 2
	// ann [10:00:00.001, 10:01:00.001] = 1
	// bob [10:00:40.000, 10:01:40.000] = 1
}

// More.

// ProcessValues runs a processor that keeps the key: here one that numbers
// each key's records, keeping the count in a store.
func ExampleProcessValues() {
	t := topology.New()
	events := topology.StreamOf(t, serde.String, serde.String, "events")
	numbered := topology.ProcessValues(events, processor.Func[string, string, string, string](
		func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
			seq, err := processor.GetKeyValueStore[string, int64](ctx, "seq")
			if err != nil {
				return err
			}
			n, _, err := seq.Get(r.Key)
			if err != nil {
				return err
			}
			n++
			if err := seq.Put(r.Key, n); err != nil {
				return err
			}
			ctx.Forward(processor.WithValue(r, fmt.Sprintf("#%d %s", n, r.Value)))
			return nil
		}).Supplier())
	topology.AddKeyValueStore(t, topology.KeyValueStore[string, int64]{Name: "seq", Key: serde.String, Value: serde.Int64}, numbered.Node())
	numbered.To("numbered", serde.String, serde.String)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "events", serde.String, serde.String)
	_ = in.Pipe("ann", "login")
	_ = in.Pipe("bob", "login")
	_ = in.Pipe("ann", "logout")
	kvs, _ := testkit.OutputTopic(d, "numbered", serde.String, serde.String).ReadKeyValues()
	fmt.Println(kvs)
	// Output:
	// [{ann #1 login} {bob #1 login} {ann #2 logout}]
}

// Validate checks a topology before it runs and reports what is wrong:
// here a name given with Named twice.
func ExampleTopology_Validate() {
	t := topology.New()
	in := topology.StreamOf(t, serde.String, serde.String, "in")
	in.Filter(func(_, v string) bool { return v != "" }).Named("step").To("a", serde.String, serde.String)
	in.FilterNot(func(_, v string) bool { return v != "" }).Named("step").To("b", serde.String, serde.String)
	fmt.Println(t.Validate())
	// Output:
	// topology: cannot name node "KSTREAM-FILTER-0000000003" "step": duplicate node name "step"
}

// Session windows with a late-records topic: a record whose session would
// have closed (end + gap + grace behind the stream time) is written there
// instead of being silently dropped.
func ExampleSessions_LateRecordsTo() {
	t := topology.New()
	clicks := topology.StreamOf(t, serde.String, serde.String, "clicks")
	sessions := topology.SessionWindows(5 * time.Minute).WithGrace(time.Minute).LateRecordsTo("late-clicks")
	topology.SessionCount(clicks, sessions, "clicks-per-session", serde.String).
		To("session-clicks", topology.SessionWindowedSerde(serde.String), serde.Int64)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "clicks", serde.String, serde.String)
	at := func(m int) time.Time { return time.Date(2024, 1, 1, 10, m, 0, 0, time.UTC) }
	_ = in.PipeAt("ann", "/home", at(0))
	_ = in.PipeAt("ann", "/cart", at(20))
	_ = in.PipeAt("ann", "/help", at(10)) // 10:10 + 5 + 1 < 10:20: late
	kvs, _ := testkit.OutputTopic(d, "late-clicks", serde.String, serde.String).ReadKeyValues()
	fmt.Println("late:", kvs, "dropped:", d.Dropped())
	// Output:
	// late: [{ann /help}] dropped: 1
}

// A windowed key prints as its key and window.
func ExampleWindowed_String() {
	w := topology.Windowed[string]{Key: "ann", Start: time.UnixMilli(60000), End: time.UnixMilli(120000)}
	fmt.Println(w)
	// Output:
	// ann@[60000,120000)
}

// The names of the internal topics an App creates.
func ExampleChangelogTopic() {
	fmt.Println(topology.ChangelogTopic("shop", "orders-store"))
	fmt.Println(topology.RepartitionTopic("shop", "by-customer"))
	// Output:
	// shop-orders-store-changelog
	// shop-by-customer-repartition
}

// Topics lists the topics the topology reads; Subtopologies counts its
// sub-topologies: here a stream joined with a table is one (they are
// co-partitioned), an unrelated stream another.
func ExampleTopology_Topics() {
	t := topology.New()
	orders := topology.StreamOf(t, serde.String, serde.String, "orders")
	customers := topology.TableOf(t, "customers", "customers-store", serde.String, serde.String)
	topology.Join(orders, customers, func(_, order, name string) string { return order + " for " + name }).
		To("orders-enriched", serde.String, serde.String)
	topology.StreamOf(t, serde.String, serde.String, "clicks").To("clicks-copy", serde.String, serde.String)
	n, _ := t.Subtopologies()
	fmt.Println(t.Topics(), n)
	// Output:
	// [orders customers clicks] 2
}

// Session windows with a watermark delay: a record up to 10 minutes older
// than the newest is on time, so ann's click at 10:03, read after bob's at
// 10:12, still extends her session (the gap alone, with no grace, would
// have closed it at 10:05).
func ExampleSessions_WithMaxOutOfOrder() {
	t := topology.New()
	clicks := topology.StreamOf(t, serde.String, serde.String, "clicks")
	sessions := topology.SessionWindows(2 * time.Minute).WithGrace(0).WithMaxOutOfOrder(10 * time.Minute)
	topology.SessionCount(clicks, sessions, "clicks-per-session", serde.String).
		To("session-clicks", topology.SessionWindowedSerde(serde.String), serde.Int64)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "clicks", serde.String, serde.String)
	at := func(m int) time.Time { return time.Date(2024, 1, 1, 10, m, 0, 0, time.UTC) }
	_ = in.PipeAt("ann", "/home", at(2))
	_ = in.PipeAt("bob", "/home", at(12))
	_ = in.PipeAt("ann", "/cart", at(3))
	out := testkit.OutputTopic(d, "session-clicks", topology.SessionWindowedSerde(serde.String), serde.Int64)
	for !out.IsEmpty() {
		r, _ := out.ReadRecord()
		if r.IsTombstone() {
			fmt.Printf("%s [%s, %s] deleted\n", r.Key.Key, r.Key.Start.UTC().Format("15:04"), r.Key.End.UTC().Format("15:04"))
			continue
		}
		fmt.Printf("%s [%s, %s] = %d\n", r.Key.Key, r.Key.Start.UTC().Format("15:04"), r.Key.End.UTC().Format("15:04"), r.Value)
	}
	fmt.Println("dropped as late:", d.Dropped())
	// Output:
	// ann [10:02, 10:02] = 1
	// bob [10:12, 10:12] = 1
	// ann [10:02, 10:02] deleted
	// ann [10:02, 10:03] = 2
	// dropped as late: 0
}

// Sliding windows with a late-records topic: a record all of whose
// windows have closed is written there.
func ExampleSliding_LateRecordsTo() {
	t := topology.New()
	logins := topology.StreamOf(t, serde.String, serde.String, "logins")
	windows := topology.SlidingWindows(time.Minute).WithGrace(0).LateRecordsTo("late-logins")
	topology.SlidingCount(logins, windows, "logins-per-minute", serde.String).
		To("logins-per-minute", topology.TimeWindowedSerde(serde.String, windows.TimeDifference()), serde.Int64)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "logins", serde.String, serde.String)
	at := func(m int) time.Time { return time.Date(2024, 1, 1, 10, m, 0, 0, time.UTC) }
	_ = in.PipeAt("ann", "ok", at(10))
	_ = in.PipeAt("ann", "old", at(5)) // its windows ended by 10:06:00.001
	late, _ := testkit.OutputTopic(d, "late-logins", serde.String, serde.String).ReadKeyValues()
	fmt.Println("late:", late, "dropped:", d.Dropped())
	// Output:
	// late: [{ann old}] dropped: 1
}
