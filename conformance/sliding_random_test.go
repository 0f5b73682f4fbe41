package conformance

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// slidingRandomScenario generates testdata/slidingAggregate-random.json from
// a fixed seed: 200 records of 5 keys whose times advance by 0 to 4 ms and
// arrive up to 45 ms out of order (beyond the 10 ms + 20 ms grace of the
// slidingAggregate topology now and then, so that some are late), with a
// few tombstones and null keys, which both sides drop.
func slidingRandomScenario() []byte {
	r := rand.New(rand.NewPCG(20260612, 3))
	var b bytes.Buffer
	b.WriteString(`{
  "name": "slidingAggregate-random",
  "topology": "slidingAggregate",
  "description": "SlidingWindows.ofTimeDifferenceAndGrace(10ms, 20ms).aggregate(\"[\", agg + v + \";\") (samsa: SlidingAggregate) on 200 records of 5 keys generated from a fixed seed (sliding_random_test.go): times advancing by 0-4 ms and up to 45 ms out of order, so records in every position relative to the existing windows, equal times, late records, tombstones and null keys",
  "inputs": [
`)
	base := int64(5)
	const n = 200
	for i := range n {
		base += r.Int64N(5)
		ts := base
		if r.IntN(3) == 0 {
			ts = max(0, base-r.Int64N(46))
		}
		key := fmt.Sprintf("%q", fmt.Sprintf("k%d", r.IntN(5)))
		value := fmt.Sprintf("%q", fmt.Sprintf("v%d", i))
		switch x := r.IntN(40); {
		case x == 0:
			key = "null"
		case x == 1:
			value = "null"
		}
		sep := ","
		if i == n-1 {
			sep = ""
		}
		fmt.Fprintf(&b, "    {\"topic\": \"in\", \"key\": %s, \"value\": %s, \"timestamp\": %d}%s\n", key, value, ts, sep)
	}
	b.WriteString(`  ],
  "outputs": [{"topic": "out"}]
}
`)
	return b.Bytes()
}

// TestSlidingRandomScenarioIsGenerated: the committed random scenario is
// what slidingRandomScenario generates; CONFORMANCE_GENERATE=1 writes it.
func TestSlidingRandomScenarioIsGenerated(t *testing.T) {
	path := filepath.Join("testdata", "slidingAggregate-random.json")
	want := slidingRandomScenario()
	if os.Getenv("CONFORMANCE_GENERATE") == "1" {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is not what slidingRandomScenario generates: run CONFORMANCE_GENERATE=1 go test -run TestSlidingRandomScenarioIsGenerated ./conformance/", path)
	}
}
