package load

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxSamples bounds the latency samples kept per series; beyond it samples
// are thinned (every k-th kept) so memory stays bounded on long runs.
const maxSamples = 1 << 21

// Latencies collects duration samples. It is safe for concurrent use.
type Latencies struct {
	mu      sync.Mutex
	samples []time.Duration
	max     time.Duration
	n       int64
}

// Add records one sample.
func (l *Latencies) Add(d time.Duration) {
	l.mu.Lock()
	l.n++
	if d > l.max {
		l.max = d
	}
	if len(l.samples) < maxSamples {
		l.samples = append(l.samples, d)
	} else if l.n%4 == 0 {
		l.samples[int(l.n/4)%maxSamples] = d
	}
	l.mu.Unlock()
}

// Reset forgets every sample.
func (l *Latencies) Reset() {
	l.mu.Lock()
	l.samples, l.max, l.n = nil, 0, 0
	l.mu.Unlock()
}

// Summary returns the count, median, 99th percentile and maximum.
func (l *Latencies) Summary() Summary {
	l.mu.Lock()
	s := slices.Clone(l.samples)
	n, mx := l.n, l.max
	l.mu.Unlock()
	slices.Sort(s)
	return Summary{N: n, P50: Percentile(s, 50), P99: Percentile(s, 99), Max: mx}
}

// Summary describes a latency distribution.
type Summary struct {
	N   int64         `json:"n"`
	P50 time.Duration `json:"p50_ns"`
	P99 time.Duration `json:"p99_ns"`
	Max time.Duration `json:"max_ns"`
}

// String formats the summary as "p50 1.2ms p99 3.4ms max 9ms".
func (s Summary) String() string {
	if s.N == 0 {
		return "no samples"
	}
	return fmt.Sprintf("p50 %s  p99 %s  max %s", round(s.P50), round(s.P99), round(s.Max))
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}

// Percentile returns the p-th percentile (0 < p ≤ 100) of sorted samples by
// the nearest-rank method, or 0 for no samples.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted)) + 0.999999999)
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

// Errors counts errors by a short description. It is safe for concurrent
// use.
type Errors struct {
	total atomic.Int64
	mu    sync.Mutex
	kinds map[string]int64
}

// Add records an error.
func (e *Errors) Add(err error) {
	if err == nil {
		return
	}
	e.total.Add(1)
	msg := err.Error()
	if len(msg) > 120 {
		msg = msg[:120] + "…"
	}
	e.mu.Lock()
	if e.kinds == nil {
		e.kinds = map[string]int64{}
	}
	if len(e.kinds) < 20 || e.kinds[msg] > 0 {
		e.kinds[msg]++
	} else {
		e.kinds["(other errors)"]++
	}
	e.mu.Unlock()
}

// Total returns the number of errors recorded.
func (e *Errors) Total() int64 { return e.total.Load() }

// Kinds returns a copy of the counts by description.
func (e *Errors) Kinds() map[string]int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]int64, len(e.kinds))
	for k, v := range e.kinds {
		out[k] = v
	}
	return out
}

// sortedKinds returns descriptions ordered by count, then name.
func sortedKinds(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return strings.Compare(keys[i], keys[j]) < 0
	})
	return keys
}
