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
	now       func() time.Time
	idle      time.Duration // 0: no idle pings
	pingWait  time.Duration
	events    stream.Reader // the engine: pings, throttles; reader goroutine
	pings     bool          // a bound session: silence gets a ping first
	parked    bool          // Park ran: the next Read is the first after a wake-up
	parkAfter time.Duration // 0: never park
	canPark   func() bool   // nothing buffered anywhere; reader goroutine
	lim       limiter       // Limits.Rate or PreauthRate in bytes (rate.go); reader-owned

	mu       sync.Mutex
	deadline time.Time // hard deadline, zero when bound

	// Reader-owned.
	last   time.Time // the last read that returned data
	woke   time.Time // when the reader last resumed after parking
	pinged time.Time // when the pending idle ping went out, or zero
}

func (r *deadlineReader) setHardDeadline(t time.Time) {
	r.mu.Lock()
	r.deadline = t
	r.mu.Unlock()
}

// timers returns when the next time limit falls due (zero: none),
// leaving out the park timer unless withPark.
func (r *deadlineReader) timers(withPark bool) (d time.Time, park bool) {
	r.mu.Lock()
	hard := r.deadline
	r.mu.Unlock()
	switch {
	case !r.pinged.IsZero():
		d = r.pinged.Add(r.pingWait)
	case r.idle > 0:
		d = r.last.Add(r.idle)
	}
	if !hard.IsZero() && (d.IsZero() || hard.Before(d)) {
		d = hard
	}
	if withPark && r.parkAfter > 0 {
		from := r.last
		if r.woke.After(from) {
			from = r.woke
		}
		if p := from.Add(r.parkAfter); d.IsZero() || p.Before(d) {
			return p, true
		}
	}
	return d, false
}

func (r *deadlineReader) Read(p []byte) (int, error) {
	if r.last.IsZero() {
		r.last = r.now()
	}
	if r.parked {
		r.parked = false
		r.woke = r.now() // the park timer counts from here
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
			r.last = r.now()
			r.pinged = time.Time{}
			if wait := r.lim.bytes.Take(n, r.last); wait > 0 && r.events != nil {
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
	hard := r.deadline
	r.mu.Unlock()
	if !hard.IsZero() && !now.Before(hard) {
		return stream.ErrAuthTimeout
	}
	if !r.pinged.IsZero() {
		if !now.Before(r.pinged.Add(r.pingWait)) {
			return stream.ErrIdle
		}
		return nil
	}
	if r.idle > 0 && !now.Before(r.last.Add(r.idle)) {
		if !r.pings {
			return stream.ErrIdle
		}
		r.pinged = now
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
