package c2s

import (
	"net"
	"testing"
	"time"
)

// A bucket lets its burst through at once, then as many tokens a second
// as its rate, and never saves more than its burst.
func TestBucket(t *testing.T) {
	t0 := time.Unix(1000, 0)
	b := newBucket(100, 2*time.Second) // 100/s, 200 at once
	if d := b.take(200, t0); d != 0 {
		t.Fatalf("the burst waits %v", d)
	}
	if d := b.take(50, t0); d != 500*time.Millisecond {
		t.Fatalf("50 over the burst: wait %v, want 500ms", d)
	}
	// Half a second later the debt is paid; one more second buys 100.
	if d := b.take(100, t0.Add(1500*time.Millisecond)); d != 0 {
		t.Fatalf("after paying: wait %v", d)
	}
	// A long silence refills to the burst, not beyond.
	if d := b.take(201, t0.Add(time.Hour)); d != 10*time.Millisecond {
		t.Fatalf("one over a refilled burst: wait %v, want 10ms", d)
	}
	var off bucket
	if d := off.take(1<<30, t0); d != 0 {
		t.Fatalf("the zero bucket limits: %v", d)
	}
	if b := newBucket(100, 0); b.burst != 100 {
		t.Fatalf("burst 0 holds %v tokens, want a second's worth", b.burst)
	}
}

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
	r := &deadlineReader{conn: nc, now: clock, lim: newLimiter(Rate{BytesPerSecond: rate, Burst: burst})}
	r.throttle = func(d time.Duration) { now = now.Add(d) }
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
