package changelog

import (
	"strings"
	"testing"
	"time"

	"github.com/samsa-streams/samsa/processor"
	"github.com/samsa-streams/samsa/serde"
)

func ms(n int64) time.Time { return time.UnixMilli(n) }

func TestWindowAndSessionStoresOnBothEngines(t *testing.T) {
	for name, mk := range engines(t) {
		t.Run(name, func(t *testing.T) {
			e := mk(t.TempDir())
			defer e.Close()
			raw, err := e.Open(task0, "windows")
			if err != nil {
				t.Fatal(err)
			}
			var _ processor.RangeDropper = raw // expiry by range deletion
			ws := processor.NewWindowStore(raw, serde.String, serde.Int64, 1000*time.Millisecond, 3)
			for _, p := range []struct {
				k  string
				at int64
				v  int64
			}{{"a", 100, 1}, {"b", 100, 2}, {"a", 600, 3}, {"a", 300, 4}, {"ab", 300, 5}} {
				if err := ws.Put(p.k, p.v, ms(p.at)); err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			for w, err := range ws.Fetch("a", ms(0), ms(1000)) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, w.Start.Format("05.000")+"="+string(rune('0'+w.Value)))
			}
			if strings.Join(got, ",") != "00.100=1,00.300=4,00.600=3" {
				t.Fatalf("Fetch(a) = %v (key a must not see key ab)", got)
			}
			n := 0
			for kv, err := range ws.FetchAll(ms(200), ms(700)) {
				if err != nil {
					t.Fatal(err)
				}
				if kv.Start.UnixMilli() < 200 || kv.Start.UnixMilli() > 700 {
					t.Fatalf("FetchAll out of range: %+v", kv)
				}
				n++
			}
			if n != 3 {
				t.Fatalf("FetchAll(200..700) = %d windows, want 3", n)
			}
			if err := raw.Commit(); err != nil {
				t.Fatal(err)
			}
			// Time moves on: windows older than the retention are dropped,
			// a whole segment at a time.
			if err := ws.Put("a", 9, ms(2500)); err != nil {
				t.Fatal(err)
			}
			got = nil
			for w, err := range ws.Fetch("a", ms(0), ms(3000)) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, w.Start.Format("05.000"))
			}
			if strings.Join(got, ",") != "02.500" {
				t.Fatalf("after expiry Fetch(a) = %v, want only the new window", got)
			}
			if c, _ := raw.ApproximateCount(); c > 2 {
				t.Fatalf("%d entries left after expiry", c)
			}
			// A late write behind the retention is ignored.
			_ = ws.Put("a", 1, ms(100))
			for w := range ws.Fetch("a", ms(0), ms(200)) {
				t.Fatalf("an expired window came back: %+v", w)
			}

			sraw, _ := e.Open(task0, "sessions")
			ss := processor.NewSessionStore(sraw, serde.String, serde.Int64, time.Hour, 3)
			for _, s := range []processor.Session[string]{{Key: "u", Start: ms(0), End: ms(10)}, {Key: "u", Start: ms(50), End: ms(70)}, {Key: "v", Start: ms(0), End: ms(100)}} {
				if err := ss.Put(s, s.End.UnixMilli()); err != nil {
					t.Fatal(err)
				}
			}
			var sess []int64
			for kv, err := range ss.FindSessions("u", ms(5), ms(60)) {
				if err != nil {
					t.Fatal(err)
				}
				sess = append(sess, kv.Value)
			}
			if len(sess) != 2 || sess[0] != 10 || sess[1] != 70 {
				t.Fatalf("FindSessions(u, end>=5, start<=60) = %v", sess)
			}
			if err := ss.Remove(processor.Session[string]{Key: "u", Start: ms(0), End: ms(10)}); err != nil {
				t.Fatal(err)
			}
			sess = nil
			for kv := range ss.FindSessions("u", ms(0), ms(1000)) {
				sess = append(sess, kv.Value)
			}
			if len(sess) != 1 || sess[0] != 70 {
				t.Fatalf("after Remove: %v", sess)
			}
		})
	}
}
