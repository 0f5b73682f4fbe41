package topology_test

import (
	"fmt"
	"testing"

	"github.com/samsa-streams/samsa/serde"
	"github.com/samsa-streams/samsa/testkit"
	"github.com/samsa-streams/samsa/topology"
)

// TestTableGroupByOnFourPartitions: users per country from a users table
// (user → country) on four partitions: users moving between countries and
// deleted users leave the right counts, whatever partition each user and
// each country is on; TableReduce keeps the sum of name lengths likewise.
func TestTableGroupByOnFourPartitions(t *testing.T) {
	top := topology.New()
	users := topology.TableOf(top, "users", "users", serde.String, serde.String)
	byCountry := topology.GroupTable(users, "by-country", func(_, country string) (string, string) { return country, country }, serde.String, serde.String)
	topology.TableCount(byCountry, "per-country").ToStream().To("counts", serde.String, serde.Int64)
	byLen := topology.GroupTable(users, "by-len", func(user, country string) (string, int64) { return country, int64(len(user)) }, serde.String, serde.Int64)
	topology.TableReduce(byLen, "name-lengths", func(a, v int64) int64 { return a + v }, func(a, v int64) int64 { return a - v }, serde.Int64).
		ToStream().To("lengths", serde.String, serde.Int64)
	d, err := testkit.NewDriver(top, testkit.DriverConfig{DefaultPartitions: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := testkit.InputTopic(d, "users", serde.String, serde.String)
	countries := []string{"FR", "US", "JP"}
	want := map[string]int64{}
	wantLen := map[string]int64{}
	where := map[string]string{}
	for round := range 3 {
		for i := range 30 {
			u := fmt.Sprintf("user-%d", i)
			if round == 2 && i%5 == 0 {
				if err := in.PipeTombstone(u, d.Now()); err != nil {
					t.Fatal(err)
				}
				want[where[u]]--
				wantLen[where[u]] -= int64(len(u))
				delete(where, u)
				continue
			}
			c := countries[(i+round)%len(countries)]
			if old, ok := where[u]; ok {
				want[old]--
				wantLen[old] -= int64(len(u))
			}
			if err := in.Pipe(u, c); err != nil {
				t.Fatal(err)
			}
			where[u] = c
			want[c]++
			wantLen[c] += int64(len(u))
		}
	}
	got, err := testkit.ReadKeyValuesToMap(testkit.OutputTopic(d, "counts", serde.String, serde.Int64))
	if err != nil {
		t.Fatal(err)
	}
	gotLen, err := testkit.ReadKeyValuesToMap(testkit.OutputTopic(d, "lengths", serde.String, serde.Int64))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range countries {
		if got[c] != want[c] || gotLen[c] != wantLen[c] {
			t.Errorf("%s: count %d, lengths %d; want %d, %d", c, got[c], gotLen[c], want[c], wantLen[c])
		}
	}
}
