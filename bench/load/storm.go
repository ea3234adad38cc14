package load

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"
)

// Storm is what one mass event of the idle scenario did to the server's
// memory: every session disconnecting at once, or every account logging
// in again at once.
type Storm struct {
	// Sessions is how many sessions took part (disconnected, or logged
	// in again), Errors how many of the logins failed.
	Sessions int64 `json:"sessions"`
	Errors   int64 `json:"errors,omitempty"`
	// Seconds is how long the clients took: from the first close to the
	// last, or from the first login to the last.
	Seconds float64 `json:"seconds"`
	// Before is the server's memory when the storm began, Peak its
	// highest RSS sample from then until After, read once the server
	// has settled: Config.Settle after the clients are done for a
	// disconnect, Settle plus Duration for a reconnect (as the reading
	// with all sessions connected, Report.MemAfter, so that the two
	// compare).
	Before Mem `json:"before"`
	Peak   Mem `json:"peak"`
	After  Mem `json:"after"`
	// Samples is how many readings Peak was taken from.
	Samples int `json:"samples"`
	// LoginsPerSec and LoginLatency describe a reconnect storm's logins.
	LoginsPerSec float64  `json:"logins_per_sec,omitempty"`
	LoginLatency *Summary `json:"login_latency,omitempty"`
}

// stormSampleEvery is how often a storm samples the server's memory.
const stormSampleEvery = 20 * time.Millisecond

// memWatch samples a process's memory until stopped and keeps the
// reading of highest RSS.
type memWatch struct {
	pids    []int
	stop    chan struct{}
	done    chan struct{}
	mu      sync.Mutex
	peak    Mem
	samples int
	err     error
}

// watchMem starts sampling the memory of pids (summed) every interval,
// the first reading being first.
func watchMem(pids []int, first Mem, every time.Duration) *memWatch {
	w := &memWatch{pids: pids, stop: make(chan struct{}), done: make(chan struct{}), peak: first, samples: 1}
	go func() {
		defer close(w.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
			w.sample()
		}
	}()
	return w
}

func (w *memWatch) sample() {
	m, err := ReadMems(w.pids)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		if w.err == nil {
			w.err = err
		}
		return
	}
	w.samples++
	if m.RSS > w.peak.RSS {
		w.peak = m
	}
}

// end stops the sampling after taking last into account, and returns the
// peak and the number of readings.
func (w *memWatch) end(last Mem) (Mem, int, error) {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	w.samples++
	if last.RSS > w.peak.RSS {
		w.peak = last
	}
	return w.peak, w.samples, w.err
}

// storm runs act (the clients' part of a storm) while sampling the
// server's memory, waits wait, and reads the memory once more. The
// reading before is before when given (the last reading of the phase
// before), else a new one. Without a server process (PID ≤ 0) only
// Sessions and Seconds are filled.
func (r *runner) storm(ctx context.Context, before *Mem, wait time.Duration, act func() int64) (*Storm, error) {
	st := &Storm{}
	var w *memWatch
	if r.cfg.PID > 0 {
		if before == nil {
			m, err := r.cfg.serverMem()
			if err != nil {
				return nil, err
			}
			before = &m
		}
		st.Before = *before
		w = watchMem(r.cfg.serverPIDs(), st.Before, stormSampleEvery)
	}
	start := time.Now()
	st.Sessions = act()
	st.Seconds = time.Since(start).Seconds()
	err := sleep(ctx, wait)
	if w == nil {
		return st, err
	}
	after, rerr := r.cfg.serverMem()
	peak, n, werr := w.end(after)
	switch {
	case err != nil:
		return nil, err
	case rerr != nil:
		return nil, rerr
	case werr != nil:
		return nil, werr
	}
	st.After, st.Peak, st.Samples = after, peak, n
	return st, nil
}

// formatStorm writes one storm's line of the idle report.
func formatStorm(w io.Writer, title string, st *Storm) {
	if st == nil {
		return
	}
	what := fmt.Sprintf("%d sessions in %.2fs", st.Sessions, st.Seconds)
	if st.Errors > 0 {
		what += fmt.Sprintf(", %d failed", st.Errors)
	}
	if st.LoginLatency != nil {
		what += fmt.Sprintf(" (%.0f logins/s, %s)", st.LoginsPerSec, st.LoginLatency)
	}
	if st.Samples == 0 {
		fmt.Fprintf(w, "%s %s\n", title, what)
		return
	}
	fmt.Fprintf(w, "%s %s: server RSS %s before, %s at the peak (%s), %s after (%s)\n",
		title, what, kib(float64(st.Before.RSS)), kib(float64(st.Peak.RSS)), signedKiB(float64(st.Peak.RSS)-float64(st.Before.RSS)),
		kib(float64(st.After.RSS)), signedKiB(float64(st.After.RSS)-float64(st.Before.RSS)))
}
