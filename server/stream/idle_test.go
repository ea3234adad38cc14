package stream_test

import (
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// A session silent for idle_ping gets a XEP-0199 ping from the server; one
// that answers stays, one that stays silent for ping_timeout more is closed
// with <connection-timeout/>.
func TestIdlePingDetectsDeadPeers(t *testing.T) {
	s, alice, bob := newServer(t, func(c *config.Config) {
		c.Limits.IdlePing = 700 * time.Millisecond
		c.Limits.PingTimeout = 700 * time.Millisecond
	})
	// alice and bob are served by the client library, which answers pings
	// (an unknown IQ gets an error reply, and any reply counts).
	s.AddUser(t, "dead", "pw")
	s.AddUser(t, "lively", "pw")
	dead := loginRaw(t, s, "dead", "pw", "r")
	lively := loginRaw(t, s, "lively", "pw", "r")

	ping := dead.mustNext()
	if stanza.KindOf(ping) != stanza.KindIQ || ping.Type() != stanza.TypeGet || ping.Child("urn:xmpp:ping", "ping") == nil {
		t.Fatalf("expected a ping, got %s", ping)
	}
	if ping.From() != s.Domain() || ping.To() != dead.full.String() {
		t.Fatalf("ping addressing: %s", ping)
	}
	// lively answers each ping for three rounds and survives.
	for range 3 {
		p := lively.mustNext()
		if p.Child("urn:xmpp:ping", "ping") == nil {
			t.Fatalf("expected a ping, got %s", p)
		}
		lively.send(stanza.Result(p, nil))
	}
	// dead never answers: it is closed.
	dead.expectStreamError(stream.ConnectionTimeout)
	alive(t, alice, bob)
	alive(t, bob, alice)
}
