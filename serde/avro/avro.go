package avro

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"sync"
	"time"

	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/samsa-streams/samsa/serde"
)

// ErrRegistryUnavailable wraps a Schema Registry that could not be reached
// or answered with a server error. It does not wrap serde.ErrDeserialize:
// the record is fine, the runtime retries it with backoff.
var ErrRegistryUnavailable = fmt.Errorf("avro: schema registry unavailable: %w", serde.ErrUnavailable)

// SubjectNameStrategy names the subject a schema is registered under.
type SubjectNameStrategy int

const (
	// TopicName is <topic>-value (or -key): the default.
	TopicName SubjectNameStrategy = iota
	// RecordName is the record's full name.
	RecordName
	// TopicRecordName is <topic>-<record full name>.
	TopicRecordName
)

// Config configures an Avro serde.
type Config struct {
	// Client talks to the Schema Registry. Required.
	Client *sr.Client
	// Schema is the writer schema (Avro JSON) used by Serialize. Required.
	Schema string
	// Subject chooses the subject naming strategy; default TopicName.
	Subject SubjectNameStrategy
	// Key makes the serde a key serde (subject <topic>-key).
	Key bool
	// Timeout bounds each registry call; default 10s.
	Timeout time.Duration
}

// Serde is the Avro serde of T. T is a struct with `avro:"name"` tags (json
// tags and field names also work), or map[string]any for generic records.
type Serde[T any] struct {
	cfg    Config
	codec  *goavro.Codec
	schema *schema
	record string // full name of the writer schema's record

	mu    sync.RWMutex
	ids   map[string]int        // subject → schema id
	byID  map[int]*goavro.Codec // writer codecs by id
	trees map[int]*schema       // writer schemas by id
}

// New returns an Avro serde; it checks the writer schema but does not call
// the registry: the first Serialize registers the schema.
func New[T any](cfg Config) (*Serde[T], error) {
	if cfg.Client == nil {
		return nil, errors.New("avro: Config.Client is nil")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	codec, err := goavro.NewCodec(cfg.Schema)
	if err != nil {
		return nil, fmt.Errorf("avro: invalid schema: %w", err)
	}
	tree, err := parseSchema(cfg.Schema)
	if err != nil {
		return nil, err
	}
	s := &Serde[T]{cfg: cfg, codec: codec, schema: tree, ids: map[string]int{}, byID: map[int]*goavro.Codec{}, trees: map[int]*schema{}}
	s.record = tree.branchName(tree.resolve(tree.root))
	return s, nil
}

func (s *Serde[T]) subject(topic string) string {
	suffix := "-value"
	if s.cfg.Key {
		suffix = "-key"
	}
	switch s.cfg.Subject {
	case RecordName:
		return s.record
	case TopicRecordName:
		return topic + "-" + s.record
	}
	return topic + suffix
}

// registryErr classifies a registry error: not found is bad data, the rest
// is an outage to retry.
func registryErr(err error) (notFound bool, wrapped error) {
	var re *sr.ResponseError
	if errors.As(err, &re) && (re.StatusCode == http.StatusNotFound || re.ErrorCode == 40403) {
		return true, err
	}
	if errors.As(err, &re) && re.StatusCode >= 400 && re.StatusCode < 500 {
		return false, err // a client error: not transient either
	}
	return false, fmt.Errorf("%w: %w", ErrRegistryUnavailable, err)
}

func (s *Serde[T]) id(topic string) (int, error) {
	subject := s.subject(topic)
	s.mu.RLock()
	id, ok := s.ids[subject]
	s.mu.RUnlock()
	if ok {
		return id, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
	defer cancel()
	ss, err := s.cfg.Client.CreateSchema(ctx, subject, sr.Schema{Schema: s.cfg.Schema, Type: sr.TypeAvro})
	if err != nil {
		_, werr := registryErr(err)
		return 0, fmt.Errorf("%w: avro: register the schema under subject %q: %w", serde.ErrSerialize, subject, werr)
	}
	s.mu.Lock()
	s.ids[subject] = ss.ID
	s.byID[ss.ID] = s.codec
	s.trees[ss.ID] = s.schema
	s.mu.Unlock()
	return ss.ID, nil
}

// Serialize encodes v in the Confluent wire format, registering the writer
// schema under the subject on first use (then cached).
func (s *Serde[T]) Serialize(topic string, v T) ([]byte, error) {
	id, err := s.id(topic)
	if err != nil {
		return nil, err
	}
	native, err := s.schema.toNative(s.schema.root, reflect.ValueOf(v))
	if err != nil {
		return nil, fmt.Errorf("%w: avro for topic %q: %w", serde.ErrSerialize, topic, err)
	}
	out, err := s.codec.BinaryFromNative(AppendWireHeader(make([]byte, 0, 64), id), native)
	if err != nil {
		return nil, fmt.Errorf("%w: avro for topic %q: %w", serde.ErrSerialize, topic, err)
	}
	return out, nil
}

// writer returns the codec and schema of a schema id, fetched once.
func (s *Serde[T]) writer(topic string, id int) (*goavro.Codec, *schema, error) {
	s.mu.RLock()
	c, t := s.byID[id], s.trees[id]
	s.mu.RUnlock()
	if c != nil {
		return c, t, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
	defer cancel()
	sch, err := s.cfg.Client.SchemaByID(ctx, id)
	if err != nil {
		notFound, werr := registryErr(err)
		if notFound {
			return nil, nil, fmt.Errorf("%w: avro: unknown schema id %d in a record of topic %q: %w", serde.ErrDeserialize, id, topic, err)
		}
		return nil, nil, fmt.Errorf("avro: fetch schema id %d for topic %q: %w", id, topic, werr)
	}
	c, err = goavro.NewCodec(sch.Schema)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: avro: schema id %d is invalid: %w", serde.ErrDeserialize, id, err)
	}
	if t, err = parseSchema(sch.Schema); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", serde.ErrDeserialize, err)
	}
	s.mu.Lock()
	s.byID[id], s.trees[id] = c, t
	s.mu.Unlock()
	return c, t, nil
}

// Deserialize decodes with the writer's schema, fetched by the id in the
// payload, and maps the record onto T. A nil payload is a zero T.
func (s *Serde[T]) Deserialize(topic string, data []byte) (T, error) {
	var v T
	if data == nil {
		return v, nil
	}
	id, payload, err := ParseWireFormat(data)
	if err != nil {
		return v, fmt.Errorf("topic %q: %w", topic, err)
	}
	codec, tree, err := s.writer(topic, id)
	if err != nil {
		return v, err
	}
	native, rest, err := codec.NativeFromBinary(payload)
	if err != nil {
		return v, fmt.Errorf("%w: avro from topic %q (schema id %d): %w", serde.ErrDeserialize, topic, id, err)
	}
	if len(rest) > 0 {
		return v, fmt.Errorf("%w: avro from topic %q (schema id %d): %d trailing bytes", serde.ErrDeserialize, topic, id, len(rest))
	}
	if err := tree.fromNative(tree.root, native, reflect.ValueOf(&v).Elem()); err != nil {
		return v, fmt.Errorf("%w: avro from topic %q (schema id %d): %w", serde.ErrDeserialize, topic, id, err)
	}
	return v, nil
}
