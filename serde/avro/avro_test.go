package avro_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/serde/avro"
)

const userV1 = `{"type":"record","name":"User","namespace":"com.example","fields":[
 {"name":"id","type":"long"},
 {"name":"name","type":"string"},
 {"name":"email","type":["null","string"],"default":null},
 {"name":"address","type":{"type":"record","name":"Address","fields":[{"name":"city","type":"string"},{"name":"zip","type":"int"}]}},
 {"name":"tags","type":{"type":"array","items":"string"}},
 {"name":"scores","type":{"type":"map","values":"double"}},
 {"name":"avatar","type":"bytes"},
 {"name":"active","type":"boolean"}
]}`

type Address struct {
	City string `avro:"city"`
	Zip  int32  `avro:"zip"`
}

type User struct {
	ID      int64              `avro:"id"`
	Name    string             `avro:"name"`
	Email   *string            `avro:"email"`
	Address Address            `avro:"address"`
	Tags    []string           `avro:"tags"`
	Scores  map[string]float64 `avro:"scores"`
	Avatar  []byte             `avro:"avatar"`
	Active  bool               `avro:"active"`
}

// UserV2 is a reader that knows a field the writer did not have and lacks
// one the writer had.
type UserV2 struct {
	ID      int64   `avro:"id"`
	Name    string  `avro:"name"`
	Email   *string `avro:"email"`
	Country string  `avro:"country"`
}

// countingRegistry wraps srfake and counts requests; down makes it answer 503.
type countingRegistry struct {
	reg      *srfake.Registry
	srv      *httptest.Server
	requests atomic.Int64
	down     atomic.Int64 // answer 503 to this many more requests
}

func newRegistry(t *testing.T) (*countingRegistry, *sr.Client) {
	t.Helper()
	c := &countingRegistry{reg: srfake.New()}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.requests.Add(1)
		if c.down.Load() > 0 {
			c.down.Add(-1)
			http.Error(w, `{"error_code":50301,"message":"down"}`, http.StatusServiceUnavailable)
			return
		}
		req, _ := http.NewRequest(r.Method, c.reg.URL()+r.URL.Path, r.Body)
		req.Header = r.Header
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			w.Write(buf[:n])
			if err != nil {
				break
			}
		}
	}))
	t.Cleanup(func() { c.srv.Close(); c.reg.Close() })
	cl, err := sr.NewClient(sr.URLs(c.srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	return c, cl
}

func sample() User {
	e := "ann@example.com"
	return User{ID: 7, Name: "Ann", Email: &e, Address: Address{City: "Prague", Zip: 11000},
		Tags: []string{"a", "b"}, Scores: map[string]float64{"x": 1.5}, Avatar: []byte{1, 2}, Active: true}
}

func TestRoundTripAndCaching(t *testing.T) {
	reg, cl := newRegistry(t)
	s, err := avro.New[User](avro.Config{Client: cl, Schema: userV1})
	if err != nil {
		t.Fatal(err)
	}
	u := sample()
	b, err := s.Serialize("users", u)
	if err != nil {
		t.Fatal(err)
	}
	id, _, err := avro.ParseWireFormat(b)
	if err != nil || b[0] != 0 || id <= 0 {
		t.Fatalf("wire format: % x, id %d, %v", b[:5], id, err)
	}
	before := reg.requests.Load()
	for range 10 {
		if _, err := s.Serialize("users", u); err != nil {
			t.Fatal(err)
		}
	}
	if n := reg.requests.Load() - before; n != 0 {
		t.Fatalf("%d registry requests for cached serializations, want 0", n)
	}
	// A fresh serde decodes with the writer schema fetched by id, once.
	d, _ := avro.New[User](avro.Config{Client: cl, Schema: userV1})
	before = reg.requests.Load()
	for range 5 {
		got, err := d.Deserialize("users", b)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "Ann" || *got.Email != "ann@example.com" || got.Address.City != "Prague" || got.Tags[1] != "b" || got.Scores["x"] != 1.5 || !got.Active || got.Avatar[1] != 2 {
			t.Fatalf("round trip: %+v", got)
		}
	}
	if n := reg.requests.Load() - before; n != 1 {
		t.Fatalf("%d registry requests for 5 decodes, want 1 (the schema by id)", n)
	}
	// A nil union member.
	u.Email = nil
	b, _ = s.Serialize("users", u)
	if got, err := d.Deserialize("users", b); err != nil || got.Email != nil {
		t.Fatalf("null email: %+v %v", got, err)
	}
	// A reader with other fields: known ones filled, new ones zero.
	r2, _ := avro.New[UserV2](avro.Config{Client: cl, Schema: userV1})
	got2, err := r2.Deserialize("users", b)
	if err != nil || got2.Name != "Ann" || got2.Country != "" {
		t.Fatalf("evolved reader: %+v %v", got2, err)
	}
	// Generic records.
	g, _ := avro.New[map[string]any](avro.Config{Client: cl, Schema: userV1})
	m, err := g.Deserialize("users", b)
	if err != nil || m["name"] != "Ann" {
		t.Fatalf("generic: %v %v", m, err)
	}
}

func TestSubjectNames(t *testing.T) {
	_, cl := newRegistry(t)
	for _, c := range []struct {
		cfg  avro.Config
		want string
	}{
		{avro.Config{Client: cl, Schema: userV1}, "users-value"},
		{avro.Config{Client: cl, Schema: userV1, Key: true}, "users-key"},
		{avro.Config{Client: cl, Schema: userV1, Subject: avro.RecordName}, "com.example.User"},
		{avro.Config{Client: cl, Schema: userV1, Subject: avro.TopicRecordName}, "users-com.example.User"},
	} {
		s, _ := avro.New[User](c.cfg)
		if _, err := s.Serialize("users", sample()); err != nil {
			t.Fatal(err)
		}
		subjects, err := cl.Subjects(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.Join(subjects, ","), c.want) {
			t.Errorf("subjects %v lack %s", subjects, c.want)
		}
	}
}

func TestBadPayloads(t *testing.T) {
	_, cl := newRegistry(t)
	s, _ := avro.New[User](avro.Config{Client: cl, Schema: userV1})
	good, _ := s.Serialize("users", sample())
	cases := map[string][]byte{
		"unknown schema id": append([]byte{0, 0, 0, 0x30, 0x39}, good[5:]...),
		"truncated":         good[:len(good)-3],
		"no magic byte":     append([]byte{1}, good[1:]...),
		"too short":         {0, 0},
		"trailing bytes":    append(append([]byte{}, good...), 9, 9),
	}
	for name, b := range cases {
		_, err := s.Deserialize("users", b)
		if !errors.Is(err, serde.ErrDeserialize) || errors.Is(err, serde.ErrUnavailable) {
			t.Errorf("%s: %v, want ErrDeserialize", name, err)
		}
		if name == "unknown schema id" && !strings.Contains(err.Error(), "unknown schema id 12345") {
			t.Errorf("unknown id error does not name the id: %v", err)
		}
	}
}

func TestRegistryDown(t *testing.T) {
	reg, cl := newRegistry(t)
	s, _ := avro.New[User](avro.Config{Client: cl, Schema: userV1, Timeout: 2 * time.Second})
	good, _ := s.Serialize("users", sample())
	d, _ := avro.New[User](avro.Config{Client: cl, Schema: userV1, Timeout: 2 * time.Second})
	reg.down.Store(1000)
	_, err := d.Deserialize("users", good)
	if !errors.Is(err, avro.ErrRegistryUnavailable) || !errors.Is(err, serde.ErrUnavailable) || errors.Is(err, serde.ErrDeserialize) {
		t.Fatalf("registry down: %v, want ErrRegistryUnavailable and not ErrDeserialize", err)
	}
	reg.down.Store(0)
	if _, err := d.Deserialize("users", good); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	// Closed entirely.
	closed, _ := sr.NewClient(sr.URLs("http://127.0.0.1:1"))
	c, _ := avro.New[User](avro.Config{Client: closed, Schema: userV1, Timeout: time.Second})
	if _, err := c.Deserialize("users", good); !errors.Is(err, avro.ErrRegistryUnavailable) {
		t.Fatalf("unreachable: %v", err)
	}
	if _, err := c.Serialize("users", sample()); !errors.Is(err, serde.ErrUnavailable) {
		t.Fatalf("unreachable on serialize: %v", err)
	}
}

func FuzzParseWireFormat(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 1, 2, 3})
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		id, p, err := avro.ParseWireFormat(b)
		if err == nil {
			if got := append(avro.AppendWireHeader(nil, id), p...); string(got) != string(b) {
				t.Fatalf("% x → % x", b, got)
			}
		}
	})
}

func FuzzDeserialize(f *testing.F) {
	reg := srfake.New()
	defer reg.Close()
	cl, _ := sr.NewClient(sr.URLs(reg.URL()))
	s, err := avro.New[User](avro.Config{Client: cl, Schema: userV1})
	if err != nil {
		f.Fatal(err)
	}
	good, err := s.Serialize("users", sample())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:7])
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = s.Deserialize("users", b)
	})
}
