package load

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// The memory watch keeps the reading of highest RSS: its samples, the
// first reading and the last.
func TestMemWatchPeak(t *testing.T) {
	pid := os.Getpid()
	first, err := ReadMem(pid)
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	high := Mem{RSS: first.RSS * 100, PSS: 1}
	w := watchMem([]int{pid}, high, time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	peak, n, err := w.end(first)
	if err != nil {
		t.Fatal(err)
	}
	if peak != high {
		t.Errorf("peak %+v, want the first reading %+v", peak, high)
	}
	if n < 3 {
		t.Errorf("%d readings, want the first, some samples and the last", n)
	}
	w = watchMem([]int{pid}, first, time.Hour)
	peak, n, err = w.end(high)
	if err != nil || peak != high || n != 2 {
		t.Errorf("peak %+v from %d readings (%v), want the last reading %+v from 2", peak, n, err, high)
	}
}

// A storm without a server process to watch still counts and times the
// clients' part; with one it reads the memory before, through and after.
func TestStorm(t *testing.T) {
	r := &runner{cfg: Config{Settle: 10 * time.Millisecond}}
	st, err := r.storm(context.Background(), nil, r.cfg.Settle, func() int64 { time.Sleep(5 * time.Millisecond); return 7 })
	if err != nil {
		t.Fatal(err)
	}
	if st.Sessions != 7 || st.Seconds <= 0 || st.Samples != 0 || st.Before.RSS != 0 {
		t.Errorf("storm without a process: %+v", st)
	}
	r.cfg.PID = os.Getpid()
	if _, err := ReadMem(r.cfg.PID); err != nil {
		t.Skipf("no /proc: %v", err)
	}
	var hold [][]byte
	st, err = r.storm(context.Background(), nil, r.cfg.Settle, func() int64 {
		for range 64 { // 64 MiB touched: the peak sees it
			b := make([]byte, 1<<20)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			hold = append(hold, b)
		}
		time.Sleep(3 * stormSampleEvery)
		return 3
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(hold) != 64 {
		t.Fatal("allocation skipped")
	}
	if st.Sessions != 3 || st.Samples < 2 || st.Before.RSS == 0 || st.After.RSS == 0 {
		t.Errorf("storm: %+v", st)
	}
	if st.Peak.RSS < st.Before.RSS || st.Peak.RSS < st.After.RSS || st.Peak.RSS < st.Before.RSS+32<<20 {
		t.Errorf("peak RSS %d, before %d, after %d: want the highest, at least 32 MiB over before", st.Peak.RSS, st.Before.RSS, st.After.RSS)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r.cfg.Settle = time.Hour
	if _, err := r.storm(ctx, nil, time.Hour, func() int64 { return 0 }); err == nil {
		t.Error("a storm whose context ended reported no error")
	}
}

func TestFormatStorm(t *testing.T) {
	var b strings.Builder
	formatStorm(&b, "disconnect   ", &Storm{Sessions: 8000, Seconds: 0.5, Before: Mem{RSS: 95 << 20}, Peak: Mem{RSS: 120 << 20}, After: Mem{RSS: 60 << 20}, Samples: 30})
	lat := Summary{N: 10, P50: time.Millisecond, P99: 2 * time.Millisecond, Max: 3 * time.Millisecond}
	formatStorm(&b, "reconnect    ", &Storm{Sessions: 7999, Errors: 1, Seconds: 9, LoginsPerSec: 888.8, LoginLatency: &lat})
	formatStorm(&b, "none", nil)
	want := "disconnect    8000 sessions in 0.50s: server RSS 95.0 MiB before, 120.0 MiB at the peak (+25.0 MiB), 60.0 MiB after (-35.0 MiB)\n" +
		"reconnect     7999 sessions in 9.00s, 1 failed (889 logins/s, " + lat.String() + ")\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
