package auth

import (
	"sync"
	"time"
)

// limiter counts failures per key in a sliding window. It keeps at most max
// failure times per key and at most capacity keys; keys whose failures have
// all left the window are swept once per window.
type limiter[K comparable] struct {
	max      int // 0: disabled
	window   time.Duration
	capacity int
	now      func() time.Time

	mu        sync.Mutex
	failures  map[K][]time.Time // oldest first; never more than max
	lastSweep time.Time
}

func newLimiter[K comparable](max int, window time.Duration, capacity int, now func() time.Time) *limiter[K] {
	if max < 0 {
		max = 0
	}
	return &limiter[K]{
		max:      max,
		window:   window,
		capacity: capacity,
		now:      now,
		failures: make(map[K][]time.Time),
	}
}

// live drops the failures of fs that have left the window at now.
func (l *limiter[K]) live(fs []time.Time, now time.Time) []time.Time {
	i := 0
	for i < len(fs) && now.Sub(fs[i]) >= l.window {
		i++
	}
	return fs[i:]
}

// sweep removes expired keys, at most once per window.
func (l *limiter[K]) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < l.window {
		return
	}
	l.lastSweep = now
	for k, fs := range l.failures {
		if len(l.live(fs, now)) == 0 {
			delete(l.failures, k)
		}
	}
}

// allow reports whether k has fewer than max failures in the window.
func (l *limiter[K]) allow(k K) bool {
	if l.max == 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.sweep(now)
	return len(l.live(l.failures[k], now)) < l.max
}

// fail records a failure of k and reports whether k just reached the limit.
func (l *limiter[K]) fail(k K) bool {
	if l.max == 0 {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.sweep(now)
	fs, tracked := l.failures[k]
	if !tracked && len(l.failures) >= l.capacity {
		// Full of live entries: forget an arbitrary one rather than grow.
		for victim := range l.failures {
			delete(l.failures, victim)
			break
		}
	}
	fs = l.live(fs, now)
	below := len(fs) < l.max
	if !below {
		copy(fs, fs[1:])
		fs[len(fs)-1] = now
	} else {
		fs = append(fs, now)
	}
	l.failures[k] = fs
	return below && len(fs) == l.max
}

// reset forgets the failures of k.
func (l *limiter[K]) reset(k K) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.failures, k)
}

// size returns the number of tracked keys.
func (l *limiter[K]) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.failures)
}
