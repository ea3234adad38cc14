package c2s

import (
	"errors"
	"net"
	"os"
	"sync"
	"time"
)

// errIdle is returned by deadlineReader when the peer stayed silent after
// a ping.
var errIdle = errors.New("c2s: peer silent after ping")

// errPreauth is returned when a connection did not bind in time.
var errPreauth = errors.New("c2s: authentication timed out")

// errPark is returned by deadlineReader when the connection has been
// silent for ParkAfter with nothing buffered: the reader may stop and
// wait for input without a goroutine stack of its own (park).
var errPark = errors.New("c2s: idle, parking the reader")

// deadlineReader reads from a connection with the time limits of a
// session: a hard deadline before binding, an idle timer after which the
// server pings (XEP-0199) and then gives up, and the park timer. It hides
// timeouts from the XML decoder, which never sees a partial read.
type deadlineReader struct {
	conn      net.Conn
	now       func() time.Time
	idle      time.Duration // 0: no idle pings
	pingWait  time.Duration
	ping      func()        // sends a ping; called on the reader goroutine
	parkAfter time.Duration // 0: never park
	canPark   func() bool   // nothing buffered anywhere; reader goroutine
	lim       limiter       // Limits.Rate or PreauthRate (rate.go); reader-owned
	throttle  func(time.Duration)

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
			if wait := r.lim.bytes.take(n, r.last); wait > 0 && r.throttle != nil {
				r.throttle(wait) // Limits.Rate: read on only once paid
			}
			return n, err
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return n, err
		}
		if park {
			return 0, errPark
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
		return errPreauth
	}
	if !r.pinged.IsZero() {
		if !now.Before(r.pinged.Add(r.pingWait)) {
			return errIdle
		}
		return nil
	}
	if r.idle > 0 && !now.Before(r.last.Add(r.idle)) {
		if r.ping == nil {
			return errIdle
		}
		r.pinged = now
		r.ping()
	}
	return nil
}

// parkable reports whether the reader may stop: a bound session on a
// connection whose record layer and decoder hold no partial input.
func (c *conn) parkable() bool {
	return c.ph == phaseBound && c.tls != nil && c.tls.Idle() && c.dec.AtBoundary()
}

// park ends the reader goroutine of an idle session: the decoder's and the
// TLS layer's buffers and cipher states are released, and the session
// waits for input (or a timer of the session, or the connection being
// closed) without a goroutine of its own where the platform allows
// (park_linux.go); then resume carries on as the reader.
func (c *conn) park() {
	c.dec.Release()
	c.tls.Park()
	c.srv.parks.Add(1)
	c.suspend()
}

// resume is the reader again after a park.
func (c *conn) resume() {
	c.rd.woke = c.cfg.Now()
	c.loop(c.ctx)
}
