package stream

import (
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/metrics"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// discardConn is a connection whose writes always succeed at once.
type discardConn struct{ net.Conn }

func (discardConn) Write(b []byte) (int, error)      { return len(b), nil }
func (discardConn) SetWriteDeadline(time.Time) error { return nil }
func (discardConn) Close() error                     { return nil }
func (discardConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
func (discardConn) SetReadDeadline(time.Time) error  { return nil }
func (discardConn) Read([]byte) (int, error)         { select {} }

// benchConn returns a bound-looking connection writing to discardConn,
// with the server's default limits.
func benchConn(b *testing.B, smOn bool) *conn {
	b.Helper()
	cfg := &Config{}
	cfg.withDefaults()
	c := &conn{cfg: cfg, t: netTransport{discardConn{}}, sentHeader: true, done: make(chan struct{})}
	c.flushFn = c.flush
	c.out.max = cfg.Limits.OutboundQueue
	c.out.maxBytes = cfg.Limits.OutboundQueueBytes
	c.out.ack.on = smOn
	return c
}

// BenchmarkDeliver measures a delivery of a chat message to a session
// through its queue and writer: the path every routed stanza takes.
func BenchmarkDeliver(b *testing.B) {
	for _, v := range []struct {
		sm, metrics bool
	}{{false, false}, {true, false}, {false, true}, {true, true}} {
		name := "plain"
		if v.sm {
			name = "sm"
		}
		if v.metrics {
			name += "-metrics" // with the server's metrics on
		}
		smOn := v.sm
		b.Run(name, func(b *testing.B) {
			c := benchConn(b, smOn)
			if v.metrics {
				c.cfg.Metrics = metrics.New(metrics.State{})
			}
			msg := stanza.NewMessage(stanza.TypeChat, "carol@localhost/phone", "Hello, this is a chat message of an ordinary length.")
			msg.Set("from", "alice@localhost/home")
			msg.Set("id", "abcdef0123456789")
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := c.Deliver(msg); err != nil {
					b.Fatal(err)
				}
				if i%64 == 63 {
					// As a client reading and acknowledging: the queue
					// never fills up.
					waitWriter(c)
					if smOn {
						c.out.mu.Lock()
						n := len(c.out.ack.unacked)
						_ = c.out.ackLocked(c.out.ack.acked + uint32(n))
						c.out.mu.Unlock()
					}
				}
			}
			b.StopTimer()
			waitWriter(c)
		})
	}
}

// waitWriter waits until c's writer has written everything queued.
func waitWriter(c *conn) {
	for {
		c.out.mu.Lock()
		w := c.out.writing
		c.out.mu.Unlock()
		if !w {
			return
		}
		runtime.Gosched()
	}
}
