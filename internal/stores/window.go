package stores

import (
	"fmt"
	"iter"
	"time"

	"github.com/samsa-streams/samsa/internal/engine"
	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
)

// WrapWindowStore wraps a bytes window store in a typed one with the given
// serdes, called with the store's name as the topic.
func WrapWindowStore[K, V any](b engine.BytesWindowStore, key serde.Serde[K], value serde.Serde[V]) processor.WindowStore[K, V] {
	return &windowStore[K, V]{b: b, key: key, value: value}
}

type windowStore[K, V any] struct {
	b     engine.BytesWindowStore
	key   serde.Serde[K]
	value serde.Serde[V]
}

// StoreType names the store as its users declared it, for errors.
func (s *windowStore[K, V]) StoreType() string { return TypeName[K, V]("WindowStore") }

func (w *windowStore[K, V]) Name() string { return w.b.Name() }

func (w *windowStore[K, V]) Put(key K, value V, start time.Time) error {
	kb, err := w.key.Serialize(w.b.Name(), key)
	if err != nil {
		return fmt.Errorf("window store %q: serialize key: %w", w.b.Name(), err)
	}
	vb, err := w.value.Serialize(w.b.Name(), value)
	if err != nil {
		return fmt.Errorf("window store %q: serialize value: %w", w.b.Name(), err)
	}
	if vb == nil {
		vb = []byte{} // a value, not a delete
	}
	return w.b.Put(kb, vb, start)
}

// Delete removes key's window starting at start, if there is one.
func (w *windowStore[K, V]) Delete(key K, start time.Time) error {
	kb, err := w.key.Serialize(w.b.Name(), key)
	if err != nil {
		return fmt.Errorf("window store %q: serialize key: %w", w.b.Name(), err)
	}
	return w.b.Put(kb, nil, start)
}

func (w *windowStore[K, V]) Fetch(key K, from, to time.Time) iter.Seq2[processor.Windowed[V], error] {
	return func(yield func(processor.Windowed[V], error) bool) {
		kb, err := w.key.Serialize(w.b.Name(), key)
		if err != nil {
			yield(processor.Windowed[V]{}, fmt.Errorf("window store %q: serialize key: %w", w.b.Name(), err))
			return
		}
		for win, err := range w.b.Fetch(kb, from, to) {
			if err != nil {
				yield(processor.Windowed[V]{}, err)
				return
			}
			v, err := w.value.Deserialize(w.b.Name(), win.Value)
			if err != nil {
				yield(processor.Windowed[V]{}, fmt.Errorf("window store %q: deserialize value: %w", w.b.Name(), err))
				return
			}
			if !yield(processor.Windowed[V]{Start: win.Start, Value: v}, nil) {
				return
			}
		}
	}
}

func (w *windowStore[K, V]) FetchAll(from, to time.Time) iter.Seq2[processor.WindowedKeyValue[K, V], error] {
	return func(yield func(processor.WindowedKeyValue[K, V], error) bool) {
		for win, err := range w.b.FetchAll(from, to) {
			if err != nil {
				yield(processor.WindowedKeyValue[K, V]{}, err)
				return
			}
			k, err := w.key.Deserialize(w.b.Name(), win.Key)
			if err != nil {
				yield(processor.WindowedKeyValue[K, V]{}, fmt.Errorf("window store %q: deserialize key: %w", w.b.Name(), err))
				return
			}
			v, err := w.value.Deserialize(w.b.Name(), win.Value)
			if err != nil {
				yield(processor.WindowedKeyValue[K, V]{}, fmt.Errorf("window store %q: deserialize value: %w", w.b.Name(), err))
				return
			}
			if !yield(processor.WindowedKeyValue[K, V]{Key: k, Start: win.Start, Value: v}, nil) {
				return
			}
		}
	}
}

// WrapSessionStore wraps a bytes session store in a typed one with the
// given serdes, called with the store's name as the topic.
func WrapSessionStore[K, V any](b engine.BytesSessionStore, key serde.Serde[K], value serde.Serde[V]) processor.SessionStore[K, V] {
	return &sessionStore[K, V]{b: b, key: key, value: value}
}

type sessionStore[K, V any] struct {
	b     engine.BytesSessionStore
	key   serde.Serde[K]
	value serde.Serde[V]
}

// StoreType names the store as its users declared it, for errors.
func (s *sessionStore[K, V]) StoreType() string { return TypeName[K, V]("SessionStore") }

func (s *sessionStore[K, V]) Name() string { return s.b.Name() }

func (s *sessionStore[K, V]) raw(sess processor.Session[K]) (processor.Session[[]byte], error) {
	kb, err := s.key.Serialize(s.b.Name(), sess.Key)
	if err != nil {
		return processor.Session[[]byte]{}, fmt.Errorf("session store %q: serialize key: %w", s.b.Name(), err)
	}
	return processor.Session[[]byte]{Key: kb, Start: sess.Start, End: sess.End}, nil
}

func (s *sessionStore[K, V]) Put(sess processor.Session[K], value V) error {
	rs, err := s.raw(sess)
	if err != nil {
		return err
	}
	vb, err := s.value.Serialize(s.b.Name(), value)
	if err != nil {
		return fmt.Errorf("session store %q: serialize value: %w", s.b.Name(), err)
	}
	if vb == nil {
		vb = []byte{} // a value, not a delete
	}
	return s.b.Put(rs, vb)
}

func (s *sessionStore[K, V]) Remove(sess processor.Session[K]) error {
	rs, err := s.raw(sess)
	if err != nil {
		return err
	}
	return s.b.Remove(rs)
}

func (s *sessionStore[K, V]) FindSessions(key K, earliestEnd, latestStart time.Time) iter.Seq2[processor.KeyValue[processor.Session[K], V], error] {
	return func(yield func(processor.KeyValue[processor.Session[K], V], error) bool) {
		kb, err := s.key.Serialize(s.b.Name(), key)
		if err != nil {
			yield(processor.KeyValue[processor.Session[K], V]{}, fmt.Errorf("session store %q: serialize key: %w", s.b.Name(), err))
			return
		}
		for kv, err := range s.b.FindSessions(kb, earliestEnd, latestStart) {
			if err != nil {
				yield(processor.KeyValue[processor.Session[K], V]{}, err)
				return
			}
			v, err := s.value.Deserialize(s.b.Name(), kv.Value)
			if err != nil {
				yield(processor.KeyValue[processor.Session[K], V]{}, fmt.Errorf("session store %q: deserialize value: %w", s.b.Name(), err))
				return
			}
			sess := processor.Session[K]{Key: key, Start: kv.Key.Start, End: kv.Key.End}
			if !yield(processor.KeyValue[processor.Session[K], V]{Key: sess, Value: v}, nil) {
				return
			}
		}
	}
}
