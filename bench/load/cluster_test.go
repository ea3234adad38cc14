package load

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestParsePairing(t *testing.T) {
	for in, want := range map[string]Pairing{"": PairsCrossNode, "cross-node": PairsCrossNode, " same-node ": PairsSameNode} {
		got, err := ParsePairing(in)
		if err != nil || got != want {
			t.Errorf("ParsePairing(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParsePairing("same"); err == nil || !strings.Contains(err.Error(), "unknown pairing") {
		t.Errorf("ParsePairing(same): %v, want an unknown pairing error", err)
	}
	if PairsSameNode.String() != "same-node" || PairsCrossNode.String() != "cross-node" {
		t.Errorf("names %q, %q", PairsSameNode, PairsCrossNode)
	}
}

// Cross-node pairing puts the partners 2k and 2k+1 on different nodes
// whatever the number of nodes, same-node pairing on the same one; both
// spread the sessions evenly.
func TestPairingSpread(t *testing.T) {
	for _, nodes := range []int{1, 2, 3, 4} {
		for _, p := range []Pairing{PairsCrossNode, PairsSameNode} {
			const sessions = 120
			per := make([]int, nodes)
			for i := 0; i < sessions; i += 2 {
				a, b := p.node(i, nodes), p.node(i+1, nodes)
				if a < 0 || a >= nodes || b < 0 || b >= nodes {
					t.Fatalf("%v over %d nodes: sessions %d, %d on nodes %d, %d", p, nodes, i, i+1, a, b)
				}
				per[a]++
				per[b]++
				if same := a == b; same != (p == PairsSameNode || nodes == 1) {
					t.Errorf("%v over %d nodes: pair %d on nodes %d and %d", p, nodes, i/2, a, b)
				}
			}
			for n, c := range per {
				if c != sessions/nodes {
					t.Errorf("%v over %d nodes: node %d has %d sessions, want %d", p, nodes, n, c, sessions/nodes)
				}
			}
		}
	}
}

func TestParsePIDs(t *testing.T) {
	got, err := ParsePIDs(" 12, 34,,56 ")
	if err != nil || len(got) != 3 || got[0] != 12 || got[1] != 34 || got[2] != 56 {
		t.Errorf("ParsePIDs = %v, %v", got, err)
	}
	if got, err := ParsePIDs(""); err != nil || len(got) != 0 {
		t.Errorf("ParsePIDs(\"\") = %v, %v", got, err)
	}
	for _, bad := range []string{"12,x", "0", "-3"} {
		if _, err := ParsePIDs(bad); err == nil {
			t.Errorf("ParsePIDs(%q) accepted", bad)
		}
	}
}

func TestParseStatCPU(t *testing.T) {
	// A command name with a space and a parenthesis; utime 250 and
	// stime 50 ticks (fields 14 and 15).
	stat := "4242 (my (odd) cmd) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 9 0 123 456789 100 18446744073709551615\n"
	got, err := ParseStatCPU([]byte(stat))
	if err != nil || got != 3*time.Second {
		t.Errorf("ParseStatCPU = %v, %v; want 3s", got, err)
	}
	for _, bad := range []string{"4242 cmd S 1", "4242 (cmd) S 1 2 3", "4242 (cmd) S 1 4242 4242 0 -1 4194560 1000 0 0 0 x 50 0"} {
		if _, err := ParseStatCPU([]byte(bad)); err == nil {
			t.Errorf("ParseStatCPU(%q) accepted", bad)
		}
	}
}

// The processor time of this process grows while it works, and a sum
// over processes counts each.
func TestReadCPU(t *testing.T) {
	pid := os.Getpid()
	before, err := ReadCPU(pid)
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for end := time.Now().Add(100 * time.Millisecond); time.Now().Before(end); {
	}
	after, err := ReadCPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	if after <= before {
		t.Errorf("processor time %v after 100 ms of work, %v before", after, before)
	}
	two, err := sumCPU([]int{pid, pid})
	if err != nil || two < 2*after {
		t.Errorf("sum over the process twice: %v (%v), want at least %v", two, err, 2*after)
	}
	if _, err := sumCPU([]int{pid, 1 << 30}); err == nil {
		t.Error("sumCPU of a process that does not exist: no error")
	}
}

func TestClusterConfigErrors(t *testing.T) {
	base := Config{Dialer: Dialer{Domain: "a.example", Addrs: []string{"127.0.0.1:1", "127.0.0.2:1"}}, UserFormat: "user%d", Count: 4}
	for _, tc := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.Dialer.Pairing, c.First = PairsSameNode, 3 }, "even first account index"},
		{func(c *Config) { c.NodePIDs = []int{42} }, "need the server's process"},
		{func(c *Config) { c.CPUPIDs = []int{42} }, "need the server's process"},
	} {
		c := base
		tc.edit(&c)
		if err := c.validate("chat"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("validate: %v, want %q", err, tc.want)
		}
	}
	c := base
	c.Dialer.Pairing, c.First, c.PID, c.NodePIDs, c.CPUPIDs = PairsSameNode, 4, 1, []int{2}, []int{3}
	if err := c.validate("chat"); err != nil {
		t.Errorf("validate: %v", err)
	}
	if got := c.serverPIDs(); len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Errorf("server processes %v, want [1 2]", got)
	}
}
