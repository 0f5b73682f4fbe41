// Package work holds what every Go contender of the benchmark harness
// shares: the per-record work of the topologies and the flags of a
// contender process, so that the raw loop and samsa do the same thing to
// every record.
package work

import (
	"bytes"
	"flag"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Topologies the harness runs.
const (
	// Stateless is map (upper-case the value) then filter (drop values
	// whose first byte is '0').
	Stateless = "stateless"
	// Count counts records per key and writes every updated count as an
	// 8-byte big-endian int64.
	Count = "count"
	// GroupByCount re-keys every record with GroupKey and counts per new
	// key through a repartition topic, written as Count's.
	GroupByCount = "groupby-count"
	// WindowCount counts records per key and 1-minute tumbling window
	// (event time, no grace) and writes every updated count keyed by the
	// key's bytes then the window start as 8 bytes of big-endian
	// milliseconds (Kafka Streams' time-windowed key format).
	WindowCount = "window-count"
	// Join left-joins the stream with the table read from -table and
	// writes Joined(value, table value, found).
	Join = "join"
)

// Window is the size of WindowCount's tumbling windows.
const Window = time.Minute

// GroupKey is GroupByCount's new key of key: the key without its last
// character, its first character made 'g' ("k0001234" → "g000123"): ten
// input keys per new key.
func GroupKey(key []byte) []byte {
	if len(key) < 2 {
		return []byte("g")
	}
	out := make([]byte, len(key)-1)
	copy(out, key[:len(key)-1])
	out[0] = 'g'
	return out
}

// GroupKeyString is GroupKey for strings (a new string).
func GroupKeyString(key string) string {
	if len(key) < 2 {
		return "g"
	}
	return "g" + key[1:len(key)-1]
}

// joinedPrefix is how much of the stream value Joined keeps.
const joinedPrefix = 10

// Joined is Join's output value: the table value ("-" when the key is not
// in the table), '|', then the stream value's first 10 bytes.
func Joined(v, tv []byte, found bool) []byte {
	if !found {
		tv = []byte("-")
	}
	out := make([]byte, 0, len(tv)+1+joinedPrefix)
	out = append(out, tv...)
	out = append(out, '|')
	return append(out, v[:min(len(v), joinedPrefix)]...)
}

// JoinedString is Joined for strings.
func JoinedString(v, tv string, found bool) string {
	if !found {
		tv = "-"
	}
	return tv + "|" + v[:min(len(v), joinedPrefix)]
}

// Guarantees the harness runs.
const (
	// AtLeastOnce is the at-least-once processing guarantee.
	AtLeastOnce = "alos"
	// ExactlyOnce is the exactly-once processing guarantee (transactions).
	ExactlyOnce = "eos"
)

// Flags are the command-line flags of a contender process.
type Flags struct {
	Bootstrap  string
	In, Out    string
	App        string
	Topology   string
	Guarantee  string
	Commit     time.Duration
	Table      string
	StateDir   string
	CPUProfile string
	// Session is the group's session timeout (0: the contender's default).
	Session time.Duration
}

// Parse parses the contender flags from args (os.Args[1:]) and checks them.
func Parse(name string, args []string) (Flags, error) {
	var f Flags
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.StringVar(&f.Bootstrap, "bootstrap", "", "Kafka bootstrap servers, comma-separated")
	fs.StringVar(&f.In, "in", "", "input topic")
	fs.StringVar(&f.Out, "out", "", "output topic")
	fs.StringVar(&f.App, "app", "", "application (group) id")
	fs.StringVar(&f.Table, "table", "", "table topic (join)")
	fs.StringVar(&f.Topology, "topology", Stateless, "stateless, count, groupby-count, window-count or join")
	fs.StringVar(&f.Guarantee, "guarantee", AtLeastOnce, "alos or eos")
	fs.DurationVar(&f.Commit, "commit", 30*time.Second, "commit interval")
	fs.StringVar(&f.StateDir, "state", "", "state directory (samsa)")
	fs.StringVar(&f.CPUProfile, "cpuprofile", "", "write a CPU profile to this file")
	fs.DurationVar(&f.Session, "session", 0, "group session timeout (0: the contender's default)")
	if err := fs.Parse(args); err != nil {
		return f, fmt.Errorf("%s: %w", name, err)
	}
	switch {
	case f.Bootstrap == "" || f.In == "" || f.Out == "" || f.App == "":
		return f, fmt.Errorf("%s: -bootstrap, -in, -out and -app are required", name)
	case f.Topology != Stateless && f.Topology != Count && f.Topology != GroupByCount && f.Topology != WindowCount && f.Topology != Join:
		return f, fmt.Errorf("%s: unknown -topology %q", name, f.Topology)
	case f.Topology == Join && f.Table == "":
		return f, fmt.Errorf("%s: -topology join needs -table", name)
	case f.Guarantee != AtLeastOnce && f.Guarantee != ExactlyOnce:
		return f, fmt.Errorf("%s: unknown -guarantee %q", name, f.Guarantee)
	case f.Commit <= 0:
		return f, fmt.Errorf("%s: -commit must be positive", name)
	case f.Session < 0:
		return f, fmt.Errorf("%s: -session must not be negative", name)
	}
	return f, nil
}

// Brokers splits the bootstrap flag.
func (f Flags) Brokers() []string { return strings.Split(f.Bootstrap, ",") }

// MapBytes is the stateless map: the value upper-cased (a new slice).
func MapBytes(v []byte) []byte { return bytes.ToUpper(v) }

// MapString is MapBytes for strings.
func MapString(v string) string { return strings.ToUpper(v) }

// Keep is the stateless filter: values whose first byte is '0' are dropped.
func Keep(v []byte) bool { return len(v) > 0 && v[0] != '0' }

// KeepString is Keep for strings.
func KeepString(v string) bool { return len(v) > 0 && v[0] != '0' }

// FirstErr keeps the first error of a produce promise; its zero value is
// ready to use and safe for concurrent use.
type FirstErr struct {
	mu  sync.Mutex
	err error
}

// Set is a produce promise: it keeps err if it is the first error.
func (e *FirstErr) Set(_ *kgo.Record, err error) {
	if err == nil {
		return
	}
	e.mu.Lock()
	if e.err == nil {
		e.err = err
	}
	e.mu.Unlock()
}

// Get returns the first error kept, or nil.
func (e *FirstErr) Get() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}
