package topology_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// The DSL: read a topic, transform, filter, write a topic.
func Example() {
	t := topology.New()
	words := topology.StreamOf(t, serde.String, serde.String, "sentences")
	topology.MapValues(words, func(_ string, s string) string { return strings.ToUpper(s) }).
		Filter(func(_ string, s string) bool { return s != "" }).
		To("shouted", serde.String, serde.String)

	d, err := t.Describe()
	if err != nil {
		panic(err)
	}
	fmt.Print(d)
	// Output:
	// Topologies:
	//    Sub-topology: 0
	//     Source: KSTREAM-SOURCE-0000000000 (topics: [sentences])
	//       --> KSTREAM-MAPVALUES-0000000001
	//     Processor: KSTREAM-MAPVALUES-0000000001 (stores: [])
	//       --> KSTREAM-FILTER-0000000002
	//       <-- KSTREAM-SOURCE-0000000000
	//     Processor: KSTREAM-FILTER-0000000002 (stores: [])
	//       --> KSTREAM-SINK-0000000003
	//       <-- KSTREAM-MAPVALUES-0000000001
	//     Sink: KSTREAM-SINK-0000000003 (topic: shouted)
	//       <-- KSTREAM-FILTER-0000000002
}

// The low-level builder: named nodes, a processor with a store.
func ExampleAddProcessor() {
	t := topology.New()
	topology.AddSource(t, "clicks", topology.Source[string, string]{Topics: []string{"clicks"}, Key: serde.String, Value: serde.String})
	topology.AddProcessor(t, "count", processor.Func[string, string, string, string](
		func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
			counts, err := processor.GetKeyValueStore[string, string](ctx, "counts")
			if err != nil {
				return err
			}
			n, _, err := counts.Get(r.Key)
			if err != nil {
				return err
			}
			if err := counts.Put(r.Key, n+"|"); err != nil {
				return err
			}
			ctx.Forward(processor.WithValue(r, n+"|"))
			return nil
		}).Supplier(), "clicks")
	topology.AddKeyValueStore(t, topology.KeyValueStore[string, string]{Name: "counts", Key: serde.String, Value: serde.String}, "count")
	topology.AddSink(t, "out", topology.Sink[string, string]{Topic: "click-counts", Key: serde.String, Value: serde.String}, "count")

	d, err := t.Describe()
	if err != nil {
		panic(err)
	}
	fmt.Print(d)
	// Output:
	// Topologies:
	//    Sub-topology: 0
	//     Source: clicks (topics: [clicks])
	//       --> count
	//     Processor: count (stores: [counts])
	//       --> out
	//       <-- clicks
	//     Sink: out (topic: click-counts)
	//       <-- count
}

// Count the clicks of each user. A late click (time 50 after 100) is
// counted, and the count keeps the user's latest time; a tombstone (a
// null value) counts nothing, as in Kafka Streams.
func ExampleCount() {
	t := topology.New()
	clicks := topology.StreamOf(t, serde.String, serde.String, "clicks")
	topology.Count(clicks, "clicks-per-user", serde.String).
		To("click-counts", serde.String, serde.Int64)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "clicks", serde.String, serde.String)
	_ = in.PipeAt("ann", "/home", time.UnixMilli(100))
	_ = in.PipeAt("bob", "/cart", time.UnixMilli(70))
	_ = in.PipeAt("ann", "/cart", time.UnixMilli(50))
	_ = in.PipeTombstone("ann", time.UnixMilli(120))
	out := testkit.OutputTopic(d, "click-counts", serde.String, serde.Int64)
	for !out.IsEmpty() {
		r, _ := out.ReadRecord()
		fmt.Printf("%s=%d at %d\n", r.Key, r.Value, r.Timestamp.UnixMilli())
	}
	// Output:
	// ann=1 at 100
	// bob=1 at 70
	// ann=2 at 100
}

// Reduce keeps the longest word seen per first letter: the first word of a
// letter is its result, each later one competes with it.
func ExampleReduce() {
	t := topology.New()
	words := topology.StreamOf(t, serde.String, serde.String, "words")
	topology.Reduce(words, "longest-per-letter", func(longest, w string) string {
		if len(w) > len(longest) {
			return w
		}
		return longest
	}, serde.String, serde.String).To("longest", serde.String, serde.String)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "words", serde.String, serde.String)
	for _, w := range []string{"kafka", "go", "kafkaesque", "gregor", "kin"} {
		_ = in.Pipe(w[:1], w)
	}
	values, _ := testkit.OutputTopic(d, "longest", serde.String, serde.String).ReadValues()
	fmt.Println(values)
	// Output:
	// [kafka go kafkaesque gregor kafkaesque]
}

// AggregateErr: an adder that can fail. The error goes to the
// processing-error policy; here, in a test driver, it fails the pipe and
// leaves the total as it was.
func ExampleAggregateErr() {
	top := topology.New()
	amounts := topology.StreamOf(top, serde.String, serde.Int64, "amounts")
	topology.AggregateErr(amounts, "totals", func() int64 { return 0 }, func(_ string, n, total int64) (int64, error) {
		if total+n > 1000 {
			return 0, fmt.Errorf("total %d + %d over the limit", total, n)
		}
		return total + n, nil
	}, serde.String, serde.Int64).To("totals", serde.String, serde.Int64)

	d, err := testkit.NewDriver(top, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "amounts", serde.String, serde.Int64)
	fmt.Println(in.Pipe("acct", 600))
	fmt.Println(in.Pipe("acct", 600))
	totals, _ := testkit.KeyValueStoreOf[string, int64](d, "totals", 0)
	total, _, _ := totals.Get("acct")
	fmt.Println(total)
	// Output:
	// <nil>
	// task 0_0: processing failed: node "KSTREAM-AGGREGATE-0000000001" on record at topic "amounts" partition 0 offset 1: total 600 + 600 over the limit
	// 600
}

// Count page views per user in tumbling one-minute windows that accept
// records up to 30 seconds late. The view at 0:50 arrives after one at 1:10
// and still counts (its window closes at 1:30); the one at 0:40 arrives at
// stream time 1:30 and is dropped as late. The output key is Kafka Streams'
// time-windowed key: the user, then the window start.
func ExampleWindowedCount() {
	t := topology.New()
	views := topology.StreamOf(t, serde.String, serde.String, "page-views")
	windows := topology.TumblingWindows(time.Minute).WithGrace(30 * time.Second)
	topology.WindowedCount(views, windows, "views-per-minute", serde.String).
		To("views-per-minute", topology.TimeWindowedSerde(serde.String, windows.Size()), serde.Int64)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "page-views", serde.String, serde.String)
	at := func(min, sec int) time.Time {
		return time.UnixMilli(0).Add(time.Duration(min)*time.Minute + time.Duration(sec)*time.Second)
	}
	_ = in.PipeAt("ann", "/home", at(0, 10))
	_ = in.PipeAt("ann", "/cart", at(1, 10))
	_ = in.PipeAt("ann", "/help", at(0, 50))
	_ = in.PipeAt("bob", "/home", at(1, 30))
	_ = in.PipeAt("ann", "/late", at(0, 40))
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
	// bob [1:00, 2:00) = 1
	// dropped as late: 1
}

// Enrich orders with the customer's current name: a stream-table join.
// Only orders emit; a customer update changes what later orders see, and
// an order of a customer the table does not have is dropped by Join (a
// LeftJoin would keep it with found false).
func ExampleJoin() {
	t := topology.New()
	orders := topology.StreamOf(t, serde.String, serde.String, "orders")
	customers := topology.TableOf(t, "customers", "customers-store", serde.String, serde.String)
	topology.Join(orders, customers, func(id, order, name string) string {
		return order + " for " + name
	}).To("orders-enriched", serde.String, serde.String)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	ords := testkit.InputTopic(d, "orders", serde.String, serde.String)
	custs := testkit.InputTopic(d, "customers", serde.String, serde.String)
	_ = ords.PipeAt("c1", "book", time.UnixMilli(10)) // no customer c1 yet
	_ = custs.PipeAt("c1", "Ann", time.UnixMilli(20))
	_ = ords.PipeAt("c1", "pen", time.UnixMilli(30))
	_ = custs.PipeAt("c1", "Ann Lee", time.UnixMilli(40))
	_ = ords.PipeAt("c1", "ink", time.UnixMilli(50))
	_ = custs.PipeTombstone("c1", time.UnixMilli(60)) // c1 deleted
	_ = ords.PipeAt("c1", "cap", time.UnixMilli(70))
	out := testkit.OutputTopic(d, "orders-enriched", serde.String, serde.String)
	for !out.IsEmpty() {
		r, _ := out.ReadRecord()
		fmt.Printf("%s: %s at %d\n", r.Key, r.Value, r.Timestamp.UnixMilli())
	}
	// Output:
	// c1: pen for Ann at 30
	// c1: ink for Ann Lee at 50
}

// A table keeps the latest value of each key; Filter drops keys from it,
// forwarding a tombstone when a key leaves the filtered table.
func ExampleTable_Filter() {
	t := topology.New()
	prices := topology.TableOf(t, "prices", "prices-store", serde.String, serde.Int64)
	prices.Filter(func(_ string, cents int64) bool { return cents < 1000 }).
		ToStream().To("cheap", serde.String, serde.Int64)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "prices", serde.String, serde.Int64)
	_ = in.Pipe("tea", 450)
	_ = in.Pipe("tea", 1200)  // leaves the cheap table: a tombstone
	_ = in.Pipe("cake", 2500) // never cheap: nothing
	_ = in.Pipe("tea", 900)
	out := testkit.OutputTopic(d, "cheap", serde.String, serde.Int64)
	for !out.IsEmpty() {
		r, _ := out.ReadRecord()
		if r.IsTombstone() {
			fmt.Printf("%s deleted\n", r.Key)
			continue
		}
		fmt.Printf("%s=%d\n", r.Key, r.Value)
	}
	// Output:
	// tea=450
	// tea deleted
	// tea=900
}

// Final results: page views per user and minute, each window's count
// emitted once, when the window closes (its end + 30 seconds of grace),
// instead of at every view. The view at 0:50 still counts in [0:00, 1:00)
// (the window closes at 1:30); bob's view at 1:30 closes it, and ann's
// count of 2 is emitted, with the time of her last view in the window.
// Stream time 2:30 (carol's view) closes [1:00, 2:00) for both users at
// once, emitted by key. carol's window stays open: no result yet.
func ExampleWindows_EmitFinal() {
	t := topology.New()
	views := topology.StreamOf(t, serde.String, serde.String, "page-views")
	windows := topology.TumblingWindows(time.Minute).WithGrace(30 * time.Second).EmitFinal()
	topology.WindowedCount(views, windows, "views-per-minute", serde.String).
		To("views-per-minute", topology.TimeWindowedSerde(serde.String, windows.Size()), serde.Int64)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "page-views", serde.String, serde.String)
	out := testkit.OutputTopic(d, "views-per-minute", topology.TimeWindowedSerde(serde.String, windows.Size()), serde.Int64)
	at := func(min, sec int) time.Time {
		return time.UnixMilli(0).Add(time.Duration(min)*time.Minute + time.Duration(sec)*time.Second)
	}
	view := func(user string, min, sec int) {
		_ = in.PipeAt(user, "/page", at(min, sec))
		for !out.IsEmpty() {
			r, _ := out.ReadRecord()
			fmt.Printf("at %s: %s [%s, %s) = %d (time %s)\n", at(min, sec).UTC().Format("4:05"), r.Key.Key,
				r.Key.Start.UTC().Format("4:05"), r.Key.End.UTC().Format("4:05"), r.Value, r.Timestamp.UTC().Format("4:05"))
		}
	}
	view("ann", 0, 10)
	view("ann", 1, 10)
	view("ann", 0, 50)
	view("bob", 1, 30)
	view("bob", 1, 40)
	view("carol", 2, 30)
	// Output:
	// at 1:30: ann [0:00, 1:00) = 2 (time 0:50)
	// at 2:30: ann [1:00, 2:00) = 1 (time 1:10)
	// at 2:30: bob [1:00, 2:00) = 2 (time 1:40)
}

// Split routes each order to the first branch whose predicate accepts it:
// the branches are returned by name (the prefix and the branch's name), as
// Kafka Streams' split().branch(..., Branched.as(name)).defaultBranch().
func ExampleStream_Split() {
	t := topology.New()
	orders := topology.StreamOf(t, serde.String, serde.Int64, "orders")
	branches := orders.Split("orders-").
		Branch(func(_ string, cents int64) bool { return cents >= 10000 }, "large").
		Branch(func(_ string, cents int64) bool { return cents <= 0 }, "invalid").
		DefaultBranch("normal")
	branches["orders-large"].To("large-orders", serde.String, serde.Int64)
	branches["orders-invalid"].To("invalid-orders", serde.String, serde.Int64)
	branches["orders-normal"].To("normal-orders", serde.String, serde.Int64)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "orders", serde.String, serde.Int64)
	_ = in.Pipe("o1", 2500)
	_ = in.Pipe("o2", 25000)
	_ = in.Pipe("o3", -5)
	_ = in.Pipe("o4", 999)
	for _, topic := range []string{"large-orders", "invalid-orders", "normal-orders"} {
		out := testkit.OutputTopic(d, topic, serde.String, serde.Int64)
		for !out.IsEmpty() {
			r, _ := out.ReadRecord()
			fmt.Printf("%s: %s=%d\n", topic, r.Key, r.Value)
		}
	}
	// Output:
	// large-orders: o2=25000
	// invalid-orders: o3=-5
	// normal-orders: o1=2500
	// normal-orders: o4=999
}

// SelectKey re-keys clicks by page; Count after it reads them through a
// repartition topic that the DSL inserts, so that every click of a page is
// counted by one task whatever partition it was read from.
func ExampleSelectKey() {
	t := topology.New()
	clicks := topology.StreamOf(t, serde.String, serde.String, "clicks") // user -> page
	byPage := topology.SelectKey(clicks, func(_, page string) string { return page })
	topology.Count(byPage, "clicks-per-page", serde.String).To("page-counts", serde.String, serde.Int64)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{DefaultPartitions: 3})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "clicks", serde.String, serde.String)
	_ = in.Pipe("ann", "/home")
	_ = in.Pipe("bob", "/home")
	_ = in.Pipe("cid", "/cart")
	_ = in.Pipe("dan", "/home")
	counts, _ := testkit.ReadKeyValuesToMap(testkit.OutputTopic(d, "page-counts", serde.String, serde.Int64))
	fmt.Println(counts["/home"], counts["/cart"])
	// Output:
	// 3 1
}

// A left stream-stream join: an order joins the payments of its key made
// within 10 ms; an order never paid is emitted with found2 false, but only
// once its window has closed (time + 10 ms + grace < stream time), so a
// late payment still joins it instead.
func ExampleLeftJoinStreams() {
	t := topology.New()
	orders := topology.StreamOf(t, serde.String, serde.String, "orders")
	payments := topology.StreamOf(t, serde.String, serde.String, "payments")
	topology.LeftJoinStreams(orders, payments, "paid", topology.JoinTimeDifference(10*time.Millisecond).WithGrace(5*time.Millisecond),
		func(id, order, payment string, paid bool) string {
			if !paid {
				return order + " unpaid"
			}
			return order + " paid by " + payment
		}, serde.String, serde.String, serde.String).To("orders-checked", serde.String, serde.String)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	ords := testkit.InputTopic(d, "orders", serde.String, serde.String)
	pays := testkit.InputTopic(d, "payments", serde.String, serde.String)
	_ = ords.PipeAt("o1", "book", time.UnixMilli(100))
	_ = ords.PipeAt("o2", "pen", time.UnixMilli(102))
	_ = pays.PipeAt("o1", "card", time.UnixMilli(108)) // joins o1
	_ = ords.PipeAt("o3", "ink", time.UnixMilli(130))  // closes o2's window: 102 + 10 + 5 < 130
	out := testkit.OutputTopic(d, "orders-checked", serde.String, serde.String)
	for !out.IsEmpty() {
		r, _ := out.ReadRecord()
		fmt.Printf("%s: %s at %d\n", r.Key, r.Value, r.Timestamp.UnixMilli())
	}
	// Output:
	// o1: book paid by card at 108
	// o2: pen unpaid at 102
}

// Count each user's logins in every minute-long stretch of time, however it
// falls: sliding windows end at a login (how many in the minute up to it)
// or start just after one (how many in the minute after it), so a burst is
// seen whole wherever it starts. Windows include both ends.
func ExampleSlidingCount() {
	t := topology.New()
	logins := topology.StreamOf(t, serde.String, serde.String, "logins")
	windows := topology.SlidingWindows(time.Minute).WithGrace(10 * time.Second)
	topology.SlidingCount(logins, windows, "logins-per-minute", serde.String).
		To("logins-per-minute", topology.TimeWindowedSerde(serde.String, windows.TimeDifference()), serde.Int64)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "logins", serde.String, serde.String)
	at := func(clock string) time.Time {
		c, _ := time.Parse("15:04:05", clock)
		return c.AddDate(2024, 0, 0)
	}
	_ = in.PipeAt("ann", "ok", at("10:00:00"))
	_ = in.PipeAt("ann", "ok", at("10:00:40"))
	_ = in.PipeAt("ann", "ok", at("10:00:30")) // out of order, within the grace
	_ = in.PipeAt("ann", "ok", at("10:02:00"))
	_ = in.PipeAt("ann", "ok", at("10:00:45")) // late: 10:00:45 + 1m < 10:02:00 - 10s
	out := testkit.OutputTopic(d, "logins-per-minute", topology.TimeWindowedSerde(serde.String, windows.TimeDifference()), serde.Int64)
	for !out.IsEmpty() {
		r, _ := out.ReadRecord()
		fmt.Printf("%s [%s, %s] = %d\n", r.Key.Key, r.Key.Start.UTC().Format("15:04:05.000"), r.Key.End.UTC().Format("15:04:05.000"), r.Value)
	}
	fmt.Println("dropped as late:", d.Dropped())
	// Output:
	// ann [09:59:00.000, 10:00:00.000] = 1
	// ann [10:00:00.001, 10:01:00.001] = 1
	// ann [09:59:40.000, 10:00:40.000] = 2
	// ann [10:00:00.001, 10:01:00.001] = 2
	// ann [09:59:40.000, 10:00:40.000] = 3
	// ann [09:59:30.000, 10:00:30.000] = 2
	// ann [10:00:30.001, 10:01:30.001] = 1
	// ann [10:01:00.000, 10:02:00.000] = 1
	// dropped as late: 1
}

// A foreign-key join: each order names its customer in its value; the
// joined table follows both the orders and the customers, on any number of
// partitions. A customer's update re-joins every order naming it; an order
// moving to a customer not there yet is deleted from the result (a
// tombstone) until the customer comes.
func ExampleFKJoin() {
	t := topology.New()
	orders := topology.TableOf(t, "orders", "orders", serde.String, serde.String)          // id → "customer:item"
	customers := topology.TableOf(t, "customers", "customers", serde.String, serde.String) // id → name
	customerOf := func(_, order string) (string, bool) {
		c, _, ok := strings.Cut(order, ":")
		return c, ok
	}
	topology.FKJoin(orders, customers, "order-customer", customerOf,
		func(id, order, name string) string { return order + " for " + name },
		topology.FKSerdes[string, string, string, string, string]{Value: serde.String, ForeignValue: serde.String}).
		ToStream().To("orders-with-customer", serde.String, serde.String)

	d, err := testkit.NewDriver(t, testkit.DriverConfig{DefaultPartitions: 4})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	ords := testkit.InputTopic(d, "orders", serde.String, serde.String)
	custs := testkit.InputTopic(d, "customers", serde.String, serde.String)
	_ = custs.Pipe("c1", "Ann")
	_ = ords.Pipe("o1", "c1:book")
	_ = ords.Pipe("o2", "c1:pen")
	_ = custs.Pipe("c1", "Anna")  // re-joins o1 and o2
	_ = ords.Pipe("o2", "c2:pen") // c2 is not there: o2 is deleted
	_ = custs.Pipe("c2", "Bob")   // o2 joins again
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
	// o1: c1:book for Ann
	// o2: c1:pen for Ann
	// o1: c1:book for Anna
	// o2: c1:pen for Anna
	// o2 deleted
	// o2: c2:pen for Bob
}

// A windowed cogroup: page views (strings) and purchases (amounts) of each
// user folded into one activity per user and minute, with final results
// only: each minute's activity is emitted once, when a record of either
// stream moves the stream time past the minute's end + 10 s of grace.
func ExampleCogrouped_WindowedAggregate() {
	type activity struct{ Views, Spent int64 }
	t := topology.New()
	views := topology.StreamOf(t, serde.String, serde.String, "page-views") // user → page
	buys := topology.StreamOf(t, serde.String, serde.Int64, "purchases")    // user → amount
	c := topology.Cogroup(views, func(_, _ string, a activity) activity { a.Views++; return a })
	c = topology.CogroupWith(c, buys, func(_ string, amount int64, a activity) activity { a.Spent += amount; return a })
	w := topology.TumblingWindows(time.Minute).WithGrace(10 * time.Second).EmitFinal()
	c.WindowedAggregate(w, "activity", func() activity { return activity{} }, serde.String, serde.JSON[activity]()).
		To("activity-per-minute", topology.TimeWindowedSerde(serde.String, time.Minute), serde.JSON[activity]())

	d, err := testkit.NewDriver(t, testkit.DriverConfig{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	pv := testkit.InputTopic(d, "page-views", serde.String, serde.String)
	pu := testkit.InputTopic(d, "purchases", serde.String, serde.Int64)
	at := func(s int) time.Time { return time.Date(2024, 1, 1, 10, 0, s, 0, time.UTC) }
	_ = pv.PipeAt("ann", "/home", at(5))
	_ = pv.PipeAt("ann", "/shoes", at(20))
	_ = pu.PipeAt("ann", 80, at(50))
	_ = pv.PipeAt("bob", "/home", at(65))
	_ = pu.PipeAt("ann", 15, at(58))      // out of order, within the grace
	_ = pv.PipeAt("bob", "/hats", at(75)) // closes 10:00
	_ = pu.PipeAt("bob", 30, at(130))     // closes 10:01
	out := testkit.OutputTopic(d, "activity-per-minute", topology.TimeWindowedSerde(serde.String, time.Minute), serde.JSON[activity]())
	for !out.IsEmpty() {
		r, _ := out.ReadRecord()
		fmt.Printf("%s %s: %d views, spent %d\n", r.Key.Key, r.Key.Start.UTC().Format("15:04"), r.Value.Views, r.Value.Spent)
	}
	// Output:
	// ann 10:00: 2 views, spent 95
	// bob 10:01: 2 views, spent 0
}
