package poller

import (
	"errors"
	"sync"
)

// Shared is a poller started on first use and stopped for good by Close:
// one per server component whose connections park, for the component's
// lifetime. The zero value is ready to use.
type Shared struct {
	mu  sync.Mutex
	p   *Poller
	err error
}

// errClosed is Get's error after Close.
var errClosed = errors.New("poller: stopped")

// Get returns the poller, starting it on first use; it fails where New
// does, and after Close.
func (s *Shared) Get() (*Poller, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p == nil && s.err == nil {
		s.p, s.err = New()
	}
	return s.p, s.err
}

// Close stops the poller, if it was started (what is parked wakes), and
// makes Get fail from now on.
func (s *Shared) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p != nil {
		s.p.Close()
		s.p = nil
	}
	s.err = errClosed
}
