package stream_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// Idle unauthenticated connections cost little, are all closed with
// <connection-timeout/> after preauth_timeout, and do not keep a normal
// client from logging in.
func TestIdleUnauthenticatedConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 1000 connections")
	}
	const (
		n       = 1000
		timeout = 3 * time.Second
	)
	s, alice, bob := newServer(t, func(c *config.Config) {
		c.Limits.PreauthTimeout = timeout
		// All from one address: more than the per-address cap allows
		// (tested in TestPreauthConnectionsPerAddress).
		c.Limits.PreauthConnectionsPerAddress = 2 * n
	})
	header := []byte((&raw{s: s}).streamHeader())

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	goBefore := runtime.NumGoroutine()

	// Half send a stream header and then nothing; half send nothing at all.
	conns := make([]net.Conn, n)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 50 {
				c, err := net.DialTimeout("tcp", s.Addr(), ioTimeout)
				if err != nil {
					errs <- err
					return
				}
				conns[i] = c
				if i%2 == 0 {
					_ = c.SetWriteDeadline(time.Now().Add(ioTimeout))
					if _, err := c.Write(header); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	})
	close(errs)
	for err := range errs {
		t.Fatalf("opening connections: %v", err)
	}
	opened := time.Since(start)
	t.Logf("opened %d connections in %v", n, opened)

	// While they are open, a normal client logs in and messages flow.
	carol := s.Client(t, "carol", "pw", "busy")
	alive(t, carol, bob)
	alive(t, alice, carol)

	if time.Since(start) < timeout/2 {
		runtime.GC()
		var during runtime.MemStats
		runtime.ReadMemStats(&during)
		goDuring := runtime.NumGoroutine()
		mem := int64(during.HeapAlloc+during.StackInuse) - int64(before.HeapAlloc+before.StackInuse)
		t.Logf("with %d idle connections: %d more goroutines, %d more bytes of heap and stacks (%d per connection)", n, goDuring-goBefore, mem, mem/n)
		if goDuring-goBefore > 2*n {
			t.Errorf("%d goroutines for %d idle connections", goDuring-goBefore, n)
		}
		if mem > n*(100<<10) {
			t.Errorf("%d bytes for %d idle connections: more than 100 KiB each", mem, n)
		}
	} else {
		t.Logf("opening took %v: memory not measured while all were open", opened)
	}

	// Each connection ends with the server's header, (features,) a
	// <connection-timeout/> stream error and the closing tag, then EOF.
	deadline := start.Add(timeout + 2*ioTimeout)
	failures := make(chan string, n)
	for w := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 50 {
				c := conns[i]
				_ = c.SetReadDeadline(deadline)
				data, err := io.ReadAll(c)
				if err != nil && !errors.Is(err, net.ErrClosed) {
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						failures <- "not closed by the server"
						continue
					}
					// A reset after the data is acceptable.
				}
				if msg := checkTimeoutStream(data, i%2 == 0); msg != "" {
					failures <- msg
				}
			}
		}()
	}
	wg.Wait()
	close(failures)
	count := map[string]int{}
	for f := range failures {
		count[f]++
	}
	for f, c := range count {
		t.Errorf("%d connections: %s", c, f)
	}

	// The server's goroutines are gone (bounded wait: there is no event).
	goDeadline := time.Now().Add(ioTimeout)
	for runtime.NumGoroutine() > goBefore+20 {
		if time.Now().After(goDeadline) {
			t.Fatalf("%d goroutines after the connections ended, %d before", runtime.NumGoroutine(), goBefore)
		}
		time.Sleep(10 * time.Millisecond)
	}
	alive(t, alice, bob)
	alive(t, carol, alice)
}

// checkTimeoutStream checks what the server sent to an idle connection.
func checkTimeoutStream(data []byte, sentHeader bool) string {
	dec := stream.NewDecoder(bytes.NewReader(data), stream.Limits{})
	if _, err := dec.ReadHeader(); err != nil {
		return "no stream header: " + err.Error()
	}
	el, err := dec.Next()
	if err != nil {
		return "nothing after the header: " + err.Error()
	}
	if sentHeader {
		if el.Name.Space != stanza.NSStream || el.Name.Local != "features" {
			return "no features: " + el.String()
		}
		if el, err = dec.Next(); err != nil {
			return "nothing after the features: " + err.Error()
		}
	}
	se := stream.ParseStreamError(el)
	if se == nil || se.Condition != stream.ConnectionTimeout {
		return "not a connection-timeout stream error: " + el.String()
	}
	if _, err := dec.Next(); !errors.Is(err, io.EOF) {
		return "no closing tag"
	}
	return ""
}
