// Package runtime runs a compiled topology as one member of a consumer
// group: the poll loop and task manager, the rebalance callbacks, the
// record collector (producer, production errors, dead letters), internal
// topic management, and the state updater that restores new tasks and
// tails standby changelogs. How a changelog is read (a restore to the last
// stable offset in turns, standby stores following their partitions, with
// one Kafka client) lives in package changelog (changelog.Reader); this
// package decides which tasks restore and which are standbys, reports the
// progress and turns the reader's failures and positions into task ids.
// Package samsa is its facade: it validates the user's configuration,
// compiles the topology and hands both to New.
//
// # One record, from poll to commit
//
//  1. app.go: the loop polls a batch (read_committed) and processBatch
//     hands each record to the task of its partition (engine.Task.Add);
//     under exactly-once it begins the transaction (exactlyonce).
//  2. internal/engine/task.go: Task.Process takes the queued record with
//     the lowest timestamp; a failure is decided once, by the configured
//     policy, for the whole record.
//  3. internal/engine/nodes.go: the source deserializes, the user's
//     processors run depth-first, store writes go to the changelog
//     package's write buffer (which appends them to the changelog through
//     Store.OnWrite), the sink serializes and calls engine.Output.Produce.
//  4. collector.go: the collector produces the record; its promise only
//     notes a rejection.
//  5. app.go commitLocked (which first has every task flush its record
//     caches, engine.Task.FlushCaches: the cached aggregations write and
//     forward each key updated since the last commit), then collector.go
//     settleProduction: the producer is flushed and every rejection decided before any offset
//     is committed; exactlyonce/exactlyonce.go commits (offsets and
//     transaction), then changelog/engine.go applies every store's buffer
//     in one synced batch with the changelog offsets it reflects.
//
// Six files (a store write adds changelog/store.go). The engine and the
// changelog stores reach the collector only through the interfaces they
// define (engine.Output, Store.OnWrite): that is the one way back into
// this package; neither imports it, and only package samsa does.
//
// Before the first record of a newly assigned task, its stores are
// restored, off the poll loop: updater.go hands the task to state.go
// restore, which reads each store's changelog with changelog/reader.go
// (Reader.Restore) and reports the progress (reportRestore); the task's
// partitions stay paused until then. A standby task's stores are written
// only by the same reader (Reader.Follow, Reader.Tail), never by a
// record's walk.
//
// # Goroutines
//
// The poll loop (Run's goroutine) owns the tasks that process, under
// App.mu, which the group callbacks (franz-go's goroutine, while the loop
// is blocked) also take. The state updater goroutine owns the tasks it
// restores until it hands them back; it alone polls the changelog reader
// (changelog.Reader: Restore, Tail), which writes the standby stores under
// its own mutex. App.standbyMu guards which tasks are standbys: the poll
// loop and the callbacks open and close them and have the reader follow or
// unfollow their changelogs. With global tables (global.go), a reader
// goroutine polls their topics and the poll loop applies its fetches to
// the global stores, under App.mu, before each batch. The producer's
// promise goroutine only appends to the collector's failure list, under
// output.mu. Each struct says which goroutine owns which field.
package runtime
