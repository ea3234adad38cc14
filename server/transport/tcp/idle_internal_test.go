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
	r := &deadlineReader{idle: time.Minute, pingWait: 10 * time.Second, parkAfter: 5 * time.Second, last: t0}
	if d, park := r.timers(false); !d.Equal(t0.Add(time.Minute)) || park {
		t.Errorf("idle timer: %v %v", d, park)
	}
	if d, park := r.timers(true); !d.Equal(t0.Add(5*time.Second)) || !park {
		t.Errorf("park timer: %v %v", d, park)
	}
	r.woke = t0.Add(30 * time.Second)
	if d, park := r.timers(true); !d.Equal(t0.Add(35*time.Second)) || !park {
		t.Errorf("park timer after a wake-up: %v %v", d, park)
	}
	r.pinged = t0.Add(time.Minute)
	if d, park := r.timers(false); !d.Equal(t0.Add(70*time.Second)) || park {
		t.Errorf("ping timeout: %v %v", d, park)
	}
	r.pinged = time.Time{}
	r.setHardDeadline(t0.Add(2 * time.Second))
	if d, park := r.timers(true); !d.Equal(t0.Add(2*time.Second)) || park {
		t.Errorf("hard deadline first: %v %v", d, park)
	}
	r.setHardDeadline(time.Time{})
	r.idle, r.parkAfter = 0, 0
	if d, _ := r.timers(true); !d.IsZero() {
		t.Errorf("no timers: %v, want no deadline", d)
	}
	r.now = func() time.Time { return t0.Add(time.Hour) }
	if err := r.expired(); err != nil {
		t.Errorf("idle pings off: expired() = %v", err)
	}
}
