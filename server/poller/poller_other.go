//go:build !linux

package poller

import (
	"errors"
	"time"
)

// Poller is only implemented on Linux; elsewhere New fails.
type Poller struct{}

// ErrUnsupported is returned by New on systems without epoll.
var ErrUnsupported = errors.New("poller: not supported on this system")

// New fails on systems without epoll.
func New() (*Poller, error) { return nil, ErrUnsupported }

// Park calls wake at once, in a new goroutine.
func (p *Poller) Park(c Conn, timeout time.Duration, wake func()) { go wake() }

// Close does nothing.
func (p *Poller) Close() {}
