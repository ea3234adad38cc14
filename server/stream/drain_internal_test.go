package stream

import (
	"bytes"
	"errors"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/router"
	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/xmpp/jid"
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
	c := &conn{cfg: cfg, t: tr, sentHeader: true}
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

// When the writer does not stop within the write timeout, the session's
// end goes on without it, and the writer hands the batch it then fails
// to write to the router itself: here the router delivers it to the
// account's other resource.
func TestOrphanedWriterHandsBack(t *testing.T) {
	table := session.NewTable(0)
	r := router.New(router.Options{Domains: []string{"localhost"}, Table: table})
	cfg := &Config{Now: time.Now, Router: r, Sessions: table}
	cfg.Limits.WriteTimeout = 10 * time.Millisecond

	// carol's other resource, available, on a connection read below.
	otherLocal, otherPeer := net.Pipe()
	defer otherPeer.Close()
	other := &conn{cfg: cfg, t: netTransport{otherLocal}, sentHeader: true}
	other.flushFn = other.flush
	otherSession := session.NewSession(jid.MustParse("carol@localhost/laptop"), other)
	otherSession.SetPresence(stanza.New(stanza.NSClient, "presence"), 0)
	if _, err := table.Bind(otherSession); err != nil {
		t.Fatal(err)
	}

	local, peer := net.Pipe()
	defer peer.Close()
	tr := &stallTransport{netTransport: netTransport{local}, entered: make(chan struct{}), release: make(chan struct{})}
	c := &conn{cfg: cfg, t: tr, sentHeader: true, domain: "localhost"}
	c.flushFn = c.flush
	c.session = session.NewSession(jid.MustParse("carol@localhost/phone"), c)
	msg := stanza.NewMessage(stanza.TypeChat, "carol@localhost/phone", "written by an orphaned writer")
	msg.Set("from", "alice@localhost/home")
	if err := c.Deliver(msg); err != nil {
		t.Fatal(err)
	}
	<-tr.entered
	if left, _ := c.drainAll(); len(left) != 0 { // the writer still holds msg
		t.Fatalf("the session's end gets %d stanzas back, want none", len(left))
	}
	close(tr.release) // the write fails now, after the session's end

	_ = otherPeer.SetReadDeadline(time.Now().Add(10 * time.Second))
	var got []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(got, []byte("written by an orphaned writer")) {
		n, err := otherPeer.Read(buf)
		if err != nil {
			t.Fatalf("the other resource got %q: %v", got, err)
		}
		got = append(got, buf[:n]...)
	}
}
