package stream

import (
	"errors"
	"log/slog"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// stallTransport is a netTransport whose writes block until release is
// closed and then fail, as a write to a peer that stopped reading fails
// once the connection is closed; entered is closed when the first write
// starts.
type stallTransport struct {
	netTransport
	entered, release chan struct{}
}

func (t *stallTransport) Write([]byte) error {
	select {
	case <-t.entered:
	default:
		close(t.entered)
	}
	<-t.release
	return errors.New("write on a closed connection")
}

// The session's end must not lose the batch the writer is writing: that
// batch is in neither the queue nor the unacknowledged stanzas while it
// is written, and comes back to the queue only when the write fails. A
// slow consumer's writer is often in that state when its closed
// connection ends the session, so the drain (drainAll) waits for the
// writer and gets the failed batch with the rest, for the router.
func TestDrainWaitsForWriter(t *testing.T) {
	local, peer := net.Pipe()
	defer peer.Close()
	tr := &stallTransport{netTransport: netTransport{local}, entered: make(chan struct{}), release: make(chan struct{})}
	cfg := &Config{Now: time.Now}
	cfg.Limits.WriteTimeout = time.Minute
	c := &conn{cfg: cfg, t: tr, log: slog.New(slog.DiscardHandler), sentHeader: true}
	c.flushFn = c.flush
	msg := stanza.NewMessage(stanza.TypeChat, "carol@localhost/phone", "being written as the session ends")
	msg.Set("from", "alice@localhost/home")
	if err := c.Deliver(msg); err != nil {
		t.Fatal(err)
	}
	<-tr.entered // the writer has taken msg from the queue and writes it
	// The write fails only after the session's end closed the queue, in
	// the middle of drainAll (which holds the queue's lock until it has
	// taken what it hands back, or until it waits for the writer).
	go func() {
		for {
			c.out.mu.Lock()
			closed := c.out.closed
			c.out.mu.Unlock()
			if closed {
				close(tr.release)
				return
			}
			runtime.Gosched()
		}
	}()
	left, _ := c.drainAll()
	if len(left) != 1 || left[0] != msg {
		t.Fatalf("the session's end gets %d stanzas back, want the message whose write failed", len(left))
	}
	c.out.mu.Lock()
	defer c.out.mu.Unlock()
	if c.out.writing || len(c.out.items) != 0 {
		t.Fatalf("after the drain: writer running %v, %d stanzas queued", c.out.writing, len(c.out.items))
	}
}
