package tcp

import (
	"errors"
	"net"
	"os"
	"sync"
	"time"

	"github.com/parley-xmpp/parley/server/stream"
)

// deadlineReader reads from a connection with the time limits of a
// session: a hard deadline before binding, an idle timer after which the
// server pings (XEP-0199) and then gives up, and the park timer. It hides
// timeouts from the XML decoder, which never sees a partial read. It
// returns stream.ErrAuthTimeout, stream.ErrIdle and stream.ErrPark.
type deadlineReader struct {
	conn      net.Conn
	clk       *clock
	idle      time.Duration // 0: no idle pings
	pingWait  time.Duration
	events    stream.Reader // the engine: pings, throttles; reader goroutine
	pings     bool          // a bound session: silence gets a ping first
	parked    bool          // Park ran: the next Read is the first after a wake-up
	parkAfter time.Duration // 0: never park
	canPark   func() bool   // nothing buffered anywhere; reader goroutine
	lim       limiter       // Limits.Rate or PreauthRate in bytes (rate.go); reader-owned

	mu       sync.Mutex
	deadline stamp // hard deadline, zero when bound

	// Reader-owned. Stamps, not time.Time values: 8 bytes each where a
	// time.Time takes 24, which keeps every session's transport in a
	// smaller allocator size class (size_internal_test.go).
	last   stamp // the last read that returned data
	woke   stamp // when the reader last resumed after parking
	pinged stamp // when the pending idle ping went out, or zero
}

// clock is a listener's time source and the origin of its readers'
// stamps.
type clock struct {
	now  func() time.Time
	base time.Time // when the listener was made (with its monotonic reading)
}

func newClock(now func() time.Time) *clock { return &clock{now: now, base: now()} }

// stamp is an instant as the nanoseconds since its clock's base, plus
// one, so that 0 stands for no instant (time.Time's zero). Instants
// before the base are negative; the one nanosecond before it cannot be
// told from no instant, and no caller stamps anything before its
// listener existed.
type stamp int64

// stamp returns t as a stamp of c (0 for the zero time).
func (c *clock) stamp(t time.Time) stamp {
	if t.IsZero() {
		return 0
	}
	return stamp(t.Sub(c.base)) + 1
}

// time returns the instant of s (the zero time for 0).
func (c *clock) time(s stamp) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return c.base.Add(time.Duration(s - 1))
}

// now returns the current time of the reader's clock.
func (r *deadlineReader) now() time.Time { return r.clk.now() }

func (r *deadlineReader) setHardDeadline(t time.Time) {
	r.mu.Lock()
	r.deadline = r.clk.stamp(t)
	r.mu.Unlock()
}

// timers returns when the next time limit falls due (zero: none),
// leaving out the park timer unless withPark.
func (r *deadlineReader) timers(withPark bool) (d time.Time, park bool) {
	r.mu.Lock()
	hard := r.clk.time(r.deadline)
	r.mu.Unlock()
	last := r.clk.time(r.last)
	switch {
	case r.pinged != 0:
		d = r.clk.time(r.pinged).Add(r.pingWait)
	case r.idle > 0:
		d = last.Add(r.idle)
	}
	if !hard.IsZero() && (d.IsZero() || hard.Before(d)) {
		d = hard
	}
	if withPark && r.parkAfter > 0 {
		from := last
		if r.woke > r.last {
			from = r.clk.time(r.woke)
		}
		if p := from.Add(r.parkAfter); d.IsZero() || p.Before(d) {
			return p, true
		}
	}
	return d, false
}

func (r *deadlineReader) Read(p []byte) (int, error) {
	if r.last == 0 {
		r.last = r.clk.stamp(r.now())
	}
	if r.parked {
		r.parked = false
		r.woke = r.clk.stamp(r.now()) // the park timer counts from here
	}
	for {
		d, park := r.timers(r.canPark != nil && r.canPark())
		if err := r.conn.SetReadDeadline(d); err != nil {
			return 0, err
		}
		if r.lim.chunk > 0 && len(p) > r.lim.chunk {
			p = p[:r.lim.chunk]
		}
		n, err := r.conn.Read(p)
		if n > 0 || err == nil {
			now := r.now()
			r.last, r.pinged = r.clk.stamp(now), 0
			if wait := r.lim.bytes.Take(n, now); wait > 0 && r.events != nil {
				r.events.Throttle(wait) // Limits.Rate: read on only once paid
			}
			return n, err
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return n, err
		}
		if park {
			return 0, stream.ErrPark
		}
		if err := r.expired(); err != nil {
			return 0, err
		}
	}
}

// expired acts on the time limits due now: an error that ends the
// connection, or nil after sending an idle ping.
func (r *deadlineReader) expired() error {
	now := r.now()
	r.mu.Lock()
	hard := r.clk.time(r.deadline)
	r.mu.Unlock()
	if !hard.IsZero() && !now.Before(hard) {
		return stream.ErrAuthTimeout
	}
	if r.pinged != 0 {
		if !now.Before(r.clk.time(r.pinged).Add(r.pingWait)) {
			return stream.ErrIdle
		}
		return nil
	}
	if r.idle > 0 && !now.Before(r.clk.time(r.last).Add(r.idle)) {
		if !r.pings {
			return stream.ErrIdle
		}
		r.pinged = r.clk.stamp(now)
		r.events.IdlePing()
	}
	return nil
}

// Parkable implements stream.Parker: the record layer and the decoder
// hold no partial input.
func (c *conn) Parkable() bool {
	tc := c.tls.Load()
	return tc != nil && tc.Idle() && c.dec.AtBoundary()
}

// Park implements stream.Parker: the decoder's and the TLS layer's
// buffers and cipher states are released, and the session waits for
// input (or a timer of the session, or the connection being closed)
// without a goroutine of its own where the platform allows
// (park_linux.go); then resume carries on as the reader.
func (c *conn) Park(resume func()) {
	c.dec.Release()
	c.tls.Load().Park()
	c.l.parks.Add(1)
	c.rd.parked = true
	c.suspend(resume)
}
