package topology

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/samsa-streams/samsa/internal/engine"
	"github.com/samsa-streams/samsa/internal/stores"
	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
)

// GlobalTable is a topic read whole as a table by every task, as Kafka
// Streams' GlobalKTable: its store holds the latest value of every key of
// every partition of the topic, is filled before any task processes and
// kept up to date as the topic grows. A stream joins it with JoinGlobal or
// LeftJoinGlobal on a key computed from each record, so the stream needs
// no co-partitioning with the topic and no repartition.
//
// Runtime support: testkit.Driver and the App run global tables. The App
// rebuilds each global store in memory from every partition of its topic
// (read_committed, up to the last stable offset) at every start, before it
// joins the group, and then applies the topic's new records before each
// batch it processes.
type GlobalTable[K, V any] struct {
	t     *Topology
	store string
}

// Topology returns the topology the global table belongs to.
func (g GlobalTable[K, V]) Topology() *Topology { return g.t }

// Store returns the name of the global table's store.
func (g GlobalTable[K, V]) Store() string { return g.store }

// GlobalTableOf adds a global table read from topic into the global store
// named store, as Kafka Streams' builder.globalTable(topic,
// Materialized.as(store)). The topic is the store's changelog: nothing
// else is written, and no source of the topology may read the topic.
//
// As in Kafka Streams: a record upserts its key with its value and event
// time, a tombstone deletes the key, a record with a null key is ignored.
// The store keeps each value with its time, as TableOf's store does, and
// is read-only to processors: looked up with processor.GetKeyValueStore[K,
// V] from a processor connected to it, it shows the values, and a write
// fails. A record whose key or value the serdes cannot read fails the
// update.
func GlobalTableOf[K, V any](t *Topology, topic, store string, key serde.Serde[K], value serde.Serde[V]) GlobalTable[K, V] {
	g := GlobalTable[K, V]{t: t, store: store}
	switch {
	case key == nil || value == nil:
		t.g.Errorf("topology: global table %q needs both a key and a value serde", store)
		return g
	case topic == "" || store == "":
		t.g.Errorf("topology: a global table needs a topic and a store name (got topic %q, store %q)", topic, store)
		return g
	}
	if _, dup := t.g.Globals[store]; dup {
		t.g.Errorf("topology: duplicate global store %q", store)
		return g
	}
	ts := timestampedSerde[V]{value}
	t.g.Globals[store] = &engine.GlobalDef{
		Name:  store,
		Topic: topic,
		Update: func(raw processor.BytesKeyValueStore, kb, vb []byte, at time.Time) error {
			if kb == nil {
				return nil
			}
			k, err := key.Deserialize(topic, kb)
			if err != nil {
				return fmt.Errorf("global store %q: key: %w", store, err)
			}
			if kb, err = key.Serialize(store, k); err != nil {
				return fmt.Errorf("global store %q: key: %w", store, err)
			}
			if vb == nil {
				return raw.Delete(kb)
			}
			if _, err := value.Deserialize(topic, vb); err != nil {
				return fmt.Errorf("global store %q: value: %w", store, err)
			}
			out := make([]byte, 8, 8+len(vb))
			binary.BigEndian.PutUint64(out, uint64(at.UnixMilli()))
			return raw.Put(kb, append(out, vb...))
		},
		Wrap: func(raw processor.BytesKeyValueStore) processor.StateStore {
			return globalKV[K, V]{&timestampedKV[K, V]{raw: raw, key: key, value: ts, inner: stores.NewKeyValueStore(raw, key, serde.Serde[timestamped[V]](ts))}}
		},
	}
	return g
}

// globalKV is the store of a global table: a table's timestamped store
// that processors cannot write.
type globalKV[K, V any] struct{ *timestampedKV[K, V] }

func (s globalKV[K, V]) readOnly() error {
	return fmt.Errorf("topology: global store %q is read-only: it is written from its topic only", s.Name())
}

func (s globalKV[K, V]) Put(K, V) error { return s.readOnly() }

func (s globalKV[K, V]) PutIfAbsent(K, V) (V, bool, error) {
	var zero V
	return zero, false, s.readOnly()
}

func (s globalKV[K, V]) Delete(K) (V, bool, error) {
	var zero V
	return zero, false, s.readOnly()
}

// JoinGlobal joins every record of s with the value that the key
// keySelector computes from it has in g, as Kafka Streams'
// KStream.join(GlobalKTable, KeyValueMapper, ValueJoinerWithKey): an inner
// join, in which only stream records trigger output; a stream record whose
// computed key g does not have emits nothing. The output record is the
// stream record's (key, time, headers, partitioning) with the value joiner
// returns: the stream keeps its key, so no repartition follows or
// precedes the join, whatever the partitioning of s and of g's topic.
//
// As in Kafka Streams: a stream record with a null value (a tombstone) is
// dropped (counted by the task as dropped); one with a null key is joined
// on the key keySelector computes from it (keySelector sees the zero K)
// and keeps its null key; the lookup sees g as it is when the record is
// processed.
func JoinGlobal[K, V, KG, VG, VR any](s Stream[K, V], g GlobalTable[KG, VG], keySelector func(key K, value V) KG, joiner func(key K, value V, vg VG) VR) Stream[K, VR] {
	s.t.nilFuncs("JoinGlobal", "keySelector", keySelector, "joiner", joiner)
	return globalJoin(s, g, false, keySelector, func(k K, v V, vg VG, _ bool) VR { return joiner(k, v, vg) })
}

// LeftJoinGlobal is JoinGlobal as a left join, as Kafka Streams'
// KStream.leftJoin(GlobalKTable, ...): a stream record whose computed key
// g does not have is joined too, with found false and vg the zero VG
// (Kafka Streams' joiner sees null). Tombstones are dropped and null keys
// joined, as in JoinGlobal.
func LeftJoinGlobal[K, V, KG, VG, VR any](s Stream[K, V], g GlobalTable[KG, VG], keySelector func(key K, value V) KG, joiner func(key K, value V, vg VG, found bool) VR) Stream[K, VR] {
	s.t.nilFuncs("LeftJoinGlobal", "keySelector", keySelector, "joiner", joiner)
	return globalJoin(s, g, true, keySelector, joiner)
}

func globalJoin[K, V, KG, VG, VR any](s Stream[K, V], g GlobalTable[KG, VG], left bool, keySelector func(K, V) KG, joiner func(K, V, VG, bool) VR) Stream[K, VR] {
	prefix := "KSTREAM-JOIN"
	if left {
		prefix = "KSTREAM-LEFTJOIN"
	}
	name := s.t.name(prefix)
	out := Stream[K, VR]{t: s.t, node: name, rekeyedAt: s.rekeyedAt, key: s.key}
	switch {
	case s.t != g.t:
		s.t.g.Errorf("topology: join %q: the stream and the global table belong to different topologies", name)
		return out
	case keySelector == nil || joiner == nil:
		s.t.g.Errorf("topology: join %q needs a key selector and a joiner", name)
		return out
	}
	store := g.store
	AddProcessor(s.t, name, func() processor.Processor[K, V, K, VR] {
		return &globalJoiner[K, V, KG, VG, VR]{store: store, left: left, keySelector: keySelector, joiner: joiner}
	}, s.node)
	if def, ok := s.t.g.Globals[store]; ok {
		def.Processors = append(def.Processors, name)
	} else {
		s.t.g.Errorf("topology: join %q: no global store %q", name, store)
	}
	return out
}

// globalJoiner is the processor of JoinGlobal and LeftJoinGlobal, as Kafka
// Streams' KStreamKTableJoinProcessor with a GlobalKTable's value getter.
type globalJoiner[K, V, KG, VG, VR any] struct {
	store       string
	left        bool
	keySelector func(K, V) KG
	joiner      func(K, V, VG, bool) VR
	ctx         processor.Context[K, VR]
	st          globalKV[KG, VG]
}

func (j *globalJoiner[K, V, KG, VG, VR]) Init(ctx processor.Context[K, VR]) error {
	s, err := ctx.StateStore(j.store)
	if err != nil {
		return fmt.Errorf("topology: global store %q: %w", j.store, err)
	}
	st, ok := s.(globalKV[KG, VG])
	if !ok {
		return fmt.Errorf("topology: store %q is a %T, not a global table's store", j.store, s)
	}
	j.ctx, j.st = ctx, st
	return nil
}

func (j *globalJoiner[K, V, KG, VG, VR]) Process(r processor.Record[K, V]) error {
	if r.IsTombstone() {
		dropped(j.ctx, "null value in a stream-global table join")
		return nil
	}
	vg, found, err := j.st.getTimed(j.keySelector(r.Key, r.Value))
	if err != nil {
		return err
	}
	if !found && !j.left {
		return nil
	}
	j.ctx.Forward(processor.WithValue(r, j.joiner(r.Key, r.Value, vg.agg, found)))
	return nil
}

func (j *globalJoiner[K, V, KG, VG, VR]) Close() error { return nil }
