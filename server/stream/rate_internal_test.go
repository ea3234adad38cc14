package stream

import (
	"testing"
	"time"
)

// A bucket lets its burst through at once, then as many tokens a second
// as its rate, and never saves more than its burst.
func TestBucket(t *testing.T) {
	t0 := time.Unix(1000, 0)
	b := NewBucket(100, 2*time.Second) // 100/s, 200 at once
	if d := b.Take(200, t0); d != 0 {
		t.Fatalf("the burst waits %v", d)
	}
	if d := b.Take(50, t0); d != 500*time.Millisecond {
		t.Fatalf("50 over the burst: wait %v, want 500ms", d)
	}
	// Half a second later the debt is paid; one more second buys 100.
	if d := b.Take(100, t0.Add(1500*time.Millisecond)); d != 0 {
		t.Fatalf("after paying: wait %v", d)
	}
	// A long silence refills to the burst, not beyond.
	if d := b.Take(201, t0.Add(time.Hour)); d != 10*time.Millisecond {
		t.Fatalf("one over a refilled burst: wait %v, want 10ms", d)
	}
	var off Bucket
	if d := off.Take(1<<30, t0); d != 0 {
		t.Fatalf("the zero bucket limits: %v", d)
	}
	if b := NewBucket(100, 0); b.burst != 100 {
		t.Fatalf("burst 0 holds %v tokens, want a second's worth", b.burst)
	}
}
