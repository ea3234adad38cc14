package stream_test

import (
	"testing"

	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

const nsCSI = "urn:xmpp:csi:0"

func directedPresence(to, status string) *stanza.Element {
	p := stanza.New(stanza.NSClient, "presence", "to", to)
	return p.Append(stanza.New(stanza.NSClient, "status").AppendText(status))
}

func chatState(to string) *stanza.Element {
	m := stanza.New(stanza.NSClient, "message", "to", to, "type", stanza.TypeChat)
	return m.Append(stanza.New("http://jabber.org/protocol/chatstates", "composing"))
}

// XEP-0352: while inactive, presence is coalesced per contact and
// messages without a body wait; a message with a body releases everything
// held, in order, before itself; <active/> releases what is held before
// the next stanza is answered.
func TestCSIHoldsAndFlushes(t *testing.T) {
	s, alice, _ := newServer(t)
	carol := newSMRaw(loginRaw(t, s, "carol", "pw", "phone"))
	if carol.features.Child(nsCSI, "csi") == nil {
		t.Fatalf("no <csi/> among the features: %s", carol.features)
	}
	to := carol.full.String()
	carol.send(stanza.New(stanza.NSClient, "presence"))
	carol.sync()
	carol.send(stanza.New(nsCSI, "inactive"))
	carol.sync() // an IQ reply is urgent: nothing is held yet anyway

	sendOrFail(t, alice, directedPresence(to, "first"))
	sendOrFail(t, alice, chatState(to))
	sendOrFail(t, alice, directedPresence(to, "second"))
	body := unique("urgent")
	sendOrFail(t, alice, stanza.NewMessage(stanza.TypeChat, to, body))

	// Only the latest presence of alice survives, in its place after the
	// chat state; then the message.
	el := carol.next()
	if stanza.KindOf(el) != stanza.KindMessage || el.Child("http://jabber.org/protocol/chatstates", "composing") == nil {
		t.Fatalf("first released stanza: %s, want the chat state", el)
	}
	el = carol.next()
	if stanza.KindOf(el) != stanza.KindPresence || el.ChildText(stanza.NSClient, "status") != "second" {
		t.Fatalf("second released stanza: %s, want alice's latest presence", el)
	}
	carol.expectBodies(body)

	// Held again, released by <active/> ahead of the ping's answer.
	sendOrFail(t, alice, directedPresence(to, "third"))
	syncClient(t, alice)
	carol.send(stanza.New(nsCSI, "active"))
	id := unique("ping")
	carol.send(stanza.NewIQ(stanza.TypeGet, id, s.Domain(), stanza.New(nsPing, "ping")))
	el = carol.next()
	if stanza.KindOf(el) != stanza.KindPresence || el.ChildText(stanza.NSClient, "status") != "third" {
		t.Fatalf("after <active/>: %s, want the held presence", el)
	}
	if el = carol.next(); el.ID() != id {
		t.Fatalf("after the held presence: %s, want the pong", el)
	}
	// Active again: stanzas flow at once.
	sendOrFail(t, alice, directedPresence(to, "fourth"))
	if el = carol.next(); el.ChildText(stanza.NSClient, "status") != "fourth" {
		t.Fatalf("while active: %s", el)
	}
}

// CSI elements before binding or unknown ones end the stream.
func TestCSIBadInput(t *testing.T) {
	s, _, _ := newServer(t)
	early := authedRaw(t, s, "carol", "pw")
	early.send(stanza.New(nsCSI, "inactive"))
	early.expectStreamError(stream.UnsupportedStanzaType)
	bad := loginRaw(t, s, "carol", "pw", "x")
	bad.send(stanza.New(nsCSI, "sleepy"))
	bad.expectStreamError(stream.UnsupportedStanzaType)
}

// A call invitation (XEP-0353 <propose/>, no body) is urgent: it reaches
// an inactive client at once, after what was held.
func TestCSICallInvitationIsUrgent(t *testing.T) {
	alice, carol := inactiveWithHeld(t)
	to := carol.full.String()
	id := unique("call")
	call := stanza.New(stanza.NSClient, "message", "to", to, "type", stanza.TypeChat).Append(
		stanza.New("urn:xmpp:jingle-message:0", "propose", "id", id).Append(
			stanza.New("urn:xmpp:jingle:apps:rtp:1", "description", "media", "audio")))
	sendOrFail(t, alice, call)

	if el := carol.next(); stanza.KindOf(el) != stanza.KindPresence || el.ChildText(stanza.NSClient, "status") != "held" {
		t.Fatalf("first released stanza: %s, want the held presence", el)
	}
	el := carol.next()
	if p := el.Child("urn:xmpp:jingle-message:0", "propose"); p == nil || p.Get("id") != id {
		t.Fatalf("second stanza: %s, want the call invitation", el)
	}
}

// In-band bytestream data in a message (XEP-0047 §3) is urgent: the
// blocks of a transfer the client accepted are not held while it is
// inactive.
func TestCSIInBandBytestreamDataIsUrgent(t *testing.T) {
	alice, carol := inactiveWithHeld(t)
	to := carol.full.String()
	id := unique("ibb")
	data := stanza.New(stanza.NSClient, "message", "to", to, "id", id).Append(
		stanza.New("http://jabber.org/protocol/ibb", "data", "sid", "s1", "seq", "0").AppendText("AAAA"))
	sendOrFail(t, alice, data)

	if el := carol.next(); stanza.KindOf(el) != stanza.KindPresence || el.ChildText(stanza.NSClient, "status") != "held" {
		t.Fatalf("first released stanza: %s, want the held presence", el)
	}
	if el := carol.next(); el.ID() != id || el.Child("http://jabber.org/protocol/ibb", "data") == nil {
		t.Fatalf("second stanza: %s, want the data", el)
	}
}

// inactiveWithHeld starts a server where carol is available and
// inactive, and alice has sent her a presence with status "held".
func inactiveWithHeld(t *testing.T) (alice *client.Client, carol *smRaw) {
	t.Helper()
	s, alice, _ := newServer(t)
	carol = newSMRaw(loginRaw(t, s, "carol", "pw", "phone"))
	carol.send(stanza.New(stanza.NSClient, "presence"))
	carol.sync()
	carol.send(stanza.New(nsCSI, "inactive"))
	carol.sync()
	sendOrFail(t, alice, directedPresence(carol.full.String(), "held"))
	return alice, carol
}
