package work

import (
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	f, err := Parse("t", []string{"-bootstrap", "a:1,b:2", "-in", "i", "-out", "o", "-app", "x", "-topology", "count", "-guarantee", "eos", "-commit", "100ms", "-session", "6s"})
	if err != nil {
		t.Fatal(err)
	}
	if f.Topology != Count || f.Guarantee != ExactlyOnce || f.Commit != 100*time.Millisecond || f.Session != 6*time.Second || len(f.Brokers()) != 2 {
		t.Errorf("parsed %+v", f)
	}
	for _, bad := range [][]string{
		{"-in", "i", "-out", "o", "-app", "x"},
		{"-bootstrap", "a", "-in", "i", "-out", "o", "-app", "x", "-topology", "join"},
		{"-bootstrap", "a", "-in", "i", "-out", "o", "-app", "x", "-guarantee", "maybe"},
		{"-bootstrap", "a", "-in", "i", "-out", "o", "-app", "x", "-commit", "0s"},
		{"-bootstrap", "a", "-in", "i", "-out", "o", "-app", "x", "-session", "-1s"},
		{"-nope"},
	} {
		if _, err := Parse("t", bad); err == nil {
			t.Errorf("Parse(%q) did not fail", bad)
		}
	}
}

func TestWork(t *testing.T) {
	if got := string(MapBytes([]byte("1abc"))); got != "1ABC" || MapString("1abc") != "1ABC" {
		t.Errorf("map: %q", got)
	}
	for v, keep := range map[string]bool{"0ABC": false, "1ABC": true, "": false} {
		if Keep([]byte(v)) != keep || KeepString(v) != keep {
			t.Errorf("keep %q: want %v", v, keep)
		}
	}
}

func TestGroupKeyAndJoined(t *testing.T) {
	if got := string(GroupKey([]byte("k0001234"))); got != "g000123" || GroupKeyString("k0001234") != got {
		t.Errorf("GroupKey = %q, GroupKeyString = %q", got, GroupKeyString("k0001234"))
	}
	v := "1bcdefghijklmnop"
	if got := string(Joined([]byte(v), []byte("t0000001"), true)); got != "t0000001|1bcdefghij" || JoinedString(v, "t0000001", true) != got {
		t.Errorf("Joined = %q", got)
	}
	if got := string(Joined([]byte(v), nil, false)); got != "-|1bcdefghij" || JoinedString(v, "", false) != got {
		t.Errorf("Joined not found = %q", got)
	}
}
