package stream

import (
	"time"

	"github.com/parley-xmpp/parley/server/metrics"
)

// Rate limits (Limits.Rate, Limits.PreauthRate) are enforced by the
// reader: the transport spends a token per byte it read (Bucket), the
// engine one per top-level element it decoded, and when a bucket is
// overdrawn the reader sleeps (Throttle) until the debt is paid before
// reading on. Nothing is dropped: what the client sends waits in the
// transport's buffers (over TCP, the socket's, and TCP slows the client
// down). The sleeping reader holds no lock; it wakes early when the
// connection is being closed.

// Bucket is a token bucket: rate tokens a second, holding at most
// burst. The zero value does not limit. Transports use it for the byte
// rates of Limits.Rate and Limits.PreauthRate.
type Bucket struct {
	rate   float64 // tokens per second; 0: unlimited
	burst  float64
	tokens float64
	last   time.Time // of the last take; zero before the first
}

// NewBucket returns a full bucket of perSecond tokens a second holding
// burst's worth (at least one second's).
func NewBucket(perSecond int, burst time.Duration) Bucket {
	if perSecond <= 0 {
		return Bucket{}
	}
	b := float64(perSecond) * max(burst.Seconds(), 1)
	return Bucket{rate: float64(perSecond), burst: b, tokens: b}
}

// Take spends n tokens at now and returns how long to wait until the
// bucket is no longer overdrawn: zero while tokens remain.
func (b *Bucket) Take(n int, now time.Time) time.Duration {
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

// sleepSlice bounds one sleep of a throttled reader, so that it notices
// when its connection is being closed.
const sleepSlice = 100 * time.Millisecond

// Throttle implements Reader: it sleeps for d on the reader goroutine, in
// slices, until d has passed or the connection is being closed.
func (c *conn) Throttle(d time.Duration) {
	c.cfg.Metrics.Limited(metrics.LimitRate)
	for d > 0 && !c.closing.Load() {
		s := min(d, sleepSlice)
		c.cfg.Sleep(s)
		d -= s
	}
}

// authenticated switches the connection to the limits of an
// authenticated session: the transport stops counting it against its
// address and takes Limits.Rate, and so does the stanza rate. Reader
// goroutine.
func (c *conn) authenticated() {
	c.authed = true
	c.t.Authenticated()
	c.stanzas = NewBucket(c.cfg.Limits.Rate.StanzasPerSecond, c.cfg.Limits.Rate.Burst)
}
