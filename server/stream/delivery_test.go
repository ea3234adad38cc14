package stream_test

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
	"github.com/parley-xmpp/parley/xmpptest"
)

// presence sends available presence with a priority (or none when prio is
// nil-like "") and waits until the server has processed it: a ping sent
// after it on the same stream is answered only afterwards.
func (r *raw) presence(prio string) {
	r.t.Helper()
	p := stanza.New(stanza.NSClient, "presence")
	if prio != "" {
		p.Append(stanza.New(stanza.NSClient, "priority").AppendText(prio))
	}
	r.send(p)
	r.sync()
}

// sync waits for the answer to a ping to the server, skipping presences.
func (r *raw) sync() {
	r.t.Helper()
	id := unique("sync")
	r.send(stanza.NewIQ(stanza.TypeGet, id, r.s.Domain(), stanza.New(nsPing, "ping")))
	for {
		el := r.mustNext()
		switch stanza.KindOf(el) {
		case stanza.KindPresence:
			continue
		case stanza.KindIQ:
			if el.ID() == id && el.Type() == stanza.TypeResult {
				return
			}
		}
		r.t.Fatalf("%s: while syncing got %s", r.full, el)
	}
}

// syncClient waits until everything c sent before has been processed.
func syncClient(t testing.TB, c *client.Client) {
	t.Helper()
	if _, err := c.SendIQ(xmpptest.Context(t, ioTimeout), stanza.NewIQ(stanza.TypeGet, "", c.JID().Domain(), stanza.New(nsPing, "ping"))); err != nil {
		t.Fatalf("%s: ping: %v", c.JID(), err)
	}
}

// RFC 6121 §8.5.2.1.1: a message to the bare JID goes to the
// highest-priority available resources (all of them when tied), never to
// negative priorities; a headline goes to every non-negative one.
func TestMessageToBareJIDPriority(t *testing.T) {
	s, alice, bob := newServer(t)
	carol := s.JID(t, "carol").String()
	hi1 := loginRaw(t, s, "carol", "pw", "hi1")
	hi2 := loginRaw(t, s, "carol", "pw", "hi2")
	low := loginRaw(t, s, "carol", "pw", "low")
	neg := loginRaw(t, s, "carol", "pw", "neg")
	none := loginRaw(t, s, "carol", "pw", "none") // never sends presence
	hi1.presence("5")
	hi2.presence("5")
	low.presence("1")
	neg.presence("-1")

	chat, normal, headline := unique("chat"), unique("normal"), unique("headline")
	sendOrFail(t, alice, stanza.NewMessage(stanza.TypeChat, carol, chat))
	sendOrFail(t, alice, stanza.NewMessage("", carol, normal))
	sendOrFail(t, alice, stanza.NewMessage(stanza.TypeHeadline, carol, headline))
	// A sentinel to each full JID proves what did not arrive before it.
	sentinel := unique("sentinel")
	for _, r := range []*raw{hi1, hi2, low, neg, none} {
		sendOrFail(t, alice, stanza.NewMessage(stanza.TypeChat, r.full.String(), sentinel))
	}
	for _, r := range []*raw{hi1, hi2} {
		r.expectMessage(chat)
		r.expectMessage(normal)
		r.expectMessage(headline)
		r.expectMessage(sentinel)
	}
	low.expectMessage(headline)
	low.expectMessage(sentinel)
	neg.expectMessage(sentinel)
	none.expectMessage(sentinel)

	// A single highest priority takes the message alone.
	low.presence("9")
	only := unique("only")
	sendOrFail(t, alice, stanza.NewMessage(stanza.TypeChat, carol, only))
	sentinel = unique("sentinel")
	for _, r := range []*raw{hi1, hi2, low} {
		sendOrFail(t, alice, stanza.NewMessage(stanza.TypeChat, r.full.String(), sentinel))
	}
	low.expectMessage(only)
	low.expectMessage(sentinel)
	hi1.expectMessage(sentinel)
	hi2.expectMessage(sentinel)
	alive(t, alice, bob)
}

// A negative priority never receives messages to the bare JID, even when
// it is the only available resource.
func TestMessageNegativePriorityOnly(t *testing.T) {
	s, alice, bob := newServer(t)
	neg := loginRaw(t, s, "carol", "pw", "neg")
	neg.presence("-5")
	sendOrFail(t, alice, stanza.NewMessage(stanza.TypeChat, s.JID(t, "carol").String(), unique("bare")))
	sendOrFail(t, alice, stanza.NewMessage(stanza.TypeHeadline, s.JID(t, "carol").String(), unique("headline")))
	sentinel := unique("sentinel")
	sendOrFail(t, alice, stanza.NewMessage(stanza.TypeChat, neg.full.String(), sentinel))
	neg.expectMessage(sentinel)
	alive(t, bob, alice)
}

// RFC 6121 §8.5.3.2.1: a message to a full JID with no such resource is
// handled as if sent to the bare JID.
func TestMessageToGoneResource(t *testing.T) {
	s, alice, bob := newServer(t)
	lo := loginRaw(t, s, "carol", "pw", "lo")
	hi := loginRaw(t, s, "carol", "pw", "hi")
	lo.presence("1")
	hi.presence("3")

	gone := loginRaw(t, s, "carol", "pw", "gone")
	gone.presence("10")
	gone.write(stream.Close)
	if _, err := gone.next(); !errors.Is(err, io.EOF) {
		t.Fatalf("closing: %v", err)
	}
	waitUnbound(t, s, gone.full)

	never := s.JID(t, "carol@"+s.Domain()+"/never-existed")
	b1, b2 := unique("never"), unique("gone")
	sendOrFail(t, alice, stanza.NewMessage(stanza.TypeChat, never.String(), b1))
	sendOrFail(t, alice, stanza.NewMessage(stanza.TypeChat, gone.full.String(), b2))
	sentinel := unique("sentinel")
	sendOrFail(t, alice, stanza.NewMessage(stanza.TypeChat, lo.full.String(), sentinel))
	hi.expectMessage(b1)
	m := hi.expectMessage(b2)
	if m.To() != gone.full.String() && m.To() != gone.full.Bare().String() {
		t.Errorf("redirected message addressed to %q", m.To())
	}
	lo.expectMessage(sentinel)
	alive(t, alice, bob)
}

// waitUnbound waits (bounded) until full has no session in the table; the
// server unbinds just after closing the stream, with no event to await.
func waitUnbound(t testing.TB, s *xmpptest.Server, full jid.JID) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for s.App.Router().Sessions().Get(full) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("%s still bound", full)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// expectIQError sends iq from c and checks the error condition and the
// sender of the error.
func expectIQError(t testing.TB, c *client.Client, iq *stanza.Element, want stanza.Condition, from string) {
	t.Helper()
	reply, err := c.SendIQ(xmpptest.Context(t, ioTimeout), iq)
	var se *stanza.Error
	if !errors.As(err, &se) {
		t.Fatalf("IQ to %s: got %v, %v; want a <%s/> error", iq.To(), reply, err, want)
	}
	if se.Condition != want {
		t.Fatalf("IQ to %s: condition %s, want %s", iq.To(), se.Condition, want)
	}
	if reply.From() != from {
		t.Errorf("IQ error from %q, want %q", reply.From(), from)
	}
}

// expectMessageError sends a message from c and checks the bounce.
func expectMessageError(t testing.TB, c *client.Client, to string, want stanza.Condition) {
	t.Helper()
	id := unique("m")
	m := stanza.NewMessage(stanza.TypeChat, to, "hello")
	m.Set("id", id)
	sendOrFail(t, c, m)
	reply := nextMessage(t, c)
	if reply.ID() != id || reply.From() != to {
		t.Fatalf("bounce of a message to %s: %s", to, reply)
	}
	if got := stanzaError(t, reply); got != want {
		t.Fatalf("message to %s: condition %s, want %s", to, got, want)
	}
}

// RFC 6121 §8.5.2.1.3 (and §8.5.1): an IQ to a bare JID is handled by the
// server on behalf of the account; an unknown payload gets
// <service-unavailable/> from the bare JID, even when the account is
// online, and no resource sees it.
func TestIQToBareJIDUnknownPayload(t *testing.T) {
	s, alice, bob := newServer(t)
	carol := loginRaw(t, s, "carol", "pw", "c")
	carol.presence("1")
	bare := carol.full.Bare().String()
	for _, typ := range []string{stanza.TypeGet, stanza.TypeSet} {
		expectIQError(t, alice, stanza.NewIQ(typ, "", bare, stanza.New("urn:example:unknown", "query")), stanza.ServiceUnavailable, bare)
	}
	// A full JID with no such resource: service-unavailable too (§8.5.3.2.1).
	gone := bare + "/nobody-here"
	expectIQError(t, alice, stanza.NewIQ(stanza.TypeGet, "", gone, stanza.New("urn:example:unknown", "query")), stanza.ServiceUnavailable, gone)
	sentinel := unique("sentinel")
	sendOrFail(t, alice, stanza.NewMessage(stanza.TypeChat, carol.full.String(), sentinel))
	for {
		el := carol.mustNext()
		if stanza.KindOf(el) == stanza.KindIQ {
			t.Fatalf("the resource received an IQ meant for the account: %s", el)
		}
		if stanza.KindOf(el) == stanza.KindMessage {
			if el.ChildText(stanza.NSClient, "body") != sentinel {
				t.Fatalf("got %s", el)
			}
			break
		}
	}
	alive(t, alice, bob)
}

// RFC 6121 §8.5.1 and RFC 6120 §10.4: unknown local users and unreachable
// domains.
func TestUndeliverable(t *testing.T) {
	s, alice, bob := newServer(t)
	nobody := "nobody@" + s.Domain()
	expectMessageError(t, alice, nobody, stanza.ServiceUnavailable)
	expectMessageError(t, alice, nobody+"/res", stanza.ServiceUnavailable)
	expectIQError(t, alice, stanza.NewIQ(stanza.TypeGet, "", nobody, stanza.New("jabber:iq:version", "query")), stanza.ServiceUnavailable, nobody)

	remote := "someone@example.net"
	expectMessageError(t, alice, remote, stanza.RemoteServerNotFound)
	expectIQError(t, alice, stanza.NewIQ(stanza.TypeGet, "", "example.net", stanza.New(nsPing, "ping")), stanza.RemoteServerNotFound, "example.net")
	alive(t, alice, bob)
	alive(t, bob, alice)
}

// RFC 6120 §8.2.3: IQ semantics are checked before routing.
func TestIQValidation(t *testing.T) {
	s, alice, bob := newServer(t)
	r := loginRaw(t, s, "carol", "pw", "iq")
	to := bob.JID().String()
	tests := []struct {
		name, iq, id string
	}{
		{"no id", "<iq type='get' to='" + to + "'><ping xmlns='urn:xmpp:ping'/></iq>", ""},
		{"no id to server", "<iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>", ""},
		{"unknown type", "<iq type='fetch' id='t1' to='" + to + "'><ping xmlns='urn:xmpp:ping'/></iq>", "t1"},
		{"no type", "<iq id='t2' to='" + to + "'><ping xmlns='urn:xmpp:ping'/></iq>", "t2"},
		{"get without payload", "<iq type='get' id='t3' to='" + to + "'/>", "t3"},
		{"set with two payloads", "<iq type='set' id='t4' to='" + to + "'><a xmlns='urn:x'/><b xmlns='urn:x'/></iq>", "t4"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r.write(tc.iq)
			el := r.mustNext()
			if stanza.KindOf(el) != stanza.KindIQ || el.ID() != tc.id {
				t.Fatalf("answer: %s", el)
			}
			if c := stanzaError(t, el); c != stanza.BadRequest {
				t.Fatalf("condition %s, want bad-request", c)
			}
		})
	}
	// None of them reached bob, and the stream is still up.
	body := unique("after")
	r.send(stanza.NewMessage(stanza.TypeChat, to, body))
	if m := nextMessage(t, bob); m.ChildText(stanza.NSClient, "body") != body {
		t.Fatalf("bob received %s", m)
	}
	alive(t, alice, bob)
}

// A session that does not read is disconnected once its outbound queue
// overflows; the sender and every other session carry on.
func TestSlowConsumer(t *testing.T) {
	const queue = 256
	for _, drain := range []bool{false, true} {
		t.Run(fmt.Sprintf("drain=%v", drain), func(t *testing.T) {
			s, alice, bob := newServer(t, func(c *config.Config) { c.Limits.OutboundQueue = queue })
			// The client does not read: once the kernel's socket buffers
			// are full the server's writes block and its queue fills up.
			// (Shrinking the receive buffer would block it sooner but
			// leaves TCP waiting on zero-window probes, whose backoff
			// reaches tens of seconds, once the client reads again.)
			slow := dialRaw(t, s)
			slow.open()
			slow.startTLS(nil)
			slow.login("PLAIN", "carol", "pw")
			slow.bind("slow")
			sess := s.App.Router().Sessions().Get(slow.full)
			if sess == nil {
				t.Fatal("no session")
			}

			payload := strings.Repeat("x", 8<<10)
			overflowed := false
			start := time.Now()
			sent := 0
			for i := 0; i < 20000 && !overflowed; i++ {
				sendOrFail(t, alice, stanza.NewMessage(stanza.TypeHeadline, slow.full.String(), payload))
				sent++
				if i%32 == 31 {
					syncClient(t, alice) // everything sent so far was routed
					// Deliver fails once the queue has overflowed and the
					// session is being closed.
					overflowed = sess.Deliver(stanza.NewMessage(stanza.TypeHeadline, slow.full.String(), "probe")) != nil
				}
			}
			if !overflowed {
				t.Fatal("the outbound queue never overflowed")
			}
			t.Logf("overflow after %d messages of %d bytes, %v", sent, len(payload), time.Since(start))
			start = time.Now()
			defer func() { t.Logf("unbound %v after the overflow", time.Since(start)) }()
			if drain {
				// Reading now, the client finds the stream error after
				// what had been written.
				n := 0
				for {
					el, err := slow.next()
					if err != nil {
						t.Fatalf("after %d messages: %v (want a stream error)", n, err)
					}
					if se := stream.ParseStreamError(el); se != nil {
						if se.Condition != stream.PolicyViolation {
							t.Fatalf("stream error %v, want policy-violation", se)
						}
						break
					}
					n++
				}
				if _, err := slow.next(); !errors.Is(err, io.EOF) {
					t.Fatalf("after the stream error: %v", err)
				}
				slow.expectClosed()
			}
			// Without reading, the session is gone within a bounded time.
			waitUnbound(t, s, slow.full)
			alive(t, alice, bob)
			alive(t, bob, alice)
		})
	}
}
