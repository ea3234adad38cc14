package interop

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// quietFor is how long a scenario watches for stanzas that must not
// arrive.
const quietFor = 2 * time.Second

// mobileEvent is the part of a peer.py event the CSI and push scenarios
// read beyond the shared event fields.
type mobileEvent struct {
	ChatState string            `json:"chatstate"`
	Status    string            `json:"status"`
	OK        bool              `json:"ok"`
	Node      string            `json:"node"`
	Fields    map[string]string `json:"fields"`
	Options   map[string]string `json:"options"`
	Features  []string          `json:"features"`
}

func decodeMobile(p *peer, ev event) mobileEvent {
	p.t.Helper()
	var m mobileEvent
	if err := json.Unmarshal([]byte(ev.raw), &m); err != nil {
		p.fail("decoding %s: %v", ev.raw, err)
	}
	return m
}

// describe names a message or presence event for order comparisons:
// "state:composing", "presence:available:p2", "body:hello".
func describe(p *peer, ev event) string {
	m := decodeMobile(p, ev)
	switch {
	case ev.Event == "presence":
		return "presence:" + ev.Type + ":" + m.Status
	case ev.Body != "":
		return "body:" + ev.Body
	default:
		return "state:" + m.ChatState
	}
}

// fromUser reports whether ev is a message or presence from user.
func fromUser(ev event, user string) bool {
	return (ev.Event == "message" || ev.Event == "presence") && bareOf(ev.From) == bare(user)
}

// forget drops the unmatched events that match ok.
func (p *peer) forget(ok func(event) bool) {
	kept := p.seen[:0]
	for _, ev := range p.seen {
		if !ok(ev) {
			kept = append(kept, ev)
		}
	}
	p.seen = kept
}

// collectUntil returns, in the order they arrived, the events matching
// keep up to and including the first one matching last; the others stay
// unmatched.
func (p *peer) collectUntil(what string, keep, last func(event) bool) []event {
	p.t.Helper()
	var out []event
	for i := 0; i < len(p.seen); i++ {
		if ev := p.seen[i]; keep(ev) {
			out = append(out, ev)
			p.seen = append(p.seen[:i:i], p.seen[i+1:]...)
			i--
			if last(ev) {
				return out
			}
		}
	}
	deadline := time.After(eventTimeout)
	for {
		select {
		case ev, open := <-p.events:
			if !open {
				<-p.done
				p.fail("exited (%v) while waiting for %s", p.cmd.ProcessState, what)
			}
			if ev.Event == "error" {
				p.fail("error while waiting for %s: %s", what, ev.Text)
			}
			if !keep(ev) {
				p.seen = append(p.seen, ev)
				continue
			}
			out = append(out, ev)
			if last(ev) {
				return out
			}
		case <-deadline:
			p.fail("no %s within %v; got %d events before", what, eventTimeout, len(out))
		}
	}
}

// quiet fails if an event matching bad arrives within d.
func (p *peer) quiet(what string, d time.Duration, bad func(event) bool) {
	p.t.Helper()
	for _, ev := range p.seen {
		if bad(ev) {
			p.fail("%s: got %s", what, ev.raw)
		}
	}
	deadline := time.After(d)
	for {
		select {
		case ev, open := <-p.events:
			if !open {
				<-p.done
				p.fail("exited (%v) while checking that %s", p.cmd.ProcessState, what)
			}
			if ev.Event == "error" {
				p.fail("error while checking that %s: %s", what, ev.Text)
			}
			if bad(ev) {
				p.fail("%s: got %s", what, ev.raw)
			}
			p.seen = append(p.seen, ev)
		case <-deadline:
			return
		}
	}
}

// expectOrder checks the descriptions of evs against want.
func expectOrder(p *peer, what string, evs []event, want ...string) {
	p.t.Helper()
	var got []string
	for _, ev := range evs {
		got = append(got, describe(p, ev))
	}
	if strings.Join(got, " | ") != strings.Join(want, " | ") {
		p.fail("%s: received %q, want %q", what, got, want)
	}
}

// TestSlixmppClientStateIndication: slixmpp's xep_0352 plugin tells the
// server the client is inactive. A contact's chat states (no body) and
// presence updates are held, nothing arriving for a while; a message
// with a body is urgent: it arrives at once, after the held stanzas in
// their order, of which only the contact's latest presence was kept
// (XEP-0352 §1). Going active flushes what was held since.
func TestSlixmppClientStateIndication(t *testing.T) {
	needSlixmpp(t)
	s := theServer(t)
	yara := startSlixmpp(t, s, "yara", peerOpts{plugins: []string{"xep_0352"}})
	zack := startSlixmpp(t, s, "zack", peerOpts{})
	yara.expect("CSI offered (csi_enabled)", eventTimeout, func(ev event) bool { return ev.Event == "csi_enabled" })
	subscribe(t, yara, zack)
	zack.message(yara.online.JID, "before")
	yara.expectMessage(zack.bare(), "before")
	fromZack := func(ev event) bool { return fromUser(ev, "zack") }
	yara.forget(fromZack)

	yara.send(map[string]any{"cmd": "csi", "state": "inactive"})
	yara.roster() // handled after <inactive/> on the same stream
	held := func() {
		zack.send(map[string]any{"cmd": "chatstate", "to": yara.online.JID, "state": "composing"})
		zack.send(map[string]any{"cmd": "presence", "status": "p1"})
		zack.send(map[string]any{"cmd": "chatstate", "to": yara.online.JID, "state": "paused"})
		zack.send(map[string]any{"cmd": "presence", "status": "p2"})
		zack.roster() // the server has routed them
	}
	held()
	yara.quiet("nothing from the contact reaches an inactive client", quietFor, fromZack)

	zack.message(yara.online.JID, "urgent")
	start := time.Now()
	got := yara.collectUntil("the urgent message", fromZack, func(ev event) bool { return ev.Body == "urgent" })
	expectOrder(yara, "flushed by a message with a body", got,
		"state:composing", "state:paused", "presence:available:p2", "body:urgent")
	if d := time.Since(start); d > quietFor {
		yara.fail("the message with a body took %v to arrive", d)
	}

	// Still inactive: held again, then flushed by <active/>.
	zack.send(map[string]any{"cmd": "chatstate", "to": yara.online.JID, "state": "composing"})
	zack.send(map[string]any{"cmd": "presence", "status": "p3"})
	zack.roster()
	yara.quiet("nothing from the contact reaches the client, still inactive", quietFor, fromZack)
	yara.send(map[string]any{"cmd": "csi", "state": "active"})
	got = yara.collectUntil("what was held, flushed by <active/>", fromZack, func(ev event) bool { return ev.Event == "presence" })
	expectOrder(yara, "flushed by <active/>", got, "state:composing", "presence:available:p3")

	// Active: everything arrives as it is sent.
	zack.send(map[string]any{"cmd": "chatstate", "to": yara.online.JID, "state": "active"})
	zack.message(yara.online.JID, "after")
	got = yara.collectUntil("the message after", fromZack, func(ev event) bool { return ev.Body == "after" })
	expectOrder(yara, "while active", got, "state:active", "body:after")
}

// waitLogged waits until the server's log, since mark, has a line with
// all of parts.
func waitLogged(t *testing.T, s *server, mark int, what string, parts ...string) {
	t.Helper()
	for deadline := time.Now().Add(eventTimeout); ; {
		for _, line := range strings.Split(s.logSince(mark), "\n") {
			found := true
			for _, p := range parts {
				found = found && strings.Contains(line, p)
			}
			if found {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s in the server log within %v:\n%s", what, eventTimeout, s.logSince(mark))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSlixmppPush: a slixmpp client with stream management enables push
// notifications (XEP-0357 §5) for an app server's pubsub service — here
// another slixmpp client standing in for it — with a publish-options form
// carrying a secret and allowing the body. While the client is online
// nothing is published; once its TCP connection is cut and its session
// detached, each message for it makes the server publish a
// urn:xmpp:push:summary to the node (XEP-0357 §7) with the message count,
// the sender and the body, and the secret among the publish options.
func TestSlixmppPush(t *testing.T) {
	needSlixmpp(t)
	s := theServer(t)
	cleo := startSlixmpp(t, s, "cleo", peerOpts{pushService: true})
	abby := startSlixmpp(t, s, "abby", peerOpts{plugins: []string{"xep_0198"}})
	ben := startSlixmpp(t, s, "ben", peerOpts{})
	abby.expect("sm_enabled", eventTimeout, func(ev event) bool { return ev.Event == "sm_enabled" })

	abby.send(map[string]any{"cmd": "disco_info", "to": abby.bare()})
	info := abby.expect("disco#info of the account", eventTimeout, func(ev event) bool { return ev.Event == "disco_info" })
	if !contains(decodeMobile(abby, info).Features, "urn:xmpp:push:0") {
		abby.fail("the account does not advertise urn:xmpp:push:0 (XEP-0357 §4): %s", info.raw)
	}
	const node, secret = "abby-device-1", "s3cr3t-token"
	abby.send(map[string]any{"cmd": "push_enable", "jid": cleo.online.JID, "node": node, "secret": secret, "include_body": true})
	en := abby.expect("push_enabled", eventTimeout, func(ev event) bool { return ev.Event == "push_enabled" })
	if !decodeMobile(abby, en).OK {
		abby.fail("<enable/> refused: %s", en.raw)
	}

	isPush := func(ev event) bool { return ev.Event == "push_notification" }
	ben.message(abby.bare(), "while online")
	abby.expectMessage(ben.bare(), "while online")
	cleo.quiet("no notification while the client is online", quietFor, isPush)

	mark := s.log.Len()
	abby.send(map[string]any{"cmd": "cut"})
	waitLogged(t, s, mark, "detached session of abby", "session kept for resumption", abby.online.JID)

	for i, body := range []string{"are you there?", "hello again"} {
		ben.message(abby.bare(), body)
		ev := cleo.expect(fmt.Sprintf("notification %d", i+1), eventTimeout, isPush)
		m := decodeMobile(cleo, ev)
		if ev.From != domain {
			cleo.fail("notification from %q, want the user's server %q", ev.From, domain)
		}
		if m.Node != node {
			cleo.fail("notification published to node %q, want %q", m.Node, node)
		}
		want := map[string]string{
			"FORM_TYPE":           "urn:xmpp:push:summary",
			"message-count":       fmt.Sprint(i + 1),
			"last-message-sender": ben.online.JID,
			"last-message-body":   body,
		}
		for k, v := range want {
			if m.Fields[k] != v {
				cleo.fail("summary field %s = %q, want %q; summary %v", k, m.Fields[k], v, m.Fields)
			}
		}
		if m.Options["secret"] != secret || m.Options["FORM_TYPE"] != "http://jabber.org/protocol/pubsub#publish-options" {
			cleo.fail("publish options %v, want the secret given at <enable/>", m.Options)
		}
		if _, ok := m.Options["include-body"]; ok {
			cleo.fail("the server passed its own include-body option on to the app server: %v", m.Options)
		}
	}
	cleo.quiet("one notification per message", time.Second, isPush)
}
