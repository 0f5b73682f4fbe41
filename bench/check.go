package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/samsa-streams/samsa/bench/internal/work"
)

// checker follows a contender's output topic record by record: add returns
// an error as soon as the output is wrong, done reports when the expected
// output is complete.
type checker interface {
	add(key, value []byte) error
	done() bool
	progress() string
}

// valueLen is the length of every input value.
const valueLen = 100

// keyName is the key of the record numbered i among keys keys.
func keyName(i, keys int) string { return fmt.Sprintf("k%07d", i%keys) }

// keyIndex parses a key written by keyName.
func keyIndex(key []byte) (int, bool) {
	if len(key) != 8 || key[0] != 'k' {
		return 0, false
	}
	n, err := strconv.Atoi(string(key[1:]))
	return n, err == nil && n >= 0
}

// statelessExpected is how many of n input records the stateless topology
// keeps: the filter drops the values starting with '0', one record in ten.
func statelessExpected(n int) int { return n - (n+9)/10 }

// statelessChecker expects want upper-cased values none of which starts
// with '0', and no more.
type statelessChecker struct {
	want, got int
}

func (c *statelessChecker) add(_, v []byte) error {
	c.got++
	if c.got > c.want {
		return fmt.Errorf("stateless output has more records than the %d expected", c.want)
	}
	if len(v) != valueLen {
		return fmt.Errorf("stateless output record %d: value of %d bytes, want %d", c.got, len(v), valueLen)
	}
	if v[0] == '0' {
		return fmt.Errorf("stateless output record %d: value %.10q… should have been filtered out", c.got, v)
	}
	for _, b := range v {
		if b >= 'a' && b <= 'z' {
			return fmt.Errorf("stateless output record %d: value %.10q… is not upper-cased", c.got, v)
		}
	}
	return nil
}

func (c *statelessChecker) done() bool { return c.got == c.want }

func (c *statelessChecker) progress() string {
	return fmt.Sprintf("%d of %d records", c.got, c.want)
}

// countChecker expects, for every key, counts rising to its expected
// count: the output is complete when the highest count seen for every key
// equals it. A count above it fails; strict, any other count fails too.
type countChecker struct {
	what    string                   // named in errors
	parse   func([]byte) (int, bool) // key to index into want
	want    []int64                  // per key index
	max     []int64
	matched int
	strict  bool
	counted int64 // the sum of max: input records the output shows counted
}

// newCountCheckerOf expects the counts want of the keys parse maps to
// their indices.
func newCountCheckerOf(what string, want []int64, parse func([]byte) (int, bool)) *countChecker {
	c := &countChecker{what: what, parse: parse, want: want, max: make([]int64, len(want))}
	for _, w := range want {
		if w == 0 {
			c.matched++
		}
	}
	return c
}

// inputCounts is the number of records of each key index among n input
// records over keys keys.
func inputCounts(n, keys int) []int64 {
	want := make([]int64, keys)
	for k := range keys {
		want[k] = int64(n / keys)
		if k < n%keys {
			want[k]++
		}
	}
	return want
}

// newCountChecker expects the counts of n input records over keys keys.
func newCountChecker(n, keys int) *countChecker {
	return newCountCheckerOf("count", inputCounts(n, keys), keyIndex)
}

// groupIndex parses a key written by work.GroupKey: "g" and 6 digits.
func groupIndex(key []byte) (int, bool) {
	if len(key) != 7 || key[0] != 'g' {
		return 0, false
	}
	n, err := strconv.Atoi(string(key[1:]))
	return n, err == nil && n >= 0
}

// newGroupCountChecker expects the counts per new key (work.GroupKey: key
// index / 10) of n input records over keys keys.
func newGroupCountChecker(n, keys int) *countChecker {
	in := inputCounts(n, keys)
	want := make([]int64, (keys+9)/10)
	for k, w := range in {
		want[k/10] += w
	}
	return newCountCheckerOf("groupBy count", want, groupIndex)
}

// newWindowCountChecker expects the counts per key and 1-minute window of
// the timed input in: its windowed keys are the key's bytes then the
// window start (8 bytes, big-endian Unix milliseconds).
func newWindowCountChecker(in *input) *countChecker {
	nw := in.windows()
	want := make([]int64, in.Keys*nw)
	size := work.Window.Milliseconds()
	for i := range in.N {
		want[(i%in.Keys)*nw+int((in.timestamp(i)-in.Base)/size)]++
	}
	parse := func(b []byte) (int, bool) {
		if len(b) < 8 {
			return 0, false
		}
		k, ok := keyIndex(b[:len(b)-8])
		start := int64(binary.BigEndian.Uint64(b[len(b)-8:]))
		w := (start - in.Base) / size
		if !ok || k >= in.Keys || start%size != 0 || w < 0 || w >= int64(nw) {
			return 0, false
		}
		return k*nw + int(w), true
	}
	return newCountCheckerOf("window count", want, parse)
}

// newRestoreChecker expects the output of the restore scenario's second
// start: exactly 2 for each of the keys 0…again-1 (counted once before the
// state was lost, once after), nothing for the others of keys.
func newRestoreChecker(keys, again int) *countChecker {
	want := make([]int64, keys)
	for k := range again {
		want[k] = 2
	}
	c := newCountCheckerOf("count after restore", want, keyIndex)
	c.strict = true
	return c
}

// untilChecker checks a count's output as its countChecker does, but is
// done once the output shows atLeast input records counted (the crash
// scenario's first start, killed then).
type untilChecker struct {
	*countChecker
	atLeast int64
	begin   chan struct{} // closed at the first output record, if set
}

func (c *untilChecker) add(k, v []byte) error {
	if c.begin != nil {
		close(c.begin)
		c.begin = nil
	}
	return c.countChecker.add(k, v)
}

func (c *untilChecker) done() bool { return c.counted >= c.atLeast }

func (c *untilChecker) progress() string {
	return fmt.Sprintf("%d of the %d input records to count before the kill", c.counted, c.atLeast)
}

func (c *countChecker) add(k, v []byte) error {
	i, ok := c.parse(k)
	if !ok || i >= len(c.want) {
		return fmt.Errorf("%s output: unexpected key %q", c.what, k)
	}
	if len(v) != 8 {
		return fmt.Errorf("%s output for key %q: value of %d bytes, want an 8-byte int64", c.what, k, len(v))
	}
	n := int64(binary.BigEndian.Uint64(v))
	if n > c.want[i] {
		return fmt.Errorf("%s output for key %q: count %d, but the input has %d records with that key", c.what, k, n, c.want[i])
	}
	if c.strict && n != c.want[i] {
		return fmt.Errorf("%s output for key %q: count %d, want %d", c.what, k, n, c.want[i])
	}
	if n > c.max[i] {
		if n == c.want[i] {
			c.matched++
		}
		c.counted += n - c.max[i]
		c.max[i] = n
	}
	return nil
}

func (c *countChecker) done() bool { return c.matched == len(c.want) }

func (c *countChecker) progress() string {
	return fmt.Sprintf("%d of %d keys at their final count", c.matched, len(c.want))
}

// joinChecker expects one output record per input record of the join's
// stream, each of whose value is work.Joined of the key's table value
// (tableValue, or "-" for a key the table does not have) and the first 10
// bytes of an input value; complete when every key has as many as the
// input.
type joinChecker struct {
	tableKeys int
	want, got []int64
	matched   int
}

// newJoinChecker expects the join of n stream records over keys keys with
// the table over tableKeys keys.
func newJoinChecker(n, keys, tableKeys int) *joinChecker {
	c := &joinChecker{tableKeys: tableKeys, want: inputCounts(n, keys), got: make([]int64, keys)}
	for _, w := range c.want {
		if w == 0 {
			c.matched++
		}
	}
	return c
}

func (c *joinChecker) add(k, v []byte) error {
	i, ok := keyIndex(k)
	if !ok || i >= len(c.want) {
		return fmt.Errorf("join output: unexpected key %q", k)
	}
	c.got[i]++
	if c.got[i] > c.want[i] {
		return fmt.Errorf("join output for key %s: %d records, but the input has %d with that key", k, c.got[i], c.want[i])
	}
	tv, sv, ok := bytes.Cut(v, []byte("|"))
	want := "-"
	if i < c.tableKeys && tableHas(i) {
		want = tableValue(i)
	}
	if !ok || string(tv) != want {
		return fmt.Errorf("join output for key %s: value %q, want the table value %q then '|'", k, v, want)
	}
	if len(sv) != 10 || sv[0] < '0' || sv[0] > '9' || bytes.IndexFunc(sv[1:], func(r rune) bool { return r < 'a' || r > 'z' }) >= 0 {
		return fmt.Errorf("join output for key %s: value %q: after '|', want the first 10 bytes of an input value", k, v)
	}
	if c.got[i] == c.want[i] {
		c.matched++
	}
	return nil
}

func (c *joinChecker) done() bool { return c.matched == len(c.want) }

func (c *joinChecker) progress() string {
	return fmt.Sprintf("%d of %d keys joined as often as the input has them", c.matched, len(c.want))
}
