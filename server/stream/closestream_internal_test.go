package stream

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// On a clean close, what is still queued is written by closeStream; it
// must go through the same hand-off as the writer's: counted as
// unacknowledged with stream management (XEP-0198), handed back when the
// write fails without it. Either way a failed write loses nothing: the
// session's end (drainAll) gets the stanza back for the router; with
// stream management, so does a written one the client never acknowledged.
func TestCloseStreamHandsOffQueued(t *testing.T) {
	for _, tc := range []struct{ smOn, writeFails bool }{{true, true}, {false, true}, {true, false}} {
		smOn := tc.smOn
		local, peer := net.Pipe()
		if tc.writeFails {
			peer.Close()
		} else {
			go func() { _, _ = io.Copy(io.Discard, peer) }()
		}
		cfg := &Config{Now: time.Now}
		cfg.Limits.WriteTimeout = time.Second
		cfg.SM.MaxUnacked = 100
		cfg.SM.AckEvery = 5
		cfg.SM.AckInterval = time.Hour
		c := &conn{cfg: cfg, t: netTransport{local}, sentHeader: true}
		c.out.ack.on = smOn
		c.out.ack.phase = smLive
		msg := stanza.NewMessage(stanza.TypeChat, "carol@localhost/phone", "queued at close")
		msg.Set("from", "alice@localhost/home")
		c.out.items = []*stanza.Element{msg}

		c.closeStream(nil)
		left, _ := c.drainAll()
		if len(left) != 1 || left[0] != msg {
			t.Errorf("%+v: the session's end gets %d stanzas back, want the queued message", tc, len(left))
		}
		local.Close()
		peer.Close()
	}
}
