package c2s

import "time"

// Rate limits (Limits.Rate, Limits.PreauthRate) are enforced by the
// reader: it spends a token per byte it read and per top-level element
// it decoded, and when a bucket is overdrawn it sleeps until the debt is
// paid before reading on. Nothing is dropped: what the client sends
// waits in the socket buffers and TCP slows the client down. The
// sleeping reader holds no lock; it wakes early when the connection is
// being closed.

// bucket is a token bucket: rate tokens a second, holding at most burst.
// The zero value does not limit.
type bucket struct {
	rate   float64 // tokens per second; 0: unlimited
	burst  float64
	tokens float64
	last   time.Time // of the last take; zero before the first
}

// newBucket returns a full bucket of perSecond tokens a second holding
// burst's worth (at least one second's).
func newBucket(perSecond int, burst time.Duration) bucket {
	if perSecond <= 0 {
		return bucket{}
	}
	b := float64(perSecond) * max(burst.Seconds(), 1)
	return bucket{rate: float64(perSecond), burst: b, tokens: b}
}

// take spends n tokens at now and returns how long to wait until the
// bucket is no longer overdrawn: zero while tokens remain.
func (b *bucket) take(n int, now time.Time) time.Duration {
	if b.rate == 0 {
		return 0
	}
	if !b.last.IsZero() && now.After(b.last) {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	b.tokens -= float64(n)
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / b.rate * float64(time.Second))
}

// limiter is a connection's pair of buckets.
type limiter struct {
	bytes, stanzas bucket
	// chunk caps one read, so that a debt (and a sleep) stays short at
	// low rates: a tenth of a second's worth of bytes, at least 512.
	chunk int
}

func newLimiter(r Rate) limiter {
	l := limiter{bytes: newBucket(r.BytesPerSecond, r.Burst), stanzas: newBucket(r.StanzasPerSecond, r.Burst)}
	if r.BytesPerSecond > 0 {
		l.chunk = max(r.BytesPerSecond/10, 512)
	}
	return l
}

// sleepSlice bounds one sleep of a throttled reader, so that it notices
// when its connection is being closed.
const sleepSlice = 100 * time.Millisecond

// throttle sleeps for d on the reader goroutine, in slices, until d has
// passed or the connection is being closed.
func (c *conn) throttle(d time.Duration) {
	for d > 0 && !c.closing.Load() {
		s := min(d, sleepSlice)
		c.cfg.Sleep(s)
		d -= s
	}
}

// authenticated switches the connection to the limits of an
// authenticated session: it stops counting against its address and takes
// Limits.Rate. Reader goroutine.
func (c *conn) authenticated() {
	c.authed = true
	c.releasePreauth()
	c.rd.lim = newLimiter(c.cfg.Limits.Rate)
}
