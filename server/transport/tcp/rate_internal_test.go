package tcp

import (
	"net"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/stream"
)

// endless is a connection that always has input.
type endless struct {
	net.Conn
	reads []int
}

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	e.reads = append(e.reads, len(p))
	return len(p), nil
}
func (e *endless) SetReadDeadline(time.Time) error { return nil }

// The reader of a client that sends as fast as it can takes no more than
// the byte rate after the burst: measured on a fake clock that only the
// throttle's sleeps advance, so the figure does not depend on the
// machine.
func TestReaderByteRate(t *testing.T) {
	const (
		rate  = 64 << 10
		burst = 2 * time.Second
		total = 1 << 20
	)
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	nc := &endless{}
	r := &deadlineReader{conn: nc, clk: newClock(clock), lim: newLimiter(stream.Rate{BytesPerSecond: rate, Burst: burst})}
	r.events = clockThrottle{&now}
	start := now
	buf := make([]byte, 16<<10)
	read := 0
	for read < total {
		n, err := r.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		read += n
	}
	elapsed := now.Sub(start)
	want := time.Duration(float64(read-2*rate) / rate * float64(time.Second))
	if elapsed < want || elapsed > want+time.Second/10 {
		t.Fatalf("%d bytes took %v of the fake clock, want %v (burst %d, then %d/s)", read, elapsed, want, 2*rate, rate)
	}
	for _, n := range nc.reads {
		if n > rate/10 {
			t.Fatalf("a read of %d bytes: more than a tenth of a second's worth (%d)", n, rate/10)
		}
	}
}

// clockThrottle is a stream.Reader whose throttle advances a fake clock.
type clockThrottle struct{ now *time.Time }

func (clockThrottle) IdlePing()                  {}
func (c clockThrottle) Throttle(d time.Duration) { *c.now = c.now.Add(d) }
