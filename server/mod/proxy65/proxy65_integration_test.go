package proxy65_test

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/bytestreams/bytestreamstest"
	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/mod/proxy65"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/disco"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// setup starts a server with a proxy65 listener on loopback.
func setup(t *testing.T, settings map[string]any) *xmpptest.Server {
	t.Helper()
	return xmpptest.NewServer(t, func(c *config.Config) {
		c.Listeners = append(c.Listeners, config.Listener{Type: config.ListenerProxy65, Address: "127.0.0.1:0"})
		if settings != nil {
			c.Modules.SetSection("proxy65", settings)
		}
	})
}

// iq sends an IQ to the proxy and returns the result or the error.
func iq(t *testing.T, c *client.Client, typ string, q *stanza.Element) (*stanza.Element, error) {
	t.Helper()
	return c.SendIQ(xmpptest.Context(t, 10*time.Second), stanza.NewIQ(typ, "", "proxy.localhost", q))
}

// socks5 connects to the proxy at addr for hash as a XEP-0065 party.
func socks5(t *testing.T, addr, hash string) net.Conn {
	t.Helper()
	c, rep := bytestreamstest.Connect(t, addr, hash)
	if rep != 0 {
		t.Fatalf("the proxy refused the connection: reply %d", rep)
	}
	return c
}

func hash(sid, requester, target string) string {
	sum := sha1.Sum([]byte(sid + requester + target))
	return hex.EncodeToString(sum[:])
}

// The proxy is listed and described by disco, gives its network address,
// and relays a stream its Requester activates; nobody else can activate
// it, and a stream with one party cannot be.
func TestProxyRelaysActivatedStream(t *testing.T) {
	s := setup(t, nil)
	s.AddUser(t, "alice", "pw")
	s.AddUser(t, "bob", "pw")
	s.AddUser(t, "carol", "pw")
	alice := s.Client(t, "alice", "pw", "desk")
	bob := s.Client(t, "bob", "pw", "phone")
	carol := s.Client(t, "carol", "pw", "laptop")

	items, err := alice.SendIQ(xmpptest.Context(t, 10*time.Second), stanza.NewIQ(stanza.TypeGet, "", "localhost", stanza.New(disco.NSItems, "query")))
	if err != nil {
		t.Fatal(err)
	}
	listed := false
	for _, it := range items.Payload().ChildrenNamed(disco.NSItems, "item") {
		listed = listed || it.Get("jid") == "proxy.localhost"
	}
	if !listed {
		t.Fatalf("proxy.localhost not in the server's items: %s", items)
	}
	info, err := iq(t, alice, stanza.TypeGet, stanza.New(disco.NSInfo, "query"))
	if err != nil {
		t.Fatal(err)
	}
	id := info.Payload().Child(disco.NSInfo, "identity")
	if id == nil || id.Get("category") != "proxy" || id.Get("type") != "bytestreams" {
		t.Fatalf("disco#info: %s", info)
	}

	res, err := iq(t, alice, stanza.TypeGet, stanza.New(proxy65.NS, "query"))
	if err != nil {
		t.Fatal(err)
	}
	sh := res.Payload().Child(proxy65.NS, "streamhost")
	want := s.App.Addrs(config.ListenerProxy65)[0].(*net.TCPAddr)
	if sh == nil || sh.Get("jid") != "proxy.localhost" || sh.Get("host") != "127.0.0.1" || sh.Get("port") != strconv.Itoa(want.Port) {
		t.Fatalf("streamhost %s, want 127.0.0.1:%d", res, want.Port)
	}
	addr := net.JoinHostPort(sh.Get("host"), sh.Get("port"))

	const sid = "vxf9n471bn46"
	h := hash(sid, alice.JID().String(), bob.JID().String())
	activate := func(c *client.Client, target string) error {
		_, err := iq(t, c, stanza.TypeSet, stanza.New(proxy65.NS, "query", "sid", sid).Append(stanza.New(proxy65.NS, "activate").AppendText(target)))
		return err
	}
	condition := func(err error) stanza.Condition {
		var se *stanza.Error
		if !errors.As(err, &se) {
			t.Fatalf("not a stanza error: %v", err)
		}
		return se.Condition
	}
	atBob := socks5(t, addr, h)
	if err := activate(alice, bob.JID().String()); condition(err) != stanza.NotAllowed {
		t.Fatalf("activation with only the target connected: %v", err)
	}
	atAlice := socks5(t, addr, h)
	if err := activate(carol, bob.JID().String()); condition(err) != stanza.ItemNotFound {
		t.Fatalf("activation by a third party: %v", err)
	}
	if err := activate(alice, "not a jid@"); condition(err) != stanza.JIDMalformed {
		t.Fatalf("activation of a malformed target: %v", err)
	}
	if _, err := iq(t, alice, stanza.TypeSet, stanza.New(proxy65.NS, "query", "sid", sid)); condition(err) != stanza.BadRequest {
		t.Fatalf("activation without a target: %v", err)
	}
	if err := activate(alice, bob.JID().String()); err != nil {
		t.Fatal(err)
	}
	msg := []byte("a file through the proxy")
	atAlice.Write(msg)
	got := make([]byte, len(msg))
	atBob.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(atBob, got); err != nil || string(got) != string(msg) {
		t.Fatalf("bob read %q, %v", got, err)
	}
}

// modules.proxy65.host and port replace the advertised address (a proxy
// behind NAT).
func TestProxyAdvertisedAddress(t *testing.T) {
	s := setup(t, map[string]any{"host": "files.example.org", "port": 7625})
	s.AddUser(t, "alice", "pw")
	alice := s.Client(t, "alice", "pw", "desk")
	res, err := iq(t, alice, stanza.TypeGet, stanza.New(proxy65.NS, "query"))
	if err != nil {
		t.Fatal(err)
	}
	sh := res.Payload().Child(proxy65.NS, "streamhost")
	if sh == nil || sh.Get("host") != "files.example.org" || sh.Get("port") != "7625" {
		t.Fatalf("streamhost %s", res)
	}
}
