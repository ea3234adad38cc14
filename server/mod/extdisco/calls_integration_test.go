package extdisco_test

import (
	"context"
	"encoding/xml"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

const (
	nsJMI     = "urn:xmpp:jingle-message:0"
	nsJingle  = "urn:xmpp:jingle:1"
	nsRTP     = "urn:xmpp:jingle:apps:rtp:1"
	nsICEUDP  = "urn:xmpp:jingle:transports:ice-udp:1"
	nsDTLS    = "urn:xmpp:jingle:apps:dtls:0"
	nsHints   = "urn:xmpp:hints"
	callSID   = "a73sjjvkla37jfea"
	callMedia = "audio"
)

// A call as a client sets it up: the caller gets a relay from the
// built-in TURN server with the credentials XEP-0215 gave it, proposes
// the call to the callee's bare JID (XEP-0353), the callee proceeds to the
// caller's full JID, and the Jingle session-initiate (XEP-0166, RTP
// XEP-0167, ICE-UDP XEP-0176 with the relayed candidate) and the
// callee's transport-info reach the other side untouched, answered by
// IQ results.
func TestCallSetupRoutesUntouched(t *testing.T) {
	s := setup(t, nil, nil)
	s.AddUser(t, "alice", "pw")
	bobJID := s.AddUser(t, "bob", "pw")
	alice := s.Client(t, "alice", "pw", "phone")
	bob := s.Client(t, "bob", "pw", "laptop")
	xmpptest.Send(t, bob, stanza.New(stanza.NSClient, "presence"))
	xmpptest.Sync(t, bob)

	svc := services(t, s, alice)["turn/udp"]
	tc := turnClient(t, udpConn(t), addr(svc), svc)
	relay, err := tc.Allocate()
	if err != nil {
		t.Fatalf("allocation: %v", err)
	}
	defer relay.Close()
	relayed := relay.LocalAddr().(*net.UDPAddr)

	// XEP-0353: propose to the bare JID, no body.
	propose := stanza.New(stanza.NSClient, "message", "to", bobJID.String(), "type", stanza.TypeChat, "id", "prop-1").Append(
		stanza.New(nsJMI, "propose", "id", callSID).Append(stanza.New(nsRTP, "description", "media", callMedia)),
		stanza.New(nsHints, "store"))
	xmpptest.Send(t, alice, propose)
	got := xmpptest.Expect(t, bob, "the call proposal", func(el *stanza.Element) bool { return el.Child(nsJMI, "propose") != nil })
	if got.From() != alice.JID().String() {
		t.Fatalf("proposal from %q, want %s", got.From(), alice.JID())
	}
	sameXML(t, "the proposal", got.Child(nsJMI, "propose"), propose.Child(nsJMI, "propose"))

	proceed := stanza.New(stanza.NSClient, "message", "to", alice.JID().String(), "type", stanza.TypeChat).Append(
		stanza.New(nsJMI, "proceed", "id", callSID))
	xmpptest.Send(t, bob, proceed)
	got = xmpptest.Expect(t, alice, "the callee's proceed", func(el *stanza.Element) bool { return el.Child(nsJMI, "proceed") != nil })
	sameXML(t, "the proceed", got.Child(nsJMI, "proceed"), proceed.Child(nsJMI, "proceed"))

	// XEP-0166 session-initiate with the relayed candidate, to the full JID
	// that proceeded.
	jingle := stanza.New(nsJingle, "jingle", "action", "session-initiate", "initiator", alice.JID().String(), "sid", callSID).Append(
		stanza.New(nsJingle, "content", "creator", "initiator", "name", "voice", "senders", "both").Append(
			stanza.New(nsRTP, "description", "media", callMedia).Append(
				stanza.New(nsRTP, "payload-type", "id", "111", "name", "opus", "clockrate", "48000", "channels", "2")),
			stanza.New(nsICEUDP, "transport", "pwd", "asd88fgpdd777uzjYhagZg", "ufrag", "8hhy").Append(
				stanza.New(nsDTLS, "fingerprint", "hash", "sha-256", "setup", "actpass").AppendText("02:1A:CC:54:27:AB:EB:9C:53:3F:3E:4B:65:2E:7D:46:3F:54:42:CD:54:F1:7A:03:A2:7D:F9:B0:7F:46:19:B2"),
				stanza.New(nsICEUDP, "candidate", "component", "1", "foundation", "1", "generation", "0", "id", "el0747fg11",
					"ip", relayed.IP.String(), "port", strconv.Itoa(relayed.Port), "priority", "16777215", "protocol", "udp", "type", "relay",
					"rel-addr", "127.0.0.1", "rel-port", "1"))))
	bobGot, aliceGot := jingleHandler(bob), jingleHandler(alice)
	if _, err := alice.SendIQ(xmpptest.Context(t, 10*time.Second), stanza.NewIQ(stanza.TypeSet, "", bob.JID().String(), jingle)); err != nil {
		t.Fatalf("session-initiate: %v", err)
	}
	iq := <-bobGot // the result came after the handler had it
	if iq.From() != alice.JID().String() || iq.Type() != stanza.TypeSet {
		t.Fatalf("session-initiate %s: want an IQ set from %s", iq, alice.JID())
	}
	sameXML(t, "the session-initiate", iq.Child(nsJingle, "jingle"), jingle)

	// XEP-0176 transport-info the other way.
	info := stanza.New(nsJingle, "jingle", "action", "transport-info", "sid", callSID).Append(
		stanza.New(nsJingle, "content", "creator", "initiator", "name", "voice").Append(
			stanza.New(nsICEUDP, "transport", "pwd", "YH75Fviy6338Vbrhrlp8Yh", "ufrag", "9uB6").Append(
				stanza.New(nsICEUDP, "candidate", "component", "1", "foundation", "2", "generation", "0", "id", "y3s2b30v3r",
					"ip", "192.0.2.3", "network", "1", "port", "45664", "priority", "1015022", "protocol", "udp", "type", "srflx",
					"rel-addr", "10.0.1.1", "rel-port", "8998"))))
	if _, err := bob.SendIQ(xmpptest.Context(t, 10*time.Second), stanza.NewIQ(stanza.TypeSet, "", alice.JID().String(), info)); err != nil {
		t.Fatalf("transport-info: %v", err)
	}
	iq = <-aliceGot
	if iq.From() != bob.JID().String() {
		t.Fatalf("transport-info from %q, want %s", iq.From(), bob.JID())
	}
	sameXML(t, "the transport-info", iq.Child(nsJingle, "jingle"), info)
}

// jingleHandler answers the Jingle requests c receives with a result and
// hands them over, before the result leaves.
func jingleHandler(c *client.Client) <-chan *stanza.Element {
	got := make(chan *stanza.Element, 4)
	c.Handle(stanza.KindIQ, xml.Name{Space: nsJingle, Local: "jingle"}, func(el *stanza.Element) {
		got <- el
		ctx, cancel := context.WithTimeout(context.Background(), xmpptest.Wait)
		defer cancel()
		_ = c.Send(ctx, stanza.Result(el, nil))
	})
	return got
}

// sameXML fails unless got serialises as want does.
func sameXML(t *testing.T, what string, got, want *stanza.Element) {
	t.Helper()
	if got == nil || got.String() != want.String() {
		t.Fatalf("%s was changed on the way:\n got %s\nwant %s", what, got, want)
	}
}
