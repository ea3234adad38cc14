package load

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Mem is a process's resident memory.
type Mem struct {
	// RSS is the resident set size in bytes.
	RSS uint64 `json:"rss"`
	// PSS is the proportional set size in bytes (shared pages divided
	// among the processes sharing them).
	PSS uint64 `json:"pss"`
}

// ReadMem reads /proc/PID/smaps_rollup.
func ReadMem(pid int) (Mem, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return Mem{}, fmt.Errorf("load: server memory: %w", err)
	}
	defer f.Close()
	return ParseSmapsRollup(f)
}

// readMemOf reads process pid's memory; nil for pid ≤ 0 (not measured).
func readMemOf(pid int) (*Mem, error) {
	if pid <= 0 {
		return nil, nil
	}
	m, err := ReadMem(pid)
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// ParseSmapsRollup extracts Rss and Pss from smaps_rollup content.
func ParseSmapsRollup(r io.Reader) (Mem, error) {
	var m Mem
	var haveRSS, havePSS bool
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 || f[2] != "kB" {
			continue
		}
		v, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			return Mem{}, fmt.Errorf("load: smaps_rollup: %q: %w", sc.Text(), err)
		}
		switch f[0] {
		case "Rss:":
			m.RSS, haveRSS = v<<10, true
		case "Pss:":
			m.PSS, havePSS = v<<10, true
		}
	}
	if err := sc.Err(); err != nil {
		return Mem{}, fmt.Errorf("load: smaps_rollup: %w", err)
	}
	if !haveRSS || !havePSS {
		return Mem{}, fmt.Errorf("load: smaps_rollup: no Rss/Pss lines")
	}
	return m, nil
}
