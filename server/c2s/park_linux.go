//go:build linux

package c2s

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"
)

// parkSupported: readers of idle sessions park.
const parkSupported = true

// poller waits for input on the sockets of parked sessions with one epoll
// instance and one goroutine, so that a parked session has no goroutine
// (and no stack) at all: only its registration, a timer for its next
// time limit, and its heap state.
//
// A parked session wakes on input (EPOLLIN, level-triggered, so input that
// arrived before the registration is reported at once), on its timer, or
// when its connection is closed (the TLS layer's close hook: a closed
// socket leaves the epoll set silently). Registrations are keyed by a
// number that is never reused, not by file descriptor, so an event for a
// session that already woke is ignored.
type poller struct {
	epfd int
	stop [2]int // a pipe: writing to stop[1] ends the loop

	mu     sync.Mutex
	nextID uint64
	parked map[uint64]*parkedConn
	closed bool
}

type parkedConn struct {
	c     *conn
	timer *time.Timer
}

// stopID is the registration of the stop pipe.
const stopID = 0

func newPoller() (*poller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("c2s: epoll_create1: %w", err)
	}
	p := &poller{epfd: epfd, parked: make(map[uint64]*parkedConn)}
	if err := syscall.Pipe2(p.stop[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		syscall.Close(epfd)
		return nil, fmt.Errorf("c2s: pipe2: %w", err)
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, p.stop[0], &ev); err != nil {
		p.closeFDs()
		return nil, fmt.Errorf("c2s: epoll_ctl: %w", err)
	}
	go p.run()
	return p, nil
}

func (p *poller) closeFDs() {
	syscall.Close(p.stop[0])
	syscall.Close(p.stop[1])
	syscall.Close(p.epfd)
}

// run delivers epoll events until the poller is closed.
func (p *poller) run() {
	events := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			// Not expected; wake everyone so that no session is stuck.
			p.shutdown()
			p.closeFDs()
			return
		}
		for _, ev := range events[:n] {
			id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if id == stopID {
				p.closeFDs()
				return
			}
			p.wake(id)
		}
	}
}

// park registers c, whose reader is about to end, until it has input.
func (p *poller) park(c *conn) {
	due, _ := c.rd.timers(false)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		go c.resume()
		return
	}
	p.nextID++
	id := p.nextID
	e := &parkedConn{c: c}
	p.parked[id] = e
	if !due.IsZero() {
		// The callback takes p.mu, so it sees e.timer set.
		e.timer = time.AfterFunc(due.Sub(c.cfg.Now()), func() { p.wake(id) })
	}
	p.mu.Unlock()
	c.tls.SetCloseHook(func() { p.wake(id) })
	if err := p.ctl(c, syscall.EPOLL_CTL_ADD, id); err != nil {
		p.wake(id) // closed meanwhile, or epoll refused: read on
	}
}

// ctl adds (or re-arms) c's socket with registration id, or removes it.
// It fails if the connection is closed.
func (p *poller) ctl(c *conn, op int, id uint64) error {
	sc, ok := c.raw.(syscall.Conn)
	if !ok {
		return errors.New("c2s: not a socket")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var cerr error
	// Control keeps the descriptor open while it runs: fd is c's socket.
	err = rc.Control(func(fd uintptr) {
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: int32(uint32(id)), Pad: int32(uint32(id >> 32))}
		cerr = syscall.EpollCtl(p.epfd, op, int(fd), &ev)
		if op == syscall.EPOLL_CTL_ADD && errors.Is(cerr, syscall.EEXIST) {
			// Left from an earlier park whose wake-up raced with its
			// registration: take it over.
			cerr = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_MOD, int(fd), &ev)
		}
	})
	if err != nil {
		return err
	}
	return cerr
}

// wake resumes the session registered as id, once.
func (p *poller) wake(id uint64) {
	p.mu.Lock()
	e := p.parked[id]
	delete(p.parked, id)
	p.mu.Unlock()
	if e == nil {
		return
	}
	if e.timer != nil {
		e.timer.Stop()
	}
	e.c.tls.SetCloseHook(nil)
	_ = p.ctl(e.c, syscall.EPOLL_CTL_DEL, id) // fails harmlessly once closed
	go e.c.resume()
}

// shutdown wakes every parked session and refuses new ones.
func (p *poller) shutdown() {
	p.mu.Lock()
	p.closed = true
	ids := make([]uint64, 0, len(p.parked))
	for id := range p.parked {
		ids = append(ids, id)
	}
	p.mu.Unlock()
	for _, id := range ids {
		p.wake(id)
	}
}

// close stops the poller after waking what is still parked.
func (p *poller) close() {
	p.shutdown()
	_, _ = syscall.Write(p.stop[1], []byte{1})
}

// suspend parks c with the server's poller.
func (c *conn) suspend() {
	p, err := c.srv.poller()
	if err != nil {
		c.log.Warn("c2s: cannot park idle sessions", "err", err)
		go c.resume()
		return
	}
	p.park(c)
}

// poller returns the server's poller, started on first use.
func (s *Server) poller() (*poller, error) {
	s.pollMu.Lock()
	defer s.pollMu.Unlock()
	if s.poll == nil && s.pollErr == nil {
		s.poll, s.pollErr = newPoller()
	}
	return s.poll, s.pollErr
}

// stopPoller ends the poller once every connection has ended.
func (s *Server) stopPoller() {
	s.pollMu.Lock()
	defer s.pollMu.Unlock()
	if s.poll != nil {
		s.poll.close()
		s.poll = nil
	}
}
