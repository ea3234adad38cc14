package load

import (
	"strings"
	"testing"
	"time"
)

// body returns the payload of a send by position idx at unix second sec.
func body(idx int, sec int64) string {
	return string(payload(nil, idx, time.Unix(sec, 0)))
}

func TestCompareArchives(t *testing.T) {
	// Pair (0, 1): 1 sent a and b to 0, 0 sent c to 1.
	a, b, c := body(1, 10), body(1, 11), body(0, 12)
	delivered := [][]string{{a, b}, {c}}
	in := func(sender int, bodies ...string) []archivedBody {
		var out []archivedBody
		for _, s := range bodies {
			out = append(out, archivedBody{body: s, sender: sender})
		}
		return out
	}
	tests := []struct {
		name     string
		archives [][]archivedBody
		want     ArchiveCheck
	}{
		{"each once in both archives",
			[][]archivedBody{append(in(1, a, b), in(0, c)...), append(in(1, a, b), in(0, c)...)},
			ArchiveCheck{Accounts: 2, Delivered: 3}},
		{"missing from the recipient's archive",
			[][]archivedBody{in(1, a), append(in(1, a, b), in(0, c)...)},
			ArchiveCheck{Accounts: 2, Delivered: 3, Missing: 2}}, // b in 0's, c in 0's (outgoing)
		{"missing from the sender's archive",
			[][]archivedBody{append(in(1, a, b), in(0, c)...), in(1, a, b)},
			ArchiveCheck{Accounts: 2, Delivered: 3, Missing: 1}},
		{"archived twice",
			[][]archivedBody{append(in(1, a, b, a, a), in(0, c)...), append(in(1, a, b), in(0, c, c)...)},
			ArchiveCheck{Accounts: 2, Delivered: 3, Duplicates: 3}},
		{"archived but never delivered",
			[][]archivedBody{append(in(1, a, b, body(1, 13)), in(0, c)...), append(in(1, a, b, body(1, 13)), in(0, c, body(0, 14))...)},
			ArchiveCheck{Accounts: 2, Delivered: 3, Undelivered: 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := compareArchives(delivered, tc.archives)
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			if got.OK() != (tc.want.Missing == 0 && tc.want.Duplicates == 0) {
				t.Errorf("OK() = %v for %+v", got.OK(), got)
			}
		})
	}
}

func TestArchiveCheckOK(t *testing.T) {
	var none *ArchiveCheck
	if none.OK() || (&ArchiveCheck{}).OK() {
		t.Error("a check that read no archive vouches for them")
	}
	c := &ArchiveCheck{Accounts: 2, Delivered: 5, Incomplete: "login failed"}
	if c.OK() || !strings.Contains(c.String(), "INCOMPLETE: login failed") {
		t.Errorf("incomplete check: OK %v, %s", c.OK(), c)
	}
}

func TestRunBody(t *testing.T) {
	start := time.Unix(100, 0)
	tests := []struct {
		body string
		pos  int
		ok   bool
	}{
		{body(3, 100), 2, true},  // from the partner
		{body(2, 150), 2, true},  // sent by pos itself
		{body(3, 99), 2, false},  // an earlier run
		{body(5, 120), 2, false}, // another pair
		{"hello", 2, false},
	}
	for _, tc := range tests {
		got, ok := runBody(tc.body, tc.pos, start)
		if ok != tc.ok || (ok && got.body != tc.body) {
			t.Errorf("runBody(%q, %d) = %+v, %v; want ok %v", tc.body, tc.pos, got, ok, tc.ok)
		}
	}
	if got, _ := runBody(body(3, 100), 2, start); got.sender != 3 {
		t.Errorf("sender %d, want 3", got.sender)
	}
}

func TestDeliveryLog(t *testing.T) {
	l := newDeliveryLog(2)
	l.record(0, "a")
	l.record(1, "b")
	l.record(2, "outside the sample")
	l.record(-1, "neither")
	if len(l.bodies[0]) != 1 || len(l.bodies[1]) != 1 || l.truncated {
		t.Errorf("bodies %v, truncated %v", l.bodies, l.truncated)
	}
	l.bodies[0] = make([]string, maxRecorded)
	l.record(0, "one too many")
	if !l.truncated || len(l.bodies[0]) != maxRecorded {
		t.Errorf("past the bound: %d bodies, truncated %v", len(l.bodies[0]), l.truncated)
	}
}

func TestSentSince(t *testing.T) {
	start := time.Unix(100, 0)
	got := sentSince([][]string{{body(1, 99), body(1, 100), body(1, 101)}, {body(0, 50)}}, start)
	if len(got) != 2 || strings.Join(got[0], "|") != body(1, 100)+"|"+body(1, 101) || len(got[1]) != 0 {
		t.Errorf("sentSince = %q", got)
	}
}
