package topology

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
)

// FKSerdes are the serdes of a foreign-key join (FKJoin, FKLeftJoin): it
// writes its internal topics, its subscription store and its result store
// with them. A nil Key or ForeignKey is the key serde of the left or right
// table (known for a table made by TableOf and the tables derived from
// it), then a standard serde (string, []byte, int64, int32, float64); a
// nil Value, ForeignValue or Result, which no table knows, is a standard
// serde. Validate reports a serde that is still missing.
type FKSerdes[K, V, KO, VO, VR any] struct {
	// Key is the left table's key serde: the subscriptions and the
	// responses carry the left key with it.
	Key serde.Serde[K]
	// Value is the left table's value serde: a left value is hashed in its
	// serialized form, so that a response to an older value is recognized
	// and dropped.
	Value serde.Serde[V]
	// ForeignKey is the right table's key serde: the subscriptions are
	// keyed with it, and the foreign keys of two left values are compared
	// serialized.
	ForeignKey serde.Serde[KO]
	// ForeignValue is the right table's value serde: the responses carry
	// the right value with it.
	ForeignValue serde.Serde[VO]
	// Result is the serde of the joiner's values: the result store keeps
	// them with it (as Kafka Streams' Materialized.withValueSerde).
	Result serde.Serde[VR]
}

// FKJoin joins two tables on a foreign key, as Kafka Streams'
// KTable.join(KTable other, foreignKeyExtractor, joiner,
// TableJoined.as(name)) (KIP-213): the left table l's values each name a
// key of the right table r, foreignKey(key, value) returning it (false:
// the value has no foreign key, Kafka Streams' extractor returning null).
// The result has l's keys: a left key is joined, with joiner, while its
// value has a foreign key that r has. Updates of either side are
// forwarded: an update of r is joined with every left key whose value
// names it.
//
// It works as Kafka Streams' does, so that it is correct with any number of
// partitions and instances (l and r need not be co-partitioned):
//   - every update of l sends a subscription (the left key, a hash of its
//     new value, an instruction) through the topic
//     <application id>-<name>-subscription-registration-topic, keyed by
//     the foreign key, to r's task; a left value whose foreign key changes
//     also unsubscribes from the old one;
//   - r's task keeps the subscriptions in the key-value store
//     <name>-subscription-store (keyed by the serialized foreign key, then
//     the left key; logged to its changelog) and answers a subscription,
//     and every update of r for each of its subscribers (found by a prefix
//     scan), with the right value through
//     <application id>-<name>-subscription-response-topic, to the left
//     partition the subscription came from;
//   - l's task joins a response with l's current value, and drops it when
//     the hash it carries is not that of the current value (a response to
//     an older value, overtaken by a newer one).
//
// The registration topic is read with r's topic, and gets its partition
// count; the response topic is read with l's, and gets that.
//
// As in Kafka Streams:
//   - a left update whose foreign key r does not have emits nothing when
//     it inserts the key or keeps its foreign key, and a tombstone when it
//     changes its foreign key (the old join result, if any, is deleted);
//   - a left update with no foreign key is dropped (counted by the task),
//     after deleting its old result when the old value had a foreign key
//     (a tombstone);
//   - a left delete emits a tombstone when the old value had a foreign
//     key, whether or not it was joined;
//   - an update or delete of r is joined with (or a tombstone for) every
//     current subscriber;
//   - a result triggered by a left update carries the later of its time
//     and the right value's, and its headers; one triggered by an update
//     of r, that update's time and headers.
//
// The result is a table like any other: it can be filtered, mapped,
// grouped, joined with a stream or a table, and looked up. It is
// materialized in l's task, in the timestamped key-value store
// <name>-result-store (logged to
// <application id>-<name>-result-store-changelog; keys written with
// FKSerdes.Key, values with FKSerdes.Result): every result is written
// there with its time before it is forwarded, and a tombstone deletes its
// key (it is forwarded even when the store did not have the key, as Kafka
// Streams forwards it). An operator that needs old values (Filter,
// GroupTable, a table join) gets the key's previous result from the
// store; a join looks the result up there, so a stream joined with it
// must be co-partitioned with l (Join), as must a table joined with it
// (TableJoin).
//
// It is always materialized, as Kafka Streams' result is given
// Materialized.as(<name>-result-store), and what it forwards is what that
// forwards (conformance/ checks it). Without Materialized, Kafka Streams
// materializes the result only once an operator needs it, and a Filter
// declared before then forwards a tombstone for every value it rejects,
// also of keys it never had; samsa has no such order-dependent case. The
// cost is a store write and a changelog record per result; it cannot be
// avoided as a Filter's is (read through the table it derives from),
// because the right value is in r's task, on another partition, and a
// materialized result keeps the internal topics of an application the
// same when an operator is added after the join.
func FKJoin[K, V, KO, VO, VR any](l Table[K, V], r Table[KO, VO], name string, foreignKey func(key K, value V) (KO, bool), joiner func(key K, v V, vo VO) VR, serdes FKSerdes[K, V, KO, VO, VR]) Table[K, VR] {
	l.t.nilFuncs("FKJoin "+strconv.Quote(name), "foreignKey", foreignKey, "joiner", joiner)
	return fkJoin(l, r, name, false, foreignKey, func(k K, v V, vo VO, _ bool) VR { return joiner(k, v, vo) }, serdes)
}

// FKLeftJoin joins two tables on a foreign key, as Kafka Streams'
// KTable.leftJoin(KTable other, foreignKeyExtractor, joiner,
// TableJoined.as(name)): as FKJoin, but a left key is in the result
// whatever its foreign key, joined with r's value (found true) or without
// one (found false, vo the zero VO; Kafka Streams' joiner sees null): a
// left value without a foreign key, or whose foreign key r does not have,
// is joined too. A delete of a left key emits a tombstone (nothing for a
// key l did not have), a delete of r a result joined without it for every
// subscriber. Topics, stores (the result materialized in
// <name>-result-store) and times are as in FKJoin.
func FKLeftJoin[K, V, KO, VO, VR any](l Table[K, V], r Table[KO, VO], name string, foreignKey func(key K, value V) (KO, bool), joiner func(key K, v V, vo VO, found bool) VR, serdes FKSerdes[K, V, KO, VO, VR]) Table[K, VR] {
	l.t.nilFuncs("FKLeftJoin "+strconv.Quote(name), "foreignKey", foreignKey, "joiner", joiner)
	return fkJoin(l, r, name, true, foreignKey, joiner, serdes)
}

// verbatimTopic ends the internal name of a topic that is named
// <application id>-<name>, without the -repartition suffix of repartition
// topics: the foreign-key joins' topics, which end in -topic as Kafka
// Streams names them.
const verbatimTopic = "\x00"

// internalTopic names the internal topic of a node (engine.Node.Internal)
// once the application id is known.
func internalTopic(applicationID, internal string) string {
	if name, ok := strings.CutSuffix(internal, verbatimTopic); ok {
		return applicationID + "-" + name
	}
	return RepartitionTopic(applicationID, internal)
}

// fkOp is what a subscription asks the right table's task to do, as Kafka
// Streams' SubscriptionWrapper.Instruction.
type fkOp byte

const (
	// fkDeleteNoPropagate removes the subscription; no response.
	fkDeleteNoPropagate fkOp = iota
	// fkDeleteAndPropagate removes the subscription and responds with no
	// right value (the left side deletes its result).
	fkDeleteAndPropagate
	// fkPropagateNull subscribes and responds, with no right value when
	// the right table does not have the foreign key.
	fkPropagateNull
	// fkPropagateOnly subscribes and responds only when the right table
	// has the foreign key.
	fkPropagateOnly
)

// fkHash is the hash of a serialized left value; ok false: no value (a
// delete).
type fkHash struct {
	sum [16]byte
	ok  bool
}

func hashValue(b []byte) fkHash {
	s := sha256.Sum256(b)
	var h fkHash
	copy(h.sum[:], s[:16])
	h.ok = true
	return h
}

// subscription is what the left table sends the right table's task: its
// key, the hash of its new value, the instruction and the partition of the
// left table's task, which the response goes back to.
type subscription[K any] struct {
	key       K
	hash      fkHash
	op        fkOp
	partition int32
}

// subscriptionSerde writes a subscription: the instruction, a flags byte
// (1: has a hash), the 16 bytes of the hash, the left partition (4 bytes,
// big-endian), then the left key's bytes.
type subscriptionSerde[K any] struct{ key serde.Serde[K] }

const subscriptionHeader = 1 + 1 + 16 + 4

func (s subscriptionSerde[K]) Serialize(topic string, v subscription[K]) ([]byte, error) {
	kb, err := s.key.Serialize(topic, v.key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, subscriptionHeader+len(kb))
	var flags byte
	if v.hash.ok {
		flags = 1
	}
	out = append(out, byte(v.op), flags)
	out = append(out, v.hash.sum[:]...)
	out = binary.BigEndian.AppendUint32(out, uint32(v.partition))
	return append(out, kb...), nil
}

func (s subscriptionSerde[K]) Deserialize(topic string, data []byte) (subscription[K], error) {
	var v subscription[K]
	if len(data) < subscriptionHeader {
		return v, fmt.Errorf("%w: foreign-key join subscription in %q needs at least %d bytes, got %d", serde.ErrDeserialize, topic, subscriptionHeader, len(data))
	}
	if data[0] > byte(fkPropagateOnly) {
		return v, fmt.Errorf("%w: foreign-key join subscription in %q: unknown instruction %d", serde.ErrDeserialize, topic, data[0])
	}
	v.op = fkOp(data[0])
	v.hash.ok = data[1]&1 != 0
	copy(v.hash.sum[:], data[2:18])
	v.partition = int32(binary.BigEndian.Uint32(data[18:22]))
	k, err := s.key.Deserialize(topic, data[subscriptionHeader:])
	if err != nil {
		return v, fmt.Errorf("foreign-key join subscription in %q: left key: %w", topic, err)
	}
	v.key = k
	return v, nil
}

// subscriptionKey is the key of the subscription store: the foreign key,
// then the left key, so that a prefix scan finds a foreign key's
// subscribers, as Kafka Streams' CombinedKey.
type subscriptionKey[KO, K any] struct {
	fk KO
	pk K
}

// subscriptionKeySerde writes a subscriptionKey as Kafka Streams'
// CombinedKeySchema does: the foreign key's length (4 bytes, big-endian),
// its bytes, then the left key's bytes.
type subscriptionKeySerde[KO, K any] struct {
	fk serde.Serde[KO]
	pk serde.Serde[K]
}

// prefix returns the serialized prefix of every key of the foreign key fk.
func (s subscriptionKeySerde[KO, K]) prefix(topic string, fk KO) ([]byte, error) {
	fb, err := s.fk.Serialize(topic, fk)
	if err != nil {
		return nil, err
	}
	out := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(fb)), uint32(len(fb)))
	return append(out, fb...), nil
}

func (s subscriptionKeySerde[KO, K]) Serialize(topic string, k subscriptionKey[KO, K]) ([]byte, error) {
	out, err := s.prefix(topic, k.fk)
	if err != nil {
		return nil, err
	}
	pb, err := s.pk.Serialize(topic, k.pk)
	if err != nil {
		return nil, err
	}
	return append(out, pb...), nil
}

func (s subscriptionKeySerde[KO, K]) Deserialize(topic string, data []byte) (subscriptionKey[KO, K], error) {
	var k subscriptionKey[KO, K]
	if len(data) < 4 {
		return k, fmt.Errorf("%w: subscription key in %q needs at least 4 bytes, got %d", serde.ErrDeserialize, topic, len(data))
	}
	n := int(binary.BigEndian.Uint32(data))
	if 4+n > len(data) {
		return k, fmt.Errorf("%w: subscription key in %q: foreign key of %d bytes in %d", serde.ErrDeserialize, topic, n, len(data)-4)
	}
	var err error
	if k.fk, err = s.fk.Deserialize(topic, data[4:4+n:4+n]); err != nil {
		return k, err
	}
	if k.pk, err = s.pk.Deserialize(topic, data[4+n:]); err != nil {
		return k, err
	}
	return k, nil
}

// fkResponse is the right table's answer to a subscriber: the hash the
// subscription carried and the right value (none: the right table does
// not have the foreign key). partition is the left partition it goes to;
// it is not written (the sink's partitioner uses it).
type fkResponse[VO any] struct {
	hash      fkHash
	value     VO
	found     bool
	partition int32
}

// fkResponseSerde writes a response: a flags byte (1: has a hash, 2: has
// a right value), the 16 bytes of the hash, then the right value's bytes.
type fkResponseSerde[VO any] struct{ value serde.Serde[VO] }

func (s fkResponseSerde[VO]) Serialize(topic string, r fkResponse[VO]) ([]byte, error) {
	var flags byte
	var vb []byte
	if r.hash.ok {
		flags |= 1
	}
	if r.found {
		flags |= 2
		var err error
		if vb, err = s.value.Serialize(topic, r.value); err != nil {
			return nil, err
		}
	}
	out := make([]byte, 0, 17+len(vb))
	out = append(out, flags)
	out = append(out, r.hash.sum[:]...)
	return append(out, vb...), nil
}

func (s fkResponseSerde[VO]) Deserialize(topic string, data []byte) (fkResponse[VO], error) {
	var r fkResponse[VO]
	if len(data) < 17 {
		return r, fmt.Errorf("%w: foreign-key join response in %q needs at least 17 bytes, got %d", serde.ErrDeserialize, topic, len(data))
	}
	r.hash.ok = data[0]&1 != 0
	copy(r.hash.sum[:], data[1:17])
	if data[0]&2 != 0 {
		v, err := s.value.Deserialize(topic, data[17:])
		if err != nil {
			return r, fmt.Errorf("foreign-key join response in %q: right value: %w", topic, err)
		}
		r.value, r.found = v, true
	}
	return r, nil
}

// fkSerde returns given, else fallback, else samsa's standard serde for T
// (nil when there is none).
func fkSerde[T any](given, fallback serde.Serde[T]) serde.Serde[T] {
	if given != nil {
		return given
	}
	if fallback != nil {
		return fallback
	}
	s, _ := standardSerde[T]()
	return s
}

// fkResultStore names the store of a foreign-key join's result.
func fkResultStore(name string) string { return name + "-result-store" }

func fkJoin[K, V, KO, VO, VR any](l Table[K, V], r Table[KO, VO], name string, left bool, foreignKey func(K, V) (KO, bool), joiner func(K, V, VO, bool) VR, serdes FKSerdes[K, V, KO, VO, VR]) Table[K, VR] {
	t := l.t
	op := "FKJoin"
	if left {
		op = "FKLeftJoin"
	}
	op += " " + strconv.Quote(name)
	resolver := t.name("KTABLE-FK-JOIN-OUTPUT")
	out := Table[K, VR]{t: t, node: resolver, old: derived(), key: l.key, lookup: func(processor.TaskContext) (tableGetter[K, VR], error) {
		return nil, fmt.Errorf("topology: %s: the join is not valid (Validate says why)", op)
	}}
	if l.t != r.t {
		t.g.Errorf("topology: %s: the tables belong to different topologies", op)
		return out
	}
	if name == "" {
		t.g.Errorf("topology: %s: the join needs a name (it names its topics and store)", op)
		return out
	}
	key := fkSerde(serdes.Key, l.key)
	value := fkSerde(serdes.Value, nil)
	fkey := fkSerde(serdes.ForeignKey, r.key)
	fvalue := fkSerde(serdes.ForeignValue, nil)
	result := fkSerde(serdes.Result, nil)
	if key == nil || value == nil || fkey == nil || fvalue == nil || result == nil {
		var k K
		var v V
		var ko KO
		var vo VO
		var vr VR
		t.g.Errorf("topology: %s: samsa knows no serde for %T (key), %T (value), %T (foreign key), %T (foreign value) or %T (result): set them in FKSerdes", op, k, v, ko, vo, vr)
		return out
	}
	resultStore := fkResultStore(name)
	out.key, out.stores, out.lookup = key, []string{resultStore}, storeLookup[K, VR](resultStore)
	regInternal := name + "-subscription-registration-topic" + verbatimTopic
	respInternal := name + "-subscription-response-topic" + verbatimTopic
	store := name + "-subscription-store"

	// The left table's task: subscriptions out.
	l.old.enable()
	send := t.name("KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION")
	AddProcessor(t, send, func() processor.Processor[K, change[V], KO, subscription[K]] {
		return &fkSubscriber[K, V, KO]{left: left, foreignKey: foreignKey, value: value, fkey: fkey, internal: regInternal}
	}, l.node)
	subs := fkTopic(t, send, name+"-subscription-registration", regInternal, Sink[KO, subscription[K]]{Key: fkey, Value: subscriptionSerde[K]{key}})

	// The right table's task: the subscription store, and responses out.
	keys := subscriptionKeySerde[KO, K]{fk: fkey, pk: key}
	entries := timestampedSerde[subscription[K]]{subscriptionSerde[K]{key}}
	receive := t.name("KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR")
	AddProcessor(t, receive, func() processor.Processor[KO, subscription[K], K, fkResponse[VO]] {
		return &fkSubscriptionJoiner[K, KO, VO]{store: store, lookup: r.lookup}
	}, subs)
	fanOut := t.name("KTABLE-FK-JOIN-FOREIGN-PROCESSOR")
	AddProcessor(t, fanOut, func() processor.Processor[KO, change[VO], K, fkResponse[VO]] {
		return &fkForeignJoiner[K, KO, VO]{store: store, keys: keys}
	}, r.node)
	AddKeyValueStore(t, KeyValueStore[subscriptionKey[KO, K], timestamped[subscription[K]]]{Name: store, Key: keys, Value: entries}, receive, fanOut)
	for _, st := range r.stores {
		t.ConnectStore(st, receive)
	}
	responses := fkTopic(t, "", name+"-subscription-response", respInternal, Sink[K, fkResponse[VO]]{
		Key: key, Value: fkResponseSerde[VO]{fvalue},
		Partitioner: func(_ string, _ K, v fkResponse[VO], _ []byte, _ int32) int32 { return v.partition },
	}, receive, fanOut)

	// The left table's task again: responses in, joined.
	AddProcessor(t, resolver, func() processor.Processor[K, fkResponse[VO], K, change[VR]] {
		return &fkResponseJoiner[K, V, VO, VR]{left: left, lookup: l.lookup, joiner: joiner, value: value, internal: regInternal, old: out.old, store: resultStore}
	}, responses)
	addTimestampedStore(t, resultStore, key, result, resolver)
	for _, st := range l.stores {
		t.ConnectStore(st, resolver)
	}
	return out
}

// fkTopic adds a sink named <base>-sink writing the internal topic of
// internal, fed by parents (or by parent alone when parents is empty),
// and the source <base>-source reading it, which it returns.
func fkTopic[K, V any](t *Topology, parent, base, internal string, sink Sink[K, V], parents ...string) string {
	if len(parents) == 0 {
		parents = []string{parent}
	}
	placeholder := internalTopicPrefix + internal
	sink.Topic = placeholder
	AddSink(t, base+"-sink", sink, parents...)
	if n, ok := t.g.Node(base + "-sink"); ok {
		n.Internal = internal
	}
	src := base + "-source"
	AddSource(t, src, Source[K, V]{Topics: []string{placeholder}, Key: sink.Key, Value: sink.Value})
	if n, ok := t.g.Node(src); ok {
		n.Internal = internal
	}
	return src
}

// fkSubscriber sends the subscriptions of the left table's updates, as
// Kafka Streams' SubscriptionSendProcessorSupplier.
type fkSubscriber[K, V, KO any] struct {
	left       bool
	foreignKey func(K, V) (KO, bool)
	value      serde.Serde[V]
	fkey       serde.Serde[KO]
	internal   string
	topic      string
	ctx        processor.Context[KO, subscription[K]]
}

func (p *fkSubscriber[K, V, KO]) Init(ctx processor.Context[KO, subscription[K]]) error {
	p.ctx, p.topic = ctx, internalTopic(ctx.ApplicationID(), p.internal)
	return nil
}

func (p *fkSubscriber[K, V, KO]) Process(r processor.Record[K, change[V]]) error {
	if r.KeyIsNull() {
		return nil
	}
	c := r.Value
	var hash fkHash
	if c.hasNew {
		b, err := p.value.Serialize(p.topic, c.new)
		if err != nil {
			return fmt.Errorf("foreign-key join: serialize the left value to hash it: %w", err)
		}
		hash = hashValue(b)
	}
	var oldFK, newFK KO
	var hasOldFK, hasNewFK bool
	if c.hasOld {
		oldFK, hasOldFK = p.foreignKey(r.Key, c.old)
	}
	if c.hasNew {
		newFK, hasNewFK = p.foreignKey(r.Key, c.new)
	}
	send := func(fk KO, hasFK bool, op fkOp) {
		out := processor.WithKeyValue(r, fk, subscription[K]{key: r.Key, hash: hash, op: op, partition: p.ctx.TaskID().Partition})
		if !hasFK {
			out = out.WithNullKey()
		}
		p.ctx.Forward(out)
	}
	changed := func() (bool, error) {
		if !hasNewFK {
			return true, nil
		}
		ob, err := p.fkey.Serialize(p.topic, oldFK)
		if err != nil {
			return false, fmt.Errorf("foreign-key join: serialize the old foreign key: %w", err)
		}
		nb, err := p.fkey.Serialize(p.topic, newFK)
		if err != nil {
			return false, fmt.Errorf("foreign-key join: serialize the foreign key: %w", err)
		}
		return !bytes.Equal(ob, nb), nil
	}
	if p.left {
		if !c.hasOld && !c.hasNew {
			return nil // a delete of a key the table did not have
		}
		if hasOldFK {
			ch, err := changed()
			if err != nil {
				return err
			}
			if ch {
				send(oldFK, true, fkDeleteNoPropagate)
			}
		}
		// Always a response: a left join has a result for every left
		// value, and a delete (no foreign key) gets its tombstone back.
		send(newFK, hasNewFK, fkPropagateNull)
		return nil
	}
	switch {
	case c.hasNew && !hasNewFK:
		dropped(p.ctx, "no foreign key in a foreign-key join")
		if hasOldFK {
			send(oldFK, true, fkDeleteAndPropagate)
		}
	case c.hasNew && hasOldFK:
		ch, err := changed()
		if err != nil {
			return err
		}
		if ch {
			send(oldFK, true, fkDeleteNoPropagate)
			send(newFK, true, fkPropagateNull)
		} else {
			send(newFK, true, fkPropagateOnly)
		}
	case c.hasNew:
		send(newFK, true, fkPropagateOnly)
	case hasOldFK:
		send(oldFK, true, fkDeleteAndPropagate)
	}
	return nil
}

func (p *fkSubscriber[K, V, KO]) Close() error { return nil }

// fkSubscriptionJoiner keeps the subscriptions in the right table's task
// and answers them, as Kafka Streams' SubscriptionReceiveProcessorSupplier
// and SubscriptionJoinProcessorSupplier.
type fkSubscriptionJoiner[K, KO, VO any] struct {
	store  string
	lookup func(processor.TaskContext) (tableGetter[KO, VO], error)
	ctx    processor.Context[K, fkResponse[VO]]
	st     processor.KeyValueStore[subscriptionKey[KO, K], timestamped[subscription[K]]]
	get    tableGetter[KO, VO]
}

func (p *fkSubscriptionJoiner[K, KO, VO]) Init(ctx processor.Context[K, fkResponse[VO]]) error {
	st, err := processor.GetKeyValueStore[subscriptionKey[KO, K], timestamped[subscription[K]]](ctx, p.store)
	if err != nil {
		return fmt.Errorf("foreign-key join: subscription store: %w", err)
	}
	get, err := p.lookup(ctx)
	if err != nil {
		return err
	}
	p.ctx, p.st, p.get = ctx, st, get
	return nil
}

func (p *fkSubscriptionJoiner[K, KO, VO]) Process(r processor.Record[KO, subscription[K]]) error {
	sub := r.Value
	if r.IsTombstone() || (r.KeyIsNull() && sub.op != fkPropagateNull) {
		dropped(p.ctx, "null foreign key in a foreign-key join subscription")
		return nil
	}
	ts := r.Timestamp.UnixMilli()
	var vo timestamped[VO]
	var found bool
	if !r.KeyIsNull() {
		k := subscriptionKey[KO, K]{fk: r.Key, pk: sub.key}
		if sub.op == fkDeleteNoPropagate || sub.op == fkDeleteAndPropagate {
			if _, _, err := p.st.Delete(k); err != nil {
				return err
			}
		} else if err := p.st.Put(k, timestamped[subscription[K]]{agg: sub, ms: ts}); err != nil {
			return err
		}
		var err error
		if vo, found, err = p.get(r.Key); err != nil {
			return err
		}
		if found {
			ts = max(ts, vo.ms)
		}
	}
	resp := fkResponse[VO]{hash: sub.hash, partition: sub.partition}
	switch sub.op {
	case fkDeleteNoPropagate:
		return nil
	case fkPropagateOnly:
		if !found {
			return nil
		}
		fallthrough
	case fkPropagateNull:
		resp.value, resp.found = vo.agg, found
	}
	out := processor.WithKeyValue(r, sub.key, resp)
	out.Timestamp = time.UnixMilli(ts)
	p.ctx.Forward(out)
	return nil
}

func (p *fkSubscriptionJoiner[K, KO, VO]) Close() error { return nil }

// fkForeignJoiner answers every subscriber of a key of the right table
// when it is updated, as Kafka Streams' ForeignTableJoinProcessorSupplier.
type fkForeignJoiner[K, KO, VO any] struct {
	store string
	keys  subscriptionKeySerde[KO, K]
	ctx   processor.Context[K, fkResponse[VO]]
	st    processor.KeyValueStore[subscriptionKey[KO, K], timestamped[subscription[K]]]
}

func (p *fkForeignJoiner[K, KO, VO]) Init(ctx processor.Context[K, fkResponse[VO]]) error {
	st, err := processor.GetKeyValueStore[subscriptionKey[KO, K], timestamped[subscription[K]]](ctx, p.store)
	if err != nil {
		return fmt.Errorf("foreign-key join: subscription store: %w", err)
	}
	p.ctx, p.st = ctx, st
	return nil
}

func (p *fkForeignJoiner[K, KO, VO]) Process(r processor.Record[KO, change[VO]]) error {
	if r.KeyIsNull() {
		dropped(p.ctx, "null key in a foreign-key join's right table")
		return nil
	}
	// The store's keys are serialized with the store's name as topic.
	prefix, err := p.keys.prefix(p.st.Name(), r.Key)
	if err != nil {
		return fmt.Errorf("foreign-key join: serialize the foreign key: %w", err)
	}
	var subs []subscription[K]
	for kv, err := range p.st.PrefixScan(prefix) {
		if err != nil {
			return err
		}
		subs = append(subs, kv.Value.agg)
	}
	for _, sub := range subs {
		resp := fkResponse[VO]{hash: sub.hash, value: r.Value.new, found: r.Value.hasNew, partition: sub.partition}
		p.ctx.Forward(processor.WithKeyValue(r, sub.key, resp))
	}
	return nil
}

func (p *fkForeignJoiner[K, KO, VO]) Close() error { return nil }

// fkResponseJoiner joins the responses with the left table's current
// values, as Kafka Streams' ResponseJoinProcessorSupplier: a response
// whose hash is not that of the current value answers an older value and
// is dropped. It materializes the result, as the KTableSource Kafka
// Streams puts after it: a result is written to the result store (a
// tombstone deletes its key) before it is forwarded, with the key's
// previous result as its old value when an operator downstream needs it.
type fkResponseJoiner[K, V, VO, VR any] struct {
	left     bool
	lookup   func(processor.TaskContext) (tableGetter[K, V], error)
	joiner   func(K, V, VO, bool) VR
	value    serde.Serde[V]
	internal string
	old      *sendOld
	store    string
	topic    string
	ctx      processor.Context[K, change[VR]]
	get      tableGetter[K, V]
	st       *timestampedKV[K, VR]
}

func (p *fkResponseJoiner[K, V, VO, VR]) Init(ctx processor.Context[K, change[VR]]) error {
	st, err := timestampedStore[K, VR](ctx, p.store)
	if err != nil {
		return fmt.Errorf("foreign-key join: result store: %w", err)
	}
	get, err := p.lookup(ctx)
	if err != nil {
		return err
	}
	p.ctx, p.get, p.st, p.topic = ctx, get, st, internalTopic(ctx.ApplicationID(), p.internal)
	return nil
}

func (p *fkResponseJoiner[K, V, VO, VR]) Process(r processor.Record[K, fkResponse[VO]]) error {
	if r.KeyIsNull() || r.IsTombstone() {
		dropped(p.ctx, "null key or value in a foreign-key join response")
		return nil
	}
	cur, has, err := p.get(r.Key)
	if err != nil {
		return err
	}
	var hash fkHash
	if has {
		b, err := p.value.Serialize(p.topic, cur.agg)
		if err != nil {
			return fmt.Errorf("foreign-key join: serialize the left value to hash it: %w", err)
		}
		hash = hashValue(b)
	}
	if hash != r.Value.hash {
		return nil // a response to an older left value
	}
	var c change[VR]
	if has && (r.Value.found || p.left) {
		c.new, c.hasNew = p.joiner(r.Key, cur.agg, r.Value.value, r.Value.found), true
	}
	prev, hadPrev, err := p.st.getTimed(r.Key)
	if err != nil {
		return err
	}
	if c.hasNew {
		err = p.st.putTimed(r.Key, timestamped[VR]{agg: c.new, ms: r.Timestamp.UnixMilli()})
	} else if hadPrev {
		_, _, err = p.st.Delete(r.Key)
	}
	if err != nil {
		return err
	}
	if p.old.on {
		c.old, c.hasOld = prev.agg, hadPrev
	}
	p.ctx.Forward(processor.WithValue(r, c))
	return nil
}

func (p *fkResponseJoiner[K, V, VO, VR]) Close() error { return nil }
