package tcp

import (
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/stream"
)

// Connections that come under the same limits share one snapshot; after
// the engine's limits change, new connections get the new ones and the
// old snapshot stays as it was.
func TestLimitsSnapshot(t *testing.T) {
	eng := stream.New(stream.Config{})
	l := New(Config{}, eng)
	a, b := l.limits(), l.limits()
	if a != b {
		t.Error("two connections under the same limits got two snapshots")
	}
	old := *a
	changed := eng.Limits()
	changed.ParkAfter += time.Second
	eng.SetLimits(changed)
	c := l.limits()
	if c == a || c.ParkAfter != changed.ParkAfter {
		t.Errorf("after the change: snapshot %p (was %p), park_after %v, want %v", c, a, c.ParkAfter, changed.ParkAfter)
	}
	if *a != old {
		t.Error("the old snapshot changed")
	}
}
