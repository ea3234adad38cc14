//go:build linux

package poller

import (
	"container/heap"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"
)

// Poller waits for input on the sockets of parked connections with one
// epoll instance and one goroutine.
//
// A parked connection wakes on input (EPOLLIN, level-triggered, so input
// that arrived before the registration is reported at once), on its timer,
// or when it is closed (its close hook: a closed socket leaves the epoll
// set silently). Registrations are keyed by a number that is never reused,
// not by file descriptor, so an event for a connection that already woke
// is ignored.
type Poller struct {
	epfd int
	stop [2]int // a pipe: writing to stop[1] ends the loop

	mu     sync.Mutex
	nextID uint64
	parked map[uint64]*parked
	closed bool
	// The timers of the parked connections: a heap ordered by due time,
	// with one runtime timer for the earliest (a time.Timer each cost a
	// parked session some 130 bytes for as long as it was parked).
	start time.Time // due times are offsets from it (monotonic)
	due   timerHeap
	timer *time.Timer // fires at due[0]'s time; nil before the first
}

type parked struct {
	c    Conn
	wake func()
	id   uint64
	when time.Duration // due, from Poller.start; with idx ≥ 0
	idx  int           // index in Poller.due, -1 if none
}

// stopID is the registration of the stop pipe.
const stopID = 0

// New starts a poller: one epoll instance and its goroutine, which runs
// until Close.
func New() (*Poller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("poller: epoll_create1: %w", err)
	}
	p := &Poller{epfd: epfd, parked: make(map[uint64]*parked), start: time.Now()}
	if err := syscall.Pipe2(p.stop[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		syscall.Close(epfd)
		return nil, fmt.Errorf("poller: pipe2: %w", err)
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, p.stop[0], &ev); err != nil {
		p.closeFDs()
		return nil, fmt.Errorf("poller: epoll_ctl: %w", err)
	}
	go p.run()
	return p, nil
}

func (p *Poller) closeFDs() {
	syscall.Close(p.stop[0])
	syscall.Close(p.stop[1])
	syscall.Close(p.epfd)
}

// run delivers epoll events until the poller is closed.
func (p *Poller) run() {
	events := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			// Not expected; wake everyone so that no connection is stuck.
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

// Park registers c, whose reader is about to end, until it has input, its
// timeout passes (timeout ≤ 0: no timer), or it is closed. wake is then
// called once, in a new goroutine; it is called at once (also in a new
// goroutine) if the poller is closed or c cannot be registered.
func (p *Poller) Park(c Conn, timeout time.Duration, wake func()) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		go wake()
		return
	}
	p.nextID++
	id := p.nextID
	e := &parked{c: c, wake: wake, id: id, idx: -1}
	p.parked[id] = e
	if timeout > 0 {
		p.addTimerLocked(e, timeout)
	}
	p.mu.Unlock()
	c.SetCloseHook(func() { p.wake(id) })
	if err := p.ctl(c, syscall.EPOLL_CTL_ADD, id); err != nil {
		p.wake(id) // closed meanwhile, or epoll refused: read on
	}
}

// ctl adds (or re-arms) c's socket with registration id, or removes it.
// It fails if the connection is closed.
func (p *Poller) ctl(c Conn, op int, id uint64) error {
	rc, err := c.SyscallConn()
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

// wake resumes the connection registered as id, once.
func (p *Poller) wake(id uint64) {
	p.mu.Lock()
	e := p.parked[id]
	delete(p.parked, id)
	if e != nil && e.idx >= 0 {
		heap.Remove(&p.due, e.idx)
	}
	p.mu.Unlock()
	if e == nil {
		return
	}
	e.c.SetCloseHook(nil)
	_ = p.ctl(e.c, syscall.EPOLL_CTL_DEL, id) // fails harmlessly once closed
	go e.wake()
}

// shutdown wakes every parked connection and refuses new ones.
func (p *Poller) shutdown() {
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

// Close stops the poller after waking what is still parked.
func (p *Poller) Close() {
	p.shutdown()
	_, _ = syscall.Write(p.stop[1], []byte{1})
}

// addTimerLocked makes e due after timeout. p.mu is held.
func (p *Poller) addTimerLocked(e *parked, timeout time.Duration) {
	e.when = time.Since(p.start) + timeout
	heap.Push(&p.due, e)
	if e.idx != 0 {
		return // not the earliest: the timer is set for an earlier one
	}
	if p.timer == nil {
		p.timer = time.AfterFunc(timeout, p.fire)
	} else {
		p.timer.Reset(timeout)
	}
}

// fire wakes the connections that are due, and sets the timer for the
// next one.
func (p *Poller) fire() {
	now := time.Since(p.start)
	var ids []uint64
	p.mu.Lock()
	for len(p.due) > 0 && p.due[0].when <= now {
		e := heap.Pop(&p.due).(*parked)
		ids = append(ids, e.id)
	}
	if len(p.due) > 0 {
		p.timer.Reset(p.due[0].when - now)
	}
	p.mu.Unlock()
	for _, id := range ids {
		p.wake(id)
	}
}

// timerHeap orders parked connections by due time (container/heap).
type timerHeap []*parked

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].when < h[j].when }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}

// Push implements heap.Interface.
func (h *timerHeap) Push(x any) {
	e := x.(*parked)
	e.idx = len(*h)
	*h = append(*h, e)
}

// Pop implements heap.Interface.
func (h *timerHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	e.idx = -1
	*h = old[:len(old)-1]
	if cap(*h) > 64 && len(*h) < cap(*h)/4 {
		*h = append(timerHeap(nil), *h...) // give back what a wave of parks grew
	}
	return e
}
