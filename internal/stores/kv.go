package stores

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"reflect"

	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
)

// NewKeyValueStore wraps a bytes store in a typed one with the given serdes.
// The serdes are called with the store's name as the topic.
func NewKeyValueStore[K, V any](raw processor.BytesKeyValueStore, key serde.Serde[K], value serde.Serde[V]) processor.KeyValueStore[K, V] {
	return &typedKV[K, V]{raw: raw, key: key, value: value}
}

type typedKV[K, V any] struct {
	raw   processor.BytesKeyValueStore
	key   serde.Serde[K]
	value serde.Serde[V]
}

func (s *typedKV[K, V]) Name() string { return s.raw.Name() }

// StoreType names the store as its users declared it, for errors.
func (s *typedKV[K, V]) StoreType() string { return TypeName[K, V]("KeyValueStore") }

// TypeName returns kind[K, V] with the Go names of K and V, e.g.
// KeyValueStore[string, int64]: what a typed store says it is in errors.
func TypeName[K, V any](kind string) string {
	return kind + "[" + reflect.TypeFor[K]().String() + ", " + reflect.TypeFor[V]().String() + "]"
}

func (s *typedKV[K, V]) kb(k K) ([]byte, error) {
	b, err := s.key.Serialize(s.raw.Name(), k)
	if err != nil {
		return nil, fmt.Errorf("store %q: serialize key: %w", s.raw.Name(), err)
	}
	return b, nil
}

func (s *typedKV[K, V]) decode(vb []byte) (V, error) {
	v, err := s.value.Deserialize(s.raw.Name(), vb)
	if err != nil {
		return v, fmt.Errorf("store %q: deserialize value: %w", s.raw.Name(), err)
	}
	return v, nil
}

func (s *typedKV[K, V]) Get(key K) (V, bool, error) {
	var zero V
	kb, err := s.kb(key)
	if err != nil {
		return zero, false, err
	}
	vb, ok, err := s.raw.Get(kb)
	if err != nil || !ok {
		return zero, false, err
	}
	v, err := s.decode(vb)
	return v, err == nil, err
}

func (s *typedKV[K, V]) Put(key K, value V) error {
	kb, err := s.kb(key)
	if err != nil {
		return err
	}
	vb, err := s.value.Serialize(s.raw.Name(), value)
	if err != nil {
		return fmt.Errorf("store %q: serialize value: %w", s.raw.Name(), err)
	}
	return s.raw.Put(kb, vb)
}

func (s *typedKV[K, V]) PutIfAbsent(key K, value V) (V, bool, error) {
	old, ok, err := s.Get(key)
	if err != nil || ok {
		return old, ok, err
	}
	return value, false, s.Put(key, value)
}

func (s *typedKV[K, V]) Delete(key K) (V, bool, error) {
	old, ok, err := s.Get(key)
	if err != nil || !ok {
		return old, ok, err
	}
	kb, err := s.kb(key)
	if err != nil {
		return old, ok, err
	}
	return old, true, s.raw.Delete(kb)
}

func (s *typedKV[K, V]) typed(seq iter.Seq2[processor.KeyValue[[]byte, []byte], error]) iter.Seq2[processor.KeyValue[K, V], error] {
	return func(yield func(processor.KeyValue[K, V], error) bool) {
		for kv, err := range seq {
			if err != nil {
				yield(processor.KeyValue[K, V]{}, err)
				return
			}
			k, err := s.key.Deserialize(s.raw.Name(), kv.Key)
			if err != nil {
				yield(processor.KeyValue[K, V]{}, fmt.Errorf("store %q: deserialize key: %w", s.raw.Name(), err))
				return
			}
			v, err := s.decode(kv.Value)
			if err != nil {
				yield(processor.KeyValue[K, V]{}, err)
				return
			}
			if !yield(processor.KeyValue[K, V]{Key: k, Value: v}, nil) {
				return
			}
		}
	}
}

func (s *typedKV[K, V]) Range(from, to K) iter.Seq2[processor.KeyValue[K, V], error] {
	fb, err1 := s.kb(from)
	tb, err2 := s.kb(to)
	if err1 != nil || err2 != nil {
		return errSeq[K, V](errors.Join(err1, err2))
	}
	if bytes.Compare(fb, tb) > 0 {
		return func(func(processor.KeyValue[K, V], error) bool) {}
	}
	return s.typed(s.raw.Range(fb, tb))
}

func (s *typedKV[K, V]) PrefixScan(prefix []byte) iter.Seq2[processor.KeyValue[K, V], error] {
	return s.typed(s.raw.PrefixScan(prefix))
}

func (s *typedKV[K, V]) All() iter.Seq2[processor.KeyValue[K, V], error] {
	return s.typed(s.raw.Range(nil, nil))
}

func (s *typedKV[K, V]) ApproximateCount() (int64, error) { return s.raw.ApproximateCount() }

func errSeq[K, V any](err error) iter.Seq2[processor.KeyValue[K, V], error] {
	return func(yield func(processor.KeyValue[K, V], error) bool) { yield(processor.KeyValue[K, V]{}, err) }
}
