package load

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Pairing says how sessions are spread over several server addresses
// (the nodes of a cluster), and so whether the chat scenario's partners
// (sessions 2k and 2k+1) share a node.
type Pairing int

const (
	// PairsCrossNode puts session i on address i mod N: consecutive
	// sessions are on different nodes, so with N ≥ 2 every chat message
	// crosses from one node to another. It is the default.
	PairsCrossNode Pairing = iota
	// PairsSameNode puts pair k (sessions 2k and 2k+1) on address
	// k mod N: chat partners share a node, and the pairs are spread
	// over the nodes. The first account index must be even.
	PairsSameNode
)

// Pairing names, as ParsePairing takes them.
const (
	pairingCross = "cross-node"
	pairingSame  = "same-node"
)

// PairingNames lists the names ParsePairing accepts.
const PairingNames = pairingCross + ", " + pairingSame

// ParsePairing parses "cross-node" (or "") and "same-node".
func ParsePairing(s string) (Pairing, error) {
	switch strings.TrimSpace(s) {
	case "", pairingCross:
		return PairsCrossNode, nil
	case pairingSame:
		return PairsSameNode, nil
	}
	return 0, fmt.Errorf("load: unknown pairing %q (want %s)", s, PairingNames)
}

// String returns the pairing's name.
func (p Pairing) String() string {
	if p == PairsSameNode {
		return pairingSame
	}
	return pairingCross
}

// node returns which of n addresses session idx (an account index)
// connects to.
func (p Pairing) node(idx, n int) int {
	if n <= 1 {
		return 0
	}
	if idx < 0 {
		idx = -idx
	}
	if p == PairsSameNode {
		idx /= 2
	}
	return idx % n
}

// ParsePIDs parses a comma-separated list of process IDs ("" is none).
func ParsePIDs(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		pid, err := strconv.Atoi(f)
		if err != nil || pid <= 0 {
			return nil, fmt.Errorf("load: process ID %q: want a positive integer", f)
		}
		out = append(out, pid)
	}
	return out, nil
}

// serverPIDs returns the processes that make up the server: PID, then
// the other nodes' NodePIDs. None when PID is not set.
func (c *Config) serverPIDs() []int {
	if c.PID <= 0 {
		return nil
	}
	return append([]int{c.PID}, c.NodePIDs...)
}

// serverMem reads the server's memory: the sum over PID and NodePIDs.
func (c *Config) serverMem() (Mem, error) {
	return ReadMems(c.serverPIDs())
}

// ReadMems reads the memory of several processes and returns the sum.
func ReadMems(pids []int) (Mem, error) {
	var sum Mem
	for _, pid := range pids {
		m, err := ReadMem(pid)
		if err != nil {
			return Mem{}, err
		}
		sum.RSS += m.RSS
		sum.PSS += m.PSS
	}
	return sum, nil
}

// userHZ is the unit of the times in /proc/PID/stat (USER_HZ, 100 on
// every Linux architecture Go supports).
const userHZ = 100

// ReadCPU returns the processor time (user and system, every thread)
// process pid has used, from /proc/PID/stat.
func ReadCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("load: processor time: %w", err)
	}
	return ParseStatCPU(b)
}

// ParseStatCPU extracts utime + stime from the content of /proc/PID/stat.
func ParseStatCPU(b []byte) (time.Duration, error) {
	// The command name (field 2) is in parentheses and may hold spaces
	// and parentheses: the fields that follow start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("load: /proc/PID/stat: no command name in %q", b)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("load: /proc/PID/stat: %d fields after the command name, want at least 13", len(f))
	}
	var ticks uint64
	for _, s := range f[11:13] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("load: /proc/PID/stat: %q: %w", s, err)
		}
		ticks += v
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// CPU is the processor time used during a scenario's measured phase (the
// chat scenario's traffic, with its drain).
type CPU struct {
	// ServerSeconds is the time used by the server's processes (PID and
	// NodePIDs together), OtherSeconds by Config.CPUPIDs (e.g. the NATS
	// server of a cluster).
	ServerSeconds float64 `json:"server_seconds"`
	OtherSeconds  float64 `json:"other_seconds,omitempty"`
	// Deliveries is the number of deliveries over which the per-delivery
	// figures are given, in microseconds of processor time.
	Deliveries           int64   `json:"deliveries"`
	ServerMicrosPerDeliv float64 `json:"server_us_per_delivery"`
	OtherMicrosPerDeliv  float64 `json:"other_us_per_delivery,omitempty"`
}

// String formats the processor time and its cost per delivery.
func (c *CPU) String() string {
	s := fmt.Sprintf("server %.2fs (%.1f µs a delivery)", c.ServerSeconds, c.ServerMicrosPerDeliv)
	if c.OtherSeconds > 0 || c.OtherMicrosPerDeliv > 0 {
		s += fmt.Sprintf(", other processes %.2fs (%.1f µs a delivery)", c.OtherSeconds, c.OtherMicrosPerDeliv)
	}
	return s
}

// cpuMeter measures the processor time of the server's processes and of
// Config.CPUPIDs over a phase.
type cpuMeter struct {
	server, other     []int
	serverAt, otherAt time.Duration
}

// startCPU starts measuring; nil when no server process is known or its
// time cannot be read (the report then has no CPU figures).
func (r *runner) startCPU() *cpuMeter {
	m := &cpuMeter{server: r.cfg.serverPIDs(), other: r.cfg.CPUPIDs}
	if len(m.server) == 0 {
		return nil
	}
	var err error
	if m.serverAt, err = sumCPU(m.server); err == nil {
		m.otherAt, err = sumCPU(m.other)
	}
	if err != nil {
		r.log.Warn("processor time not measured", "err", err)
		return nil
	}
	return m
}

// end returns the processor time used since startCPU, per delivery of
// deliveries; nil when m is nil or a process could not be read.
func (m *cpuMeter) end(r *runner, deliveries int64) *CPU {
	if m == nil {
		return nil
	}
	server, err := sumCPU(m.server)
	var other time.Duration
	if err == nil {
		other, err = sumCPU(m.other)
	}
	if err != nil {
		r.log.Warn("processor time not measured", "err", err)
		return nil
	}
	c := &CPU{ServerSeconds: (server - m.serverAt).Seconds(), OtherSeconds: (other - m.otherAt).Seconds(), Deliveries: deliveries}
	if deliveries > 0 {
		c.ServerMicrosPerDeliv = c.ServerSeconds * 1e6 / float64(deliveries)
		c.OtherMicrosPerDeliv = c.OtherSeconds * 1e6 / float64(deliveries)
	}
	return c
}

// sumCPU returns the processor time of the processes together.
func sumCPU(pids []int) (time.Duration, error) {
	var sum time.Duration
	for _, pid := range pids {
		d, err := ReadCPU(pid)
		if err != nil {
			return 0, err
		}
		sum += d
	}
	return sum, nil
}
