package stream

import (
	"context"
	"testing"
)

// A session a resumption already ended (expireTaken, when the old reader
// did not stop in time) must not be ended a second time when that reader
// finally finishes.
func TestHibernateKeepsAnEndedSessionEnded(t *testing.T) {
	for _, lost := range []bool{false, true} {
		c := &conn{}
		c.out.ack.phase = smEnded
		if !c.hibernate(context.Background(), lost) {
			t.Errorf("lost=%v: hibernate lets finish end an already ended session again", lost)
		}
	}
}
