// Package work holds what every Go contender of the benchmark harness
// shares: the per-record work of the two topologies and the flags of a
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
)

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
	StateDir   string
	CPUProfile string
}

// Parse parses the contender flags from args (os.Args[1:]) and checks them.
func Parse(name string, args []string) (Flags, error) {
	var f Flags
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.StringVar(&f.Bootstrap, "bootstrap", "", "Kafka bootstrap servers, comma-separated")
	fs.StringVar(&f.In, "in", "", "input topic")
	fs.StringVar(&f.Out, "out", "", "output topic")
	fs.StringVar(&f.App, "app", "", "application (group) id")
	fs.StringVar(&f.Topology, "topology", Stateless, "stateless or count")
	fs.StringVar(&f.Guarantee, "guarantee", AtLeastOnce, "alos or eos")
	fs.DurationVar(&f.Commit, "commit", 30*time.Second, "commit interval")
	fs.StringVar(&f.StateDir, "state", "", "state directory (samsa)")
	fs.StringVar(&f.CPUProfile, "cpuprofile", "", "write a CPU profile to this file")
	if err := fs.Parse(args); err != nil {
		return f, fmt.Errorf("%s: %w", name, err)
	}
	switch {
	case f.Bootstrap == "" || f.In == "" || f.Out == "" || f.App == "":
		return f, fmt.Errorf("%s: -bootstrap, -in, -out and -app are required", name)
	case f.Topology != Stateless && f.Topology != Count:
		return f, fmt.Errorf("%s: unknown -topology %q", name, f.Topology)
	case f.Guarantee != AtLeastOnce && f.Guarantee != ExactlyOnce:
		return f, fmt.Errorf("%s: unknown -guarantee %q", name, f.Guarantee)
	case f.Commit <= 0:
		return f, fmt.Errorf("%s: -commit must be positive", name)
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
