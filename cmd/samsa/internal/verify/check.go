package verify

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa"
	"github.com/samsa-streams/samsa/serde"
)

// Input is one input record the broker acknowledged.
type Input struct {
	Partition int32
	Offset    int64
	Key       string
	Value     string
	Timestamp time.Time
}

// Number returns the number the record's value carries.
func (in Input) Number() int64 { return Number(in.Value) }

// maxProblems bounds the problems listed per check; the counts stay exact.
const maxProblems = 8

type problems struct {
	list    []string
	dropped int
}

func (p *problems) addf(format string, args ...any) {
	if len(p.list) >= maxProblems {
		p.dropped++
		return
	}
	p.list = append(p.list, fmt.Sprintf(format, args...))
}

func byPartition(inputs []Input) map[int32][]Input {
	m := map[int32][]Input{}
	for _, in := range inputs {
		m[in.Partition] = append(m[in.Partition], in)
	}
	for _, ins := range m {
		slices.SortFunc(ins, func(a, b Input) int { return int(a.Offset - b.Offset) })
	}
	return m
}

// EchoReport is what the echo check found.
type EchoReport struct {
	Echo       int // records in the echo topic
	Lost       int // inputs expected in the echo but absent
	Duplicates int // echo records beyond one per input
	WrongParts int // partitions whose echo differs from their input
}

// CheckEcho checks that every input but those excluded appears in the echo
// topic once, as EchoValue of its value, in input order per partition.
func CheckEcho(inputs []Input, echo map[int32][]*kgo.Record, exclude func(Input) bool, p *problems) EchoReport {
	var rep EchoReport
	want := map[int32][]Input{}
	for part, ins := range byPartition(inputs) {
		for _, in := range ins {
			if exclude == nil || !exclude(in) {
				want[part] = append(want[part], in)
			}
		}
	}
	seen := map[string]int{}
	parts := map[int32]bool{}
	for part := range echo {
		parts[part] = true
	}
	for part := range want {
		parts[part] = true
	}
	for part := range parts {
		recs, w := echo[part], want[part]
		rep.Echo += len(recs)
		for _, r := range recs {
			seen[string(r.Key)+"\x00"+string(r.Value)]++
		}
		same := len(recs) == len(w)
		first := -1
		for i := 0; i < min(len(recs), len(w)); i++ {
			if string(recs[i].Key) != w[i].Key || string(recs[i].Value) != EchoValue(w[i].Value) {
				same, first = false, i
				break
			}
		}
		if !same {
			rep.WrongParts++
			if first < 0 {
				first = min(len(recs), len(w))
			}
			p.addf("echo partition %d differs from its input: %d records for %d inputs, first difference at index %d", part, len(recs), len(w), first)
		}
	}
	for _, ins := range want {
		for _, in := range ins {
			k := in.Key + "\x00" + EchoValue(in.Value)
			switch n := seen[k]; {
			case n == 0:
				rep.Lost++
				p.addf("input at partition %d offset %d (value %.20q) is missing from the echo", in.Partition, in.Offset, in.Value)
			case n > 1:
				rep.Duplicates += n - 1
			}
			delete(seen, k)
		}
	}
	for _, n := range seen {
		rep.Duplicates += n // echo records of no expected input
	}
	return rep
}

// CheckAggregate checks the last value per key of an aggregate topic against
// want and returns the number of updates and of wrong keys.
func CheckAggregate(topic string, recs map[int32][]*kgo.Record, want map[string]CountSum, p *problems) (updates, wrong int) {
	last := map[string]CountSum{}
	for _, rs := range recs {
		for _, r := range rs {
			cs, err := serde.JSON[CountSum]().Deserialize(topic, r.Value)
			if err != nil {
				wrong++
				p.addf("%s: undecodable record at partition %d offset %d: %v", topic, r.Partition, r.Offset, err)
				continue
			}
			last[string(r.Key)] = cs
			updates++
		}
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if w := want[k]; last[k] != w {
			wrong++
			p.addf("%s: key %q ends at %+v, want %+v", topic, k, last[k], w)
		}
	}
	return updates, wrong
}

// TickReport is what the tick check found.
type TickReport struct {
	Ticks      int
	Duplicates int // ticks emitted again (a bucket or a sequence number twice)
	Lost       int // punctuations that should have ticked and did not
	Wrong      int // ticks whose values do not match the input
}

// tickEndSlack is how far the stream time of a partition may run ahead of
// its last tick before the ticks count as stopped: it covers an instance
// that took the task over just before the input ended.
const tickEndSlack = 5 * time.Second

// CheckTicks checks the ticker's output. Per input partition, the ticks
// must form a chain (sequence 1, 2, 3…, each naming the previous bucket),
// no bucket may appear twice, each tick's count, sum and stream time must
// be those of the input up to its offset, and no punctuation may be lost:
// between two ticks of one processor instance, the first input record at
// or past the next bucket plus TickInterval must have caused a tick.
func CheckTicks(inputs []Input, ticks map[int32][]*kgo.Record, p *problems) TickReport {
	var rep TickReport
	byTask := map[int32][]Tick{}
	for _, rs := range ticks {
		for _, r := range rs {
			t, err := serde.JSON[Tick]().Deserialize("ticks", r.Value)
			if err != nil || string(r.Key) != "p"+strconv.Itoa(int(t.Partition)) {
				rep.Wrong++
				p.addf("ticks: bad record at partition %d offset %d: key %q, %v", r.Partition, r.Offset, r.Key, err)
				continue
			}
			rep.Ticks++
			byTask[t.Partition] = append(byTask[t.Partition], t)
		}
	}
	in := byPartition(inputs)
	parts := map[int32]bool{}
	for part := range in {
		parts[part] = true
	}
	for part := range byTask {
		parts[part] = true
	}
	bucketMs := TickBucket.Milliseconds()
	for part := range parts {
		ins, ts := in[part], byTask[part]
		// Prefix sums of the input by position; offsets are positions.
		sums, maxTs := make([]int64, len(ins)), make([]int64, len(ins))
		var s, m int64
		for i, x := range ins {
			s += x.Number()
			m = max(m, x.Timestamp.UnixMilli())
			sums[i], maxTs[i] = s, m
		}
		at := func(off int64) int {
			i := sort.Search(len(ins), func(i int) bool { return ins[i].Offset >= off })
			if i < len(ins) && ins[i].Offset == off {
				return i
			}
			return -1
		}
		// firstDue returns the first input after offset off whose time is
		// at least due (Unix ms), or nil.
		firstDue := func(off, due int64) *Input {
			start := 0
			if off >= 0 {
				if start = at(off) + 1; start == 0 {
					return nil
				}
			}
			for i := start; i < len(ins); i++ {
				if ins[i].Timestamp.UnixMilli() >= due {
					return &ins[i]
				}
			}
			return nil
		}
		buckets := map[int64]int64{}
		for i, t := range ts {
			if seq, dup := buckets[t.Bucket]; dup {
				rep.Duplicates++
				p.addf("ticks: partition %d ticked bucket %d twice (sequence %d and %d)", part, t.Bucket, seq, t.Seq)
				continue
			}
			buckets[t.Bucket] = t.Seq
			wantSeq, wantPrev := int64(1), int64(-1)
			if i > 0 {
				wantSeq, wantPrev = ts[i-1].Seq+1, ts[i-1].Bucket
			}
			switch {
			case i > 0 && t.Seq <= ts[i-1].Seq:
				rep.Duplicates++
				p.addf("ticks: partition %d emitted sequence %d again after %d (bucket %d)", part, t.Seq, ts[i-1].Seq, t.Bucket)
				continue
			case t.Seq > wantSeq:
				rep.Lost += int(t.Seq - wantSeq)
				p.addf("ticks: partition %d jumps from sequence %d to %d: committed ticks are missing from the output", part, wantSeq-1, t.Seq)
			case t.Prev != wantPrev || t.Bucket <= t.Prev:
				rep.Wrong++
				p.addf("ticks: partition %d tick %d names previous bucket %d, the chain says %d", part, t.Seq, t.Prev, wantPrev)
			}
			j := at(t.Offset)
			switch {
			case j < 0:
				rep.Wrong++
				p.addf("ticks: partition %d tick %d at offset %d of no acknowledged input", part, t.Seq, t.Offset)
				continue
			case t.Count != int64(j+1) || t.Sum != sums[j] || t.StreamTime != maxTs[j] || t.Bucket != maxTs[j]/bucketMs:
				rep.Wrong++
				p.addf("ticks: partition %d tick %d at offset %d says count %d sum %d stream time %d bucket %d; the input says %d, %d, %d, %d",
					part, t.Seq, t.Offset, t.Count, t.Sum, t.StreamTime, t.Bucket, j+1, sums[j], maxTs[j], maxTs[j]/bucketMs)
			}
			if i > 0 && t.Inst == ts[i-1].Inst && t.PrevInst == t.Inst {
				prev := ts[i-1]
				if x := firstDue(prev.Offset, (prev.Bucket+1)*bucketMs+TickInterval.Milliseconds()); x != nil && x.Offset < t.Offset {
					rep.Lost++
					p.addf("ticks: partition %d lost a punctuation: after bucket %d (offset %d) the stream time reached %s at offset %d, but the next tick of the same processor came at offset %d (bucket %d)",
						part, prev.Bucket, prev.Offset, x.Timestamp.UTC().Format("15:04:05.000"), x.Offset, t.Offset, t.Bucket)
				}
			}
		}
		lastBucket, lastOff := int64(-1), int64(-1)
		if n := len(ts); n > 0 {
			lastBucket, lastOff = ts[n-1].Bucket, ts[n-1].Offset
		} else if len(ins) > 0 {
			lastBucket = ins[0].Timestamp.UnixMilli()/bucketMs - 1
		}
		if lastBucket >= 0 {
			if x := firstDue(lastOff, (lastBucket+1)*bucketMs+tickEndSlack.Milliseconds()); x != nil {
				rep.Lost++
				p.addf("ticks: partition %d stops ticking at bucket %d although its stream time reached %s (offset %d): punctuations were lost (fired in an aborted transaction and never again?)",
					part, lastBucket, x.Timestamp.UTC().Format("15:04:05.000"), x.Offset)
			}
		}
	}
	return rep
}

// DeadLetterReport is what the dead-letter check found.
type DeadLetterReport struct {
	Records int // records in the dead-letter topic
	Wrong   int // records that are not the poison with the right headers
}

// CheckDeadLetters checks that the dead-letter topic holds the poison input
// with its original key and value and the headers that say why and where.
func CheckDeadLetters(dlq map[int32][]*kgo.Record, poison Input, t Topics, appID string, p *problems) DeadLetterReport {
	var rep DeadLetterReport
	for _, rs := range dlq {
		for _, r := range rs {
			rep.Records++
			h := map[string]string{}
			for _, x := range r.Headers {
				h[x.Key] = string(x.Value)
			}
			var bad []string
			if string(r.Key) != poison.Key || string(r.Value) != poison.Value {
				bad = append(bad, fmt.Sprintf("key/value %q/%.20q instead of the original %q/%q", r.Key, r.Value, poison.Key, poison.Value))
			}
			want := map[string]string{
				samsa.HeaderErrorKind: "production", samsa.HeaderSourceTopic: t.Input,
				samsa.HeaderSourcePartition: strconv.Itoa(int(poison.Partition)), samsa.HeaderSourceOffset: strconv.FormatInt(poison.Offset, 10),
				samsa.HeaderApplicationID: appID,
			}
			for k, v := range want {
				if h[k] != v {
					bad = append(bad, fmt.Sprintf("header %s=%q, want %q", k, h[k], v))
				}
			}
			if !strings.Contains(h[samsa.HeaderErrorMessage], t.Echo) {
				bad = append(bad, fmt.Sprintf("header %s %q does not name topic %q", samsa.HeaderErrorMessage, h[samsa.HeaderErrorMessage], t.Echo))
			}
			if h[samsa.HeaderTask] == "" {
				bad = append(bad, "no "+samsa.HeaderTask+" header")
			}
			if _, err := strconv.ParseInt(h[samsa.HeaderTimestamp], 10, 64); err != nil {
				bad = append(bad, fmt.Sprintf("header %s %q is not Unix milliseconds", samsa.HeaderTimestamp, h[samsa.HeaderTimestamp]))
			}
			if len(bad) > 0 {
				rep.Wrong++
				p.addf("dead letter at partition %d offset %d: %s", r.Partition, r.Offset, strings.Join(bad, "; "))
			}
		}
	}
	return rep
}
