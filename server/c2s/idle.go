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

// deadlineReader reads from a connection with the two time limits of a
// session: a hard deadline before binding, and an idle timer after which
// the server pings (XEP-0199) and then gives up. It hides timeouts from the
// XML decoder, which never sees a partial read.
type deadlineReader struct {
	conn     net.Conn
	now      func() time.Time
	idle     time.Duration
	pingWait time.Duration
	ping     func() // sends a ping; called on the reader goroutine

	mu       sync.Mutex
	deadline time.Time // hard deadline, zero when bound
}

func (r *deadlineReader) setHardDeadline(t time.Time) {
	r.mu.Lock()
	r.deadline = t
	r.mu.Unlock()
}

func (r *deadlineReader) Read(p []byte) (int, error) {
	pinged := false
	for {
		r.mu.Lock()
		hard := r.deadline
		r.mu.Unlock()
		wait := r.idle
		if pinged {
			wait = r.pingWait
		}
		d := r.now().Add(wait)
		if !hard.IsZero() && hard.Before(d) {
			d = hard
		}
		if err := r.conn.SetReadDeadline(d); err != nil {
			return 0, err
		}
		n, err := r.conn.Read(p)
		if n > 0 || err == nil {
			return n, err
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return n, err
		}
		if !hard.IsZero() && !r.now().Before(hard) {
			return 0, errPreauth
		}
		if pinged || r.ping == nil {
			return 0, errIdle
		}
		pinged = true
		r.ping()
	}
}
