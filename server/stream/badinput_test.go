package stream_test

import (
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

const billionLaughs = `<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>`

// RFC 6120 §11.1 (restricted XML), §4.9.3 (stream errors) and the limits
// of the configuration: bad input on a bound session ends that stream with
// the exact condition, nothing after the fault is processed, and other
// sessions are unaffected.
func TestBadInputOnBoundSession(t *testing.T) {
	const maxStanza = 16 << 10
	s, alice, bob := newServer(t, func(c *config.Config) { c.Limits.MaxStanzaBytes = maxStanza })
	to := bob.JID().String()
	msg := func(inner string) string {
		return "<message to='" + to + "' type='chat'>" + inner + "</message>"
	}
	// smuggled would reach bob if the server went on reading after the fault.
	smuggled := msg("<body>smuggled</body>")

	tests := []struct {
		name    string
		payload string
		want    stream.Condition
	}{
		{"doctype", "<!DOCTYPE message>" + smuggled, stream.RestrictedXML},
		{"billion laughs", billionLaughs + "<message to='" + to + "'><body>&lol9;</body></message>" + smuggled, stream.RestrictedXML},
		{"comment", "<!-- hello -->" + smuggled, stream.RestrictedXML},
		{"comment in stanza", msg("<body>x</body><!-- hello -->") + smuggled, stream.RestrictedXML},
		{"processing instruction", "<?xml-stylesheet href='evil.xsl'?>" + smuggled, stream.RestrictedXML},
		{"processing instruction in stanza", msg("<?php evil(); ?><body>x</body>") + smuggled, stream.RestrictedXML},
		{"entity reference", msg("<body>&foo;</body>") + smuggled, stream.RestrictedXML},
		{"entity reference in attribute", "<message to='" + to + "' id='&foo;'><body>x</body></message>" + smuggled, stream.RestrictedXML},
		{"mismatched tags", msg("<body>x</thread>") + smuggled, stream.NotWellFormed},
		{"mismatched stanza end", "<message to='" + to + "'><body>x</body></presence>" + smuggled, stream.NotWellFormed},
		{"invalid UTF-8", msg("<body>a\xEB\x3C\x3E</body>") + smuggled, stream.NotWellFormed},
		{"invalid UTF-8 smuggling", "<message to='" + to + "' type='chat'><body>\xEB</body><message to='" + to + "'><body>smuggled</body></message></message>" + smuggled, stream.NotWellFormed},
		{"over max_stanza_bytes", msg("<body>"+strings.Repeat("a", maxStanza+1)+"</body>") + smuggled, stream.PolicyViolation},
		{"nested 100000 deep", msg(strings.Repeat("<a>", 100000)+strings.Repeat("</a>", 100000)) + smuggled, stream.PolicyViolation},
		{"forged from", "<message to='" + to + "' from='" + alice.JID().String() + "'><body>forged</body></message>" + smuggled, stream.InvalidFrom},
		{"forged from other domain", "<message to='" + to + "' from='carol@example.net/x'><body>forged</body></message>" + smuggled, stream.InvalidFrom},
		{"unknown top-level element", "<foo xmlns='urn:example:foo'/>" + smuggled, stream.UnsupportedStanzaType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := loginRaw(t, s, "carol", "pw", "bad")
			r.writeLenient(tc.payload)
			r.expectStreamError(tc.want)
			alive(t, alice, bob)
			alive(t, bob, alice)
		})
	}
}

// The five predefined entities and character references are allowed
// (RFC 6120 §11.1 forbids only other entity references).
func TestPredefinedEntitiesAllowed(t *testing.T) {
	s, alice, bob := newServer(t)
	r := loginRaw(t, s, "carol", "pw", "ent")
	r.write("<message to='" + bob.JID().String() + "' type='chat'><body>&lt;a&gt; &amp; &apos;&quot; &#x263A;&#65;</body></message>")
	m := nextMessage(t, bob)
	if got, want := m.ChildText(stanza.NSClient, "body"), `<a> & '" ☺A`; got != want {
		t.Fatalf("body %q, want %q", got, want)
	}
	alive(t, alice, bob)
}

// A billion-laughs document before the stream header is refused without
// expanding anything.
func TestBillionLaughsProlog(t *testing.T) {
	s, alice, bob := newServer(t)
	r := dialRaw(t, s)
	r.writeLenient("<?xml version='1.0'?>" + billionLaughs + r.streamHeader())
	r.expectHeaderError(stream.RestrictedXML)
	alive(t, alice, bob)
}

// A 'from' equal to the session's full or bare JID is accepted (RFC 6120
// §8.1.2.1) and stamped with the full JID.
func TestOwnFromAccepted(t *testing.T) {
	s, alice, bob := newServer(t)
	r := loginRaw(t, s, "carol", "pw", "own")
	for _, from := range []string{r.full.String(), r.full.Bare().String()} {
		body := unique("own")
		r.write("<message to='" + bob.JID().String() + "' from='" + from + "' type='chat'><body>" + body + "</body></message>")
		m := nextMessage(t, bob)
		if m.ChildText(stanza.NSClient, "body") != body || m.From() != r.full.String() {
			t.Fatalf("bob received %s", m)
		}
	}
	alive(t, alice, bob)
}

// RFC 6120 §8.3.3.8: a malformed 'to' is answered with <jid-malformed/>
// and the stream stays up.
func TestMalformedTo(t *testing.T) {
	s, alice, bob := newServer(t)
	d := s.Domain()
	r := loginRaw(t, s, "carol", "pw", "jm")
	for i, to := range []string{"@" + d, d + "/", "a@b@" + d, strings.Repeat("a", 1100) + "@" + d, "alice@" + d + "/" + strings.Repeat("r", 1100), "alice@exa mple.com"} {
		if _, err := jid.Parse(to); err == nil {
			t.Fatalf("test bug: %q parses", to)
		}
		id := unique("jm")
		el := stanza.NewMessage(stanza.TypeChat, "", "hello")
		el.Set("to", to)
		el.Set("id", id)
		r.send(el)
		reply := r.mustNext()
		if stanza.KindOf(reply) != stanza.KindMessage || reply.ID() != id {
			t.Fatalf("%d: answer to a message to %.40q: %s", i, to, reply)
		}
		if c := stanzaError(t, reply); c != stanza.JIDMalformed {
			t.Fatalf("%d: condition %s, want jid-malformed", i, c)
		}
		iq := stanza.NewIQ(stanza.TypeGet, id+"-iq", "", stanza.New(nsPing, "ping"))
		iq.Set("to", to)
		r.send(iq)
		reply = r.mustNext()
		if stanza.KindOf(reply) != stanza.KindIQ || reply.ID() != id+"-iq" {
			t.Fatalf("%d: answer to an IQ to %.40q: %s", i, to, reply)
		}
		if c := stanzaError(t, reply); c != stanza.JIDMalformed {
			t.Fatalf("%d: IQ condition %s, want jid-malformed", i, c)
		}
	}
	body := unique("after")
	sendOrFail(t, alice, stanza.NewMessage(stanza.TypeChat, r.full.String(), body))
	r.expectMessage(body)
	alive(t, alice, bob)
}
