//go:build linux

package poller

import (
	"net"
	"sync"
	"testing"
	"time"
)

// hookConn is a TCP connection with a close hook, as a transport has.
type hookConn struct {
	*net.TCPConn
	mu   sync.Mutex
	hook func()
}

func (h *hookConn) SetCloseHook(f func()) {
	h.mu.Lock()
	h.hook = f
	h.mu.Unlock()
}

func (h *hookConn) Close() error {
	err := h.TCPConn.Close()
	h.mu.Lock()
	f := h.hook
	h.mu.Unlock()
	if f != nil {
		f()
	}
	return err
}

// pair returns the two ends of a loopback TCP connection, the server end
// with a close hook.
func pair(t *testing.T) (*hookConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return &hookConn{TCPConn: server.(*net.TCPConn)}, client
}

func newPoller(t *testing.T) *Poller {
	t.Helper()
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// woken parks c and returns a channel closed when it wakes.
func woken(p *Poller, c Conn, timeout time.Duration) (chan struct{}, *int32) {
	ch := make(chan struct{})
	var mu sync.Mutex
	n := new(int32)
	p.Park(c, timeout, func() {
		mu.Lock()
		*n++
		first := *n == 1
		mu.Unlock()
		if first {
			close(ch)
		}
	})
	return ch, n
}

func wait(t *testing.T, ch chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("not woken by %s", what)
	}
}

func TestWakesOnInput(t *testing.T) {
	p := newPoller(t)
	s, c := pair(t)
	ch, _ := woken(p, s, 0)
	select {
	case <-ch:
		t.Fatal("woken without input")
	case <-time.After(50 * time.Millisecond):
	}
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	wait(t, ch, "input")
}

func TestWakesOnInputBeforePark(t *testing.T) {
	p := newPoller(t)
	s, c := pair(t)
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // let the byte arrive; level-triggered either way
	ch, _ := woken(p, s, 0)
	wait(t, ch, "input that arrived before parking")
}

func TestWakesOnTimer(t *testing.T) {
	p := newPoller(t)
	s, _ := pair(t)
	ch, _ := woken(p, s, 20*time.Millisecond)
	wait(t, ch, "timer")
}

func TestWakesOnClose(t *testing.T) {
	p := newPoller(t)
	s, _ := pair(t)
	ch, _ := woken(p, s, 0)
	s.Close()
	wait(t, ch, "close")
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hook != nil {
		t.Error("close hook still set after waking")
	}
}

func TestWakesOnceAndOnShutdown(t *testing.T) {
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	s, c := pair(t)
	ch, n := woken(p, s, 10*time.Millisecond)
	_, _ = c.Write([]byte("x"))
	wait(t, ch, "input or timer")
	time.Sleep(50 * time.Millisecond) // a second wake-up would come now
	s2, _ := pair(t)
	ch2, _ := woken(p, s2, 0)
	p.Close()
	wait(t, ch2, "shutdown")
	if *n != 1 {
		t.Errorf("woken %d times, want once", *n)
	}
	ch3, _ := woken(p, s2, 0)
	wait(t, ch3, "park after close")
}

func TestClosedSocketWakesAtOnce(t *testing.T) {
	p := newPoller(t)
	s, _ := pair(t)
	s.TCPConn.Close() // no hook yet: registration must fail
	ch, _ := woken(p, s, 0)
	wait(t, ch, "failed registration")
}

// The timers of many parked connections share the poller's: each wakes at
// its own time, in order, and a connection woken otherwise (closed, here)
// leaves the others' timers as they were and nothing behind.
func TestTimersInOrder(t *testing.T) {
	p := newPoller(t)
	var mu sync.Mutex
	var order []int
	done := make(chan struct{})
	timeouts := []time.Duration{120 * time.Millisecond, 40 * time.Millisecond, 80 * time.Millisecond}
	for i, d := range timeouts {
		s, _ := pair(t)
		p.Park(s, d, func() {
			mu.Lock()
			order = append(order, i)
			if len(order) == len(timeouts) {
				close(done)
			}
			mu.Unlock()
		})
	}
	// Earlier than all of them, then closed: its timer goes with it.
	closed, _ := pair(t)
	ch, n := woken(p, closed, 20*time.Millisecond)
	closed.Close()
	wait(t, ch, "close")
	untimed, _ := pair(t)
	chUntimed, _ := woken(p, untimed, 0)
	wait(t, done, "their timers")
	mu.Lock()
	if len(order) != 3 || order[0] != 1 || order[1] != 2 || order[2] != 0 {
		t.Errorf("woken in the order %v, want [1 2 0]", order)
	}
	mu.Unlock()
	select {
	case <-chUntimed:
		t.Error("a connection parked without a timer woke")
	default:
	}
	p.mu.Lock()
	left := len(p.due)
	p.mu.Unlock()
	if left != 0 || *n != 1 {
		t.Errorf("%d timers left, the closed connection woken %d times; want 0 and 1", left, *n)
	}
}
