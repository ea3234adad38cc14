package tcp

import (
	"testing"
	"time"
)

// The reader's deadline is the earliest due timer; the park timer counts
// from the later of the last input and the last wake-up, and only when
// parking is possible; idle 0 means no idle ping.
func TestDeadlineReaderTimers(t *testing.T) {
	t0 := time.Unix(1000, 0)
	now := t0
	clk := newClock(func() time.Time { return now })
	r := &deadlineReader{clk: clk, idle: time.Minute, pingWait: 10 * time.Second, parkAfter: 5 * time.Second, last: clk.stamp(t0)}
	if d, park := r.timers(false); !d.Equal(t0.Add(time.Minute)) || park {
		t.Errorf("idle timer: %v %v", d, park)
	}
	if d, park := r.timers(true); !d.Equal(t0.Add(5*time.Second)) || !park {
		t.Errorf("park timer: %v %v", d, park)
	}
	r.woke = clk.stamp(t0.Add(30 * time.Second))
	if d, park := r.timers(true); !d.Equal(t0.Add(35*time.Second)) || !park {
		t.Errorf("park timer after a wake-up: %v %v", d, park)
	}
	r.pinged = clk.stamp(t0.Add(time.Minute))
	if d, park := r.timers(false); !d.Equal(t0.Add(70*time.Second)) || park {
		t.Errorf("ping timeout: %v %v", d, park)
	}
	r.pinged = 0
	r.setHardDeadline(t0.Add(2 * time.Second))
	if d, park := r.timers(true); !d.Equal(t0.Add(2*time.Second)) || park {
		t.Errorf("hard deadline first: %v %v", d, park)
	}
	r.setHardDeadline(time.Time{})
	r.idle, r.parkAfter = 0, 0
	if d, _ := r.timers(true); !d.IsZero() {
		t.Errorf("no timers: %v, want no deadline", d)
	}
	now = t0.Add(time.Hour)
	if err := r.expired(); err != nil {
		t.Errorf("idle pings off: expired() = %v", err)
	}
}

// A stamp gives back the instant it was made from, the zero time is the
// zero stamp, and stamps order as their instants do.
func TestClockStamps(t *testing.T) {
	base := time.Now()
	clk := newClock(func() time.Time { return base })
	if s := clk.stamp(time.Time{}); s != 0 {
		t.Errorf("zero time: stamp %d, want 0", s)
	}
	if got := clk.time(0); !got.IsZero() {
		t.Errorf("zero stamp: %v, want the zero time", got)
	}
	for _, d := range []time.Duration{0, time.Nanosecond, time.Second, -time.Second, 90 * 24 * time.Hour} {
		in := base.Add(d)
		s := clk.stamp(in)
		if s == 0 {
			t.Errorf("%v after the base: zero stamp", d)
		}
		if got := clk.time(s); !got.Equal(in) {
			t.Errorf("%v after the base: back as %v, want %v", d, got, in)
		}
	}
	if a, b := clk.stamp(base.Add(time.Second)), clk.stamp(base.Add(2*time.Second)); a >= b {
		t.Errorf("stamps out of order: %d, %d", a, b)
	}
}
