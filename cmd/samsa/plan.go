package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Measured figures that plan uses as its basis (docs/benchmarks.md).
const (
	// measuredRestoreRate is the median restore rate of a 1,000,000-key
	// changelog by a fresh instance (records/s).
	measuredRestoreRate = 970_000
	// measuredBytesPerKey is Pebble's bytes on disk per key, write-ahead log
	// included, for 12-byte keys and 100-byte values.
	measuredBytesPerKey = 181.5
	// perKeyOverhead is what Pebble adds to a key and its value on disk:
	// 181.5 - (12 + 100) bytes.
	perKeyOverhead = measuredBytesPerKey - (12 + 100)
	// windowKeyOverhead is what a window store adds to each key: an 8-byte
	// segment id, a 4-byte key length and the 8-byte window start
	// (changelog/window.go).
	windowKeyOverhead = 20
	// secondsPerDay converts events/day into events/s.
	secondsPerDay = 86_400
	// megabyte is the SI megabyte the plan counts in.
	megabyte = 1e6
)

// planInput is what `samsa plan` is given.
type planInput struct {
	EventsPerDay  float64
	EventBytes    float64
	Peak          float64
	PartitionMBps float64
	HeadroomPct   float64
	Keys          float64
	KeyBytes      float64
	ValueBytes    float64 // < 0: the event size
	Instances     int
	Window        time.Duration
	Lateness      time.Duration
	RestoreRate   float64
}

// planOutput is what `samsa plan` computes from a planInput.
type planOutput struct {
	AvgEventsPerSec  float64
	PeakEventsPerSec float64
	AvgMBps          float64
	PeakMBps         float64
	Partitions       int
	WindowsPerKey    int     // 1 without a window
	StateRecords     float64 // keys × windows per key
	StoredKeyBytes   float64 // key bytes as stored (with the window key overhead)
	ValueBytes       float64
	StateBytes       float64 // on disk, all instances
	StateBytesPerIns float64
	ChangelogBytes   float64 // compacted, all partitions
	RecordsPerIns    float64
	RestorePerIns    time.Duration
}

// computePlan applies the formulas documented in planHelp.
func computePlan(in planInput) planOutput {
	var out planOutput
	out.AvgEventsPerSec = in.EventsPerDay / secondsPerDay
	out.PeakEventsPerSec = out.AvgEventsPerSec * in.Peak
	out.AvgMBps = out.AvgEventsPerSec * in.EventBytes / megabyte
	out.PeakMBps = out.PeakEventsPerSec * in.EventBytes / megabyte
	// The small tolerance keeps 578.7036… / 10 × 1.00 from becoming 58.000001
	// through rounding and a ceiling of 59.
	need := out.PeakMBps * (1 + in.HeadroomPct/100) / in.PartitionMBps
	out.Partitions = int(math.Ceil(need - 1e-9))
	out.Partitions = max(out.Partitions, 1)

	out.WindowsPerKey = 1
	out.StoredKeyBytes = in.KeyBytes
	if in.Window > 0 {
		out.WindowsPerKey = int(math.Ceil(float64(in.Window+in.Lateness)/float64(in.Window) - 1e-9))
		out.StoredKeyBytes += windowKeyOverhead
	}
	out.ValueBytes = in.ValueBytes
	if out.ValueBytes < 0 {
		out.ValueBytes = in.EventBytes
	}
	out.StateRecords = in.Keys * float64(out.WindowsPerKey)
	out.StateBytes = out.StateRecords * (out.StoredKeyBytes + out.ValueBytes + perKeyOverhead)
	out.StateBytesPerIns = out.StateBytes / float64(in.Instances)
	out.ChangelogBytes = out.StateRecords * (out.StoredKeyBytes + out.ValueBytes)
	out.RecordsPerIns = out.StateRecords / float64(in.Instances)
	out.RestorePerIns = time.Duration(out.RecordsPerIns / in.RestoreRate * float64(time.Second)).Round(100 * time.Millisecond)
	return out
}

const planHelp = `usage: samsa plan --events-per-day N [flags]

Capacity planning for one samsa application: input rates, partitions, local
state, changelog size and restore time. Units are SI: 1 MB = 10^6 bytes,
1 GB = 10^9 bytes.

Formulas:
  events/s average    = events-per-day / 86,400
  events/s peak       = events/s average × peak
  MB/s                = events/s × event-bytes / 10^6
  partitions          = ceil(peak MB/s × (1 + headroom/100) / partition-mbps)
  windows per key     = 1, or with --window: ceil((window + lateness) / window),
                        the most windows of one key still open or accepting
                        late records at once (tumbling windows)
  state records       = keys × windows per key
  stored key          = key-bytes, + 20 in a window store (segment id,
                        key length, window start)
  state on disk       = state records × (stored key + value-bytes + 69.5),
                        69.5 bytes being Pebble's overhead per key: 181.5
                        bytes on disk per key measured for 12-byte keys and
                        100-byte random values, minus those 112 bytes
                        (docs/benchmarks.md, write-ahead log included)
  changelog (compact) = state records × (stored key + value-bytes)
  per instance        = total / instances
  restore time        = state records per instance / restore-rate

Example (the classic one): samsa plan --events-per-day 10e9 --event-bytes 1000 --peak 5
  → 115,741 events/s average, 578,704/s peak, 578.7 MB/s peak, 58 partitions.

Flags:
`

// plan prints a capacity plan.
func plan(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("plan", stderr)
	var in planInput
	fs.Float64Var(&in.EventsPerDay, "events-per-day", 0, "input events per day, e.g. 10e9 (required)")
	fs.Float64Var(&in.EventBytes, "event-bytes", 1000, "bytes per input event (key + value as produced)")
	fs.Float64Var(&in.Peak, "peak", 1, "peak factor: peak rate / average rate (≥ 1)")
	fs.Float64Var(&in.PartitionMBps, "partition-mbps", 10, "throughput one partition sustains, MB/s")
	fs.Float64Var(&in.HeadroomPct, "headroom", 0, "extra partition capacity above the peak, percent (default 0: the partitions just cover the peak)")
	fs.Float64Var(&in.Keys, "keys", 0, "key cardinality of the state store: distinct keys (per window with --window) (default 0: no state)")
	fs.Float64Var(&in.KeyBytes, "key-bytes", 16, "bytes per state key")
	in.ValueBytes = -1
	fs.Var(&optFloat{p: &in.ValueBytes}, "value-bytes", "bytes per state value, a `float` (default: --event-bytes)")
	fs.IntVar(&in.Instances, "instances", 1, "application instances sharing the state")
	fs.DurationVar(&in.Window, "window", 0, "window length of a windowed store, e.g. 1h (default 0: a key-value store)")
	fs.DurationVar(&in.Lateness, "lateness", 0, "allowed lateness (grace) of the windows, e.g. 10m (default 0)")
	fs.Float64Var(&in.RestoreRate, "restore-rate", measuredRestoreRate,
		"restore rate, records/s; the default is the median measured for a 1,000,000-key changelog, 970,000/s (docs/benchmarks.md)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), planHelp)
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkPlan(fs, in); err != nil {
		return err
	}
	writePlan(stdout, in, computePlan(in))
	return nil
}

// optFloat is a float flag with no default: while unset, its variable keeps
// the value it had and the help prints no default.
type optFloat struct {
	p   *float64
	set bool
}

func (f *optFloat) String() string {
	if f == nil || f.p == nil || !f.set {
		return ""
	}
	return trimFloat(*f.p)
}

func (f *optFloat) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("parse error: %w", err)
	}
	*f.p, f.set = v, true
	return nil
}

// checkPlan reports the first flag whose value makes no plan.
func checkPlan(fs *flag.FlagSet, in planInput) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	bad := func(name, want string) error {
		return fmt.Errorf("%w: --%s must be %s, got %s", errUsage, name, want, fs.Lookup(name).Value.String())
	}
	positive := func(v float64) bool { return v > 0 && !math.IsInf(v, 0) && !math.IsNaN(v) }
	nonNegative := func(v float64) bool { return v >= 0 && !math.IsInf(v, 0) && !math.IsNaN(v) }
	switch {
	case !set["events-per-day"]:
		return fmt.Errorf("%w: --events-per-day is required", errUsage)
	case !positive(in.EventsPerDay):
		return bad("events-per-day", "> 0")
	case !positive(in.EventBytes):
		return bad("event-bytes", "> 0")
	case !(in.Peak >= 1) || math.IsInf(in.Peak, 0):
		return bad("peak", "≥ 1")
	case !positive(in.PartitionMBps):
		return bad("partition-mbps", "> 0")
	case !nonNegative(in.HeadroomPct):
		return bad("headroom", "≥ 0 (percent)")
	case !nonNegative(in.Keys):
		return bad("keys", "≥ 0")
	case !nonNegative(in.KeyBytes):
		return bad("key-bytes", "≥ 0")
	case set["value-bytes"] && !nonNegative(in.ValueBytes):
		return bad("value-bytes", "≥ 0")
	case in.Instances < 1:
		return bad("instances", "≥ 1")
	case in.Window < 0:
		return bad("window", "≥ 0")
	case in.Lateness < 0:
		return bad("lateness", "≥ 0")
	case in.Lateness > 0 && in.Window == 0:
		return fmt.Errorf("%w: --lateness needs --window", errUsage)
	case !positive(in.RestoreRate):
		return bad("restore-rate", "> 0")
	}
	return nil
}

// writePlan prints the plan as a table.
func writePlan(w io.Writer, in planInput, p planOutput) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "capacity plan (SI units: 1 MB = 10^6 bytes)")
	fmt.Fprintln(tw, "input\t\t")
	fmt.Fprintf(tw, "  events/s average\t%s\t%s events/day / 86,400\n", thousands(p.AvgEventsPerSec), thousands(in.EventsPerDay))
	fmt.Fprintf(tw, "  events/s peak\t%s\t× %s peak\n", thousands(p.PeakEventsPerSec), trimFloat(in.Peak))
	fmt.Fprintf(tw, "  MB/s average\t%.1f\t× %s bytes/event\n", p.AvgMBps, trimFloat(in.EventBytes))
	fmt.Fprintf(tw, "  MB/s peak\t%.1f\t\n", p.PeakMBps)
	fmt.Fprintf(tw, "  partitions\t%d\tceil(%.1f MB/s peak × (1 + %s%% headroom) / %s MB/s per partition)\n",
		p.Partitions, p.PeakMBps, trimFloat(in.HeadroomPct), trimFloat(in.PartitionMBps))
	if in.Keys == 0 {
		_ = tw.Flush()
		fmt.Fprintln(w, "state: none (give --keys for state, changelog and restore time)")
		return
	}
	fmt.Fprintln(tw, "state\t\t")
	how := "a key-value store"
	if in.Window > 0 {
		how = fmt.Sprintf("ceil((%s + %s lateness) / %s)", in.Window, in.Lateness, in.Window)
	}
	fmt.Fprintf(tw, "  windows per key\t%d\t%s\n", p.WindowsPerKey, how)
	fmt.Fprintf(tw, "  state records\t%s\t%s keys × %d\n", thousands(p.StateRecords), thousands(in.Keys), p.WindowsPerKey)
	fmt.Fprintf(tw, "  bytes per record on disk\t%s\t%s key + %s value + %s Pebble overhead\n",
		trimFloat(p.StoredKeyBytes+p.ValueBytes+perKeyOverhead), trimFloat(p.StoredKeyBytes), trimFloat(p.ValueBytes), trimFloat(perKeyOverhead))
	fmt.Fprintf(tw, "  state on disk, total\t%s\t\n", siBytes(p.StateBytes))
	fmt.Fprintf(tw, "  state on disk, per instance\t%s\t/ %d instance(s)\n", siBytes(p.StateBytesPerIns), in.Instances)
	fmt.Fprintf(tw, "  changelog, compacted\t%s\tstate records × (key + value)\n", siBytes(p.ChangelogBytes))
	fmt.Fprintf(tw, "  restore time per instance\t%s\t%s records at %s records/s\n",
		p.RestorePerIns, thousands(p.RecordsPerIns), thousands(in.RestoreRate))
	_ = tw.Flush()
}

// thousands formats v rounded to an integer with comma separators.
func thousands(v float64) string {
	s := strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// trimFloat formats v with no trailing zeros.
func trimFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// siBytes formats a byte count in SI units with about three significant
// figures.
func siBytes(v float64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB"}
	i := 0
	for v >= 1000 && i < len(units)-1 {
		v /= 1000
		i++
	}
	switch {
	case i == 0 || v >= 100:
		return fmt.Sprintf("%.0f %s", v, units[i])
	case v >= 10:
		return fmt.Sprintf("%.1f %s", v, units[i])
	}
	return fmt.Sprintf("%.2f %s", v, units[i])
}
