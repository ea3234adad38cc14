package extdisco_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/mod/extdisco"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// A user of another server asking this one for its services or for
// credentials gets <forbidden/>: the relay is for local users.
func TestRemoteUserForbidden(t *testing.T) {
	pa, pb := xmpptest.FreePort(t), xmpptest.FreePort(t)
	a := federatedTURN(t, "a.example", pa, "b.example", pb)
	federatedTURN(t, "b.example", pb, "a.example", pa)
	a.AddUser(t, "alice", "pw")
	alice := a.Client(t, "alice", "pw", "desk")
	ctx := xmpptest.Context(t, 30*time.Second)
	for _, q := range []*stanza.Element{
		stanza.New(extdisco.NS, "services"),
		stanza.New(extdisco.NS, "credentials").Append(stanza.New(extdisco.NS, "service", "host", "127.0.0.1", "type", "turn")),
	} {
		_, err := alice.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", "b.example", q))
		var se *stanza.Error
		if !errors.As(err, &se) || se.Condition != stanza.Forbidden {
			t.Errorf("%s from a remote user: %v, want forbidden", q.Name.Local, err)
		}
	}
}

// federatedTURN starts a server for domain with a turn listener and an s2s
// listener on port, routing peer to peerPort.
func federatedTURN(t *testing.T, domain string, port int, peer string, peerPort int) *xmpptest.Server {
	t.Helper()
	return xmpptest.NewServer(t, func(c *config.Config) {
		c.Domains = []string{domain}
		c.S2S.Enabled = true
		c.S2S.Routes = map[string]string{peer: "127.0.0.1:" + strconv.Itoa(peerPort)}
		c.Listeners = append(c.Listeners,
			config.Listener{Type: config.ListenerS2S, Address: "127.0.0.1:" + strconv.Itoa(port)},
			config.Listener{Type: config.ListenerTURN, Address: "127.0.0.1:0"})
	})
}
