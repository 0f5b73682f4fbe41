package main

import (
	"encoding/binary"
	"fmt"
	"strconv"
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
	return n, err == nil
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

// countChecker expects, for every key, counts rising to the number of
// input records with that key: the output is complete when the highest
// count seen for every key equals it. A count above it fails.
type countChecker struct {
	want    []int64 // per key index
	max     []int64
	matched int
}

// newCountChecker expects the counts of n input records over keys keys.
func newCountChecker(n, keys int) *countChecker {
	c := &countChecker{want: make([]int64, keys), max: make([]int64, keys)}
	for k := range keys {
		c.want[k] = int64(n / keys)
		if k < n%keys {
			c.want[k]++
		}
		if c.want[k] == 0 {
			c.matched++
		}
	}
	return c
}

func (c *countChecker) add(k, v []byte) error {
	i, ok := keyIndex(k)
	if !ok || i >= len(c.want) {
		return fmt.Errorf("count output: unexpected key %q", k)
	}
	if len(v) != 8 {
		return fmt.Errorf("count output for key %s: value of %d bytes, want an 8-byte int64", k, len(v))
	}
	n := int64(binary.BigEndian.Uint64(v))
	if n > c.want[i] {
		return fmt.Errorf("count output for key %s: count %d, but the input has %d records with that key", k, n, c.want[i])
	}
	if n > c.max[i] {
		if n == c.want[i] {
			c.matched++
		}
		c.max[i] = n
	}
	return nil
}

func (c *countChecker) done() bool { return c.matched == len(c.want) }

func (c *countChecker) progress() string {
	return fmt.Sprintf("%d of %d keys at their final count", c.matched, len(c.want))
}
