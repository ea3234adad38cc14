package stream_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	smns "github.com/parley-xmpp/parley/xmpp/sm"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
	"github.com/parley-xmpp/parley/xmpptest"
)

// smRaw is a raw session that counts the stanzas it handled, as a
// stream-management client does, and the stanzas it sent.
type smRaw struct {
	*raw
	h    uint32 // stanzas received and handled
	sent uint32 // stanzas sent since <enable/>
	// autoAck answers the server's <r/> while reading.
	autoAck bool
	acks    int // <r/> received
}

func newSMRaw(r *raw) *smRaw { return &smRaw{raw: r, autoAck: true} }

// enable sends <enable/> and returns the server's <enabled/>.
func (c *smRaw) enable(resume bool, max int) smns.Enabled {
	c.t.Helper()
	c.send(smns.Enable{Resume: resume, Max: max}.Element())
	el := c.mustNext()
	en, err := smns.ParseEnabled(el)
	if err != nil {
		c.t.Fatalf("answer to <enable/>: %s (%v)", el, err)
	}
	c.h, c.sent = 0, 0
	return en
}

// sendStanza sends a stanza and counts it.
func (c *smRaw) sendStanza(el *stanza.Element) {
	c.t.Helper()
	c.send(el)
	c.sent++
}

// next reads the next element, counting stanzas and answering <r/>.
func (c *smRaw) next() *stanza.Element {
	c.t.Helper()
	for {
		el := c.mustNext()
		if smns.Is(el, smns.NameRequest) {
			c.acks++
			if c.autoAck {
				c.send(smns.Ack(c.h))
			}
			continue
		}
		if stanza.KindOf(el) != stanza.KindOther {
			c.h++
		}
		return el
	}
}

// nextMessage returns the next message, skipping other stanzas.
func (c *smRaw) nextMessage() *stanza.Element {
	c.t.Helper()
	for {
		el := c.next()
		if stanza.KindOf(el) == stanza.KindMessage {
			return el
		}
	}
}

// expectBodies reads messages and checks their bodies, in order.
func (c *smRaw) expectBodies(bodies ...string) []*stanza.Element {
	c.t.Helper()
	var out []*stanza.Element
	for _, b := range bodies {
		m := c.nextMessage()
		if got := m.ChildText(stanza.NSClient, "body"); got != b {
			c.t.Fatalf("%s: got message %s, want body %q", c.full, m, b)
		}
		out = append(out, m)
	}
	return out
}

// sync pings the server and waits for the pong, counting what arrives.
func (c *smRaw) sync() {
	c.t.Helper()
	id := unique("sync")
	c.sendStanza(stanza.NewIQ(stanza.TypeGet, id, c.s.Domain(), stanza.New(nsPing, "ping")))
	for {
		el := c.next()
		if stanza.KindOf(el) == stanza.KindIQ && el.ID() == id {
			return
		}
		if stanza.KindOf(el) == stanza.KindMessage {
			c.t.Fatalf("%s: unexpected message while syncing: %s", c.full, el)
		}
	}
}

// syncExpectNoMessage syncs and fails if a message arrives first.
func (c *smRaw) syncExpectNoMessage() { c.sync() }

// cut closes the TCP connection under TLS without a closing tag or a TLS
// alert: the connection is simply gone.
func (c *smRaw) cut() {
	if c.tls != nil {
		c.tls.NetConn().(*net.TCPConn).SetLinger(0)
		c.tls.NetConn().Close()
		return
	}
	c.nc.Close()
}

func presenceEl() *stanza.Element { return stanza.New(stanza.NSClient, "presence") }

// smLogin logs a raw session of user in, binds resource and enables SM.
func smLogin(t *testing.T, s *xmpptest.Server, user, resource string, resume bool, max int) (*smRaw, smns.Enabled) {
	t.Helper()
	c := newSMRaw(loginRaw(t, s, user, "pw", resource))
	if c.features.Child(smns.NS, "sm") == nil {
		t.Fatalf("no <sm/> among the features after authentication: %s", c.features)
	}
	en := c.enable(resume, max)
	if resume && (!en.Resume || en.ID == "") {
		t.Fatalf("<enabled/> not resumable: %+v", en)
	}
	return c, en
}

// resume authenticates a new raw connection and resumes previd.
func resume(t *testing.T, s *xmpptest.Server, user, previd string, h uint32) (*smRaw, *stanza.Element) {
	t.Helper()
	c := newSMRaw(authedRaw(t, s, user, "pw"))
	c.send(smns.Resume{PrevID: previd, H: h}.Element())
	return c, c.mustNext()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A client's TCP connection is cut mid-conversation; it resumes and
// receives every message exactly once, in order, including the ones sent
// while it was away.
func TestSMResumeAfterCutDeliversExactlyOnce(t *testing.T) {
	s, alice, _ := newServer(t)
	carol, en := smLogin(t, s, "carol", "phone", true, 0)
	carol.sendStanza(presenceEl())
	carol.sync()
	to := carol.full.String()

	var bodies []string
	for i := range 8 {
		bodies = append(bodies, unique(fmt.Sprintf("m%d", i)))
	}
	for _, b := range bodies[:5] {
		sendOrFail(t, alice, stanza.NewMessage(stanza.TypeChat, to, b))
	}
	carol.expectBodies(bodies[:3]...) // m3 and m4 may be on the wire, unread
	carol.cut()
	waitFor(t, "the session to be detached", func() bool {
		ss := s.App.Router().Sessions().Get(carol.full)
		return ss != nil && ss.Detached()
	})
	if ss := s.App.Router().Sessions().Get(carol.full); ss == nil || !ss.Available() {
		t.Fatal("the detached session is no longer bound and available")
	}
	for _, b := range bodies[5:] {
		sendOrFail(t, alice, stanza.NewMessage(stanza.TypeChat, to, b))
	}
	syncClient(t, alice)

	c2, el := resume(t, s, "carol", en.ID, carol.h)
	r, err := smns.ParseResume(el)
	if err != nil || !smns.Is(el, smns.NameResumed) || r.PrevID != en.ID {
		t.Fatalf("answer to <resume/>: %s (%v)", el, err)
	}
	if r.H != carol.sent {
		t.Fatalf("<resumed h='%d'/>, but the client sent %d stanzas", r.H, carol.sent)
	}
	c2.full, c2.h, c2.sent = carol.full, carol.h, carol.sent
	c2.expectBodies(bodies[3:]...)
	c2.syncExpectNoMessage()
	// The resumed stream is the session: it still receives and sends.
	b := unique("after")
	sendOrFail(t, alice, stanza.NewMessage(stanza.TypeChat, to, b))
	c2.expectBodies(b)
	if n, _ := s.App.Stores().Offline.OfflineCount(context.Background(), s.JID(t, "carol")); n != 0 {
		t.Fatalf("%d messages went to offline storage during a resumed session", n)
	}
}

// A session that is not resumed in time ends: its contacts see it go, and
// the messages it never acknowledged are stored offline, with a delay,
// and delivered at the next login.
func TestSMResumeTimeoutStoresOffline(t *testing.T) {
	s, alice, _ := newServer(t)
	carol, en := smLogin(t, s, "carol", "phone", true, 1) // max='1': one second
	if en.Max != 1 {
		t.Fatalf("<enabled max='%d'/>, want the client's 1", en.Max)
	}
	carol.sendStanza(presenceEl())
	carol.sync()
	m := []string{unique("acked"), unique("unacked"), unique("while-away")}
	sendOrFail(t, alice, stanza.NewMessage(stanza.TypeChat, carol.full.String(), m[0]))
	carol.expectBodies(m[0])
	carol.send(smns.Ack(carol.h))
	carol.sync()
	carol.send(smns.Ack(carol.h))
	sendOrFail(t, alice, stanza.NewMessage(stanza.TypeChat, carol.full.String(), m[1]))
	carol.expectBodies(m[1]) // received, never acknowledged
	carol.cut()
	waitFor(t, "the session to be detached", func() bool {
		ss := s.App.Router().Sessions().Get(carol.full)
		return ss != nil && ss.Detached()
	})
	sendOrFail(t, alice, stanza.NewMessage(stanza.TypeChat, s.JID(t, "carol").String(), m[2]))
	user := s.JID(t, "carol")
	waitFor(t, "the session to end", func() bool { return s.App.Router().Sessions().Get(carol.full) == nil })
	waitFor(t, "two offline messages", func() bool {
		n, _ := s.App.Stores().Offline.OfflineCount(context.Background(), user)
		return n == 2
	})

	c2, el := resume(t, s, "carol", en.ID, carol.h)
	if f, err := smns.ParseFailed(el); err != nil || f.Condition != stanza.ItemNotFound {
		t.Fatalf("resuming an expired session: %s, want <failed><item-not-found/></failed>", el)
	}
	// XEP-0198 §5: the client may bind on the same stream after <failed/>.
	c2.bind("phone")
	c2.sendStanza(presenceEl())
	for _, msg := range c2.expectBodies(m[1], m[2]) {
		if msg.Child("urn:xmpp:delay", "delay") == nil {
			t.Errorf("offline message without a delay: %s", msg)
		}
	}
}

// Acks both ways: the server answers <r/> with the count of stanzas it
// handled, and requests acks itself once enough stanzas are unacknowledged.
func TestSMAcksBothWays(t *testing.T) {
	s, alice, _ := newServer(t)
	carol, _ := smLogin(t, s, "carol", "desk", false, 0)
	carol.autoAck = false
	carol.sendStanza(presenceEl())
	carol.sync()
	carol.sync()
	carol.send(smns.Request())
	el := carol.mustNext()
	h, err := smns.ParseH(el)
	if !smns.Is(el, smns.NameAck) || err != nil || h != carol.sent {
		t.Fatalf("answer to <r/>: %s, want <a h='%d'/>", el, carol.sent)
	}
	// AckEvery (5) stanzas bring an <r/>.
	for range 6 {
		sendOrFail(t, alice, stanza.NewMessage(stanza.TypeChat, carol.full.String(), unique("m")))
	}
	for range 6 {
		carol.nextMessage()
	}
	if carol.acks == 0 {
		// The request follows the stanza that crossed the threshold.
		carol.sync()
	}
	if carol.acks == 0 {
		t.Fatal("the server never requested an ack")
	}
	carol.send(smns.Ack(carol.h))
	carol.sync()
}

// XEP-0198 §6: acknowledging more than was sent is a stream error with
// <handled-count-too-high/>.
func TestSMHandledCountTooHigh(t *testing.T) {
	s, _, _ := newServer(t)
	carol, _ := smLogin(t, s, "carol", "desk", false, 0)
	carol.sync() // one stanza sent by the server: the pong
	carol.send(smns.Ack(carol.h + 5))
	el, err := carol.raw.next()
	if err != nil {
		t.Fatal(err)
	}
	se := stream.ParseStreamError(el)
	if se == nil || se.Condition != stream.UndefinedCondition || !smns.Is(se.App, smns.NameHandledCountTooHigh) {
		t.Fatalf("got %s, want an undefined-condition stream error with <handled-count-too-high/>", el)
	}
	if se.App.Get("h") != strconv.Itoa(int(carol.h+5)) || se.App.Get("send-count") != strconv.Itoa(int(carol.h)) {
		t.Fatalf("handled-count-too-high attributes: %s", se.App)
	}
}

// <failed/> answers: enable before binding, resumption of an unknown id,
// of another user's session, or after binding; the stream goes on.
func TestSMFailedCases(t *testing.T) {
	s, _, _ := newServer(t)
	expectFailed := func(c *smRaw, want stanza.Condition) {
		t.Helper()
		el := c.mustNext()
		f, err := smns.ParseFailed(el)
		if err != nil || f.Condition != want {
			t.Fatalf("got %s, want <failed><%s/></failed>", el, want)
		}
	}
	early := newSMRaw(authedRaw(t, s, "carol", "pw"))
	early.send(smns.Enable{}.Element())
	expectFailed(early, stanza.UnexpectedRequest)
	early.bind("early")
	early.enable(false, 0)
	early.sync()

	_, en := smLogin(t, s, "carol", "owner", true, 0)
	unknown, el := resume(t, s, "carol", "no-such-id", 0)
	if f, err := smns.ParseFailed(el); err != nil || f.Condition != stanza.ItemNotFound {
		t.Fatalf("unknown previd: %s", el)
	}
	unknown.bind("")
	unknown.sync()

	_, el = resume(t, s, "bob", en.ID, 0)
	if f, err := smns.ParseFailed(el); err != nil || f.Condition != stanza.ItemNotFound {
		t.Fatalf("another user's previd: %s", el)
	}

	bound := newSMRaw(loginRaw(t, s, "carol", "pw", "late"))
	bound.send(smns.Resume{PrevID: en.ID, H: 0}.Element())
	expectFailed(bound, stanza.UnexpectedRequest)
	bound.sync()

	twice, _ := smLogin(t, s, "carol", "twice", false, 0)
	twice.send(smns.Enable{}.Element())
	twice.expectStreamError(stream.PolicyViolation)

	noSM := loginRaw(t, s, "carol", "pw", "nosm")
	noSM.send(smns.Request())
	noSM.expectStreamError(stream.UnsupportedStanzaType)
}

// Resuming while the old connection is still open (the server has not
// noticed it is dead) ends the old stream with <conflict/> and moves the
// session, with what it had not acknowledged, to the new stream.
func TestSMResumeReplacesLiveStream(t *testing.T) {
	s, alice, _ := newServer(t)
	carol, en := smLogin(t, s, "carol", "phone", true, 0)
	carol.sendStanza(presenceEl())
	carol.sync()
	b := unique("unread")
	sendOrFail(t, alice, stanza.NewMessage(stanza.TypeChat, carol.full.String(), b))
	syncClient(t, alice)
	c2, el := resume(t, s, "carol", en.ID, carol.h)
	if !smns.Is(el, smns.NameResumed) {
		t.Fatalf("answer to <resume/>: %s", el)
	}
	c2.full = carol.full
	c2.expectBodies(b)
	// The old stream ends with <conflict/>, possibly after the message.
	for {
		el, err := carol.raw.next()
		if err != nil {
			t.Fatalf("old stream: %v", err)
		}
		if se := stream.ParseStreamError(el); se != nil {
			if se.Condition != stream.Conflict {
				t.Fatalf("old stream ended with %v, want <conflict/>", se)
			}
			break
		}
	}
	c2.sync()
}

// When a session closes for good without acknowledging what it received,
// its messages go to offline storage and its IQ requests are answered
// with an error, so nothing the server accepted is lost.
func TestSMCleanCloseReroutesUnacked(t *testing.T) {
	s, alice, _ := newServer(t)
	carol, _ := smLogin(t, s, "carol", "phone", true, 0)
	carol.autoAck = false
	carol.sendStanza(presenceEl())
	carol.sync()
	carol.send(smns.Ack(carol.h))
	carol.sync() // the ack is processed
	body := unique("never-acked")
	sendOrFail(t, alice, stanza.NewMessage(stanza.TypeChat, carol.full.String(), body))
	carol.expectBodies(body)
	iq := stanza.NewIQ(stanza.TypeGet, "q1", carol.full.String(), stanza.New("jabber:iq:version", "query"))
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	res := make(chan error, 1)
	go func() { _, err := alice.SendIQ(ctx, iq); res <- err }()
	for {
		el := carol.next()
		if stanza.KindOf(el) == stanza.KindIQ && el.ID() == "q1" {
			break
		}
	}
	carol.write("</stream:stream>")
	err := <-res
	var se *stanza.Error
	if err == nil || !errors.As(err, &se) || se.Condition != stanza.ServiceUnavailable {
		t.Fatalf("alice's IQ to the closed session: %v, want <service-unavailable/>", err)
	}
	user := s.JID(t, "carol")
	waitFor(t, "the unacknowledged message in offline storage", func() bool {
		n, _ := s.App.Stores().Offline.OfflineCount(context.Background(), user)
		return n == 1
	})
}

// The server requests an ack on a timer (stream_management.ack_interval)
// when stanzas stay unacknowledged, and resume_timeout 0 turns
// resumption off.
func TestSMAckTimerAndNoResumption(t *testing.T) {
	s, alice, _ := newServer(t, func(c *config.Config) {
		c.StreamManagement.AckEvery = 100
		c.StreamManagement.AckInterval = 50 * time.Millisecond
		c.StreamManagement.ResumeTimeout = 0
	})
	carol := newSMRaw(loginRaw(t, s, "carol", "pw", "desk"))
	en := carol.enable(true, 0)
	if en.Resume || en.ID != "" {
		t.Fatalf("resumption offered although disabled: %+v", en)
	}
	carol.autoAck = false
	sendOrFail(t, alice, stanza.NewMessage(stanza.TypeChat, carol.full.String(), unique("one")))
	carol.nextMessage()
	el := carol.mustNext()
	if !smns.Is(el, smns.NameRequest) {
		t.Fatalf("got %s, want the timer's <r/>", el)
	}
	carol.send(smns.Ack(carol.h))
	carol.sync()
}

// mamQuery runs an archive query on c's own account and returns the bodies
// of the archived messages, in order.
func (c *smRaw) mamQuery() []string {
	c.t.Helper()
	id := unique("mam")
	c.sendStanza(stanza.NewIQ(stanza.TypeSet, id, "", stanza.New("urn:xmpp:mam:2", "query", "queryid", id)))
	var bodies []string
	for {
		el := c.next()
		switch {
		case stanza.KindOf(el) == stanza.KindIQ && el.ID() == id:
			if el.Type() != stanza.TypeResult {
				c.t.Fatalf("archive query: %s", el)
			}
			return bodies
		case stanza.KindOf(el) == stanza.KindMessage:
			if r := el.Child("urn:xmpp:mam:2", "result"); r != nil && r.Get("queryid") == id {
				if m := r.Child("urn:xmpp:forward:0", "forwarded").Child(stanza.NSClient, "message"); m != nil {
					bodies = append(bodies, m.ChildText(stanza.NSClient, "body"))
				}
			}
		}
	}
}

// A session that synchronises from the archive (it queried MAM) and is not
// resumed in time: the messages it never acknowledged are already archived,
// so they are not stored offline as well (no double delivery); they are in
// the archive for the next login.
func TestSMResumeTimeoutKeepsArchivedMessagesMAMOnly(t *testing.T) {
	s, alice, _ := newServer(t)
	carol, _ := smLogin(t, s, "carol", "phone", true, 1)
	carol.sendStanza(presenceEl())
	carol.sync()
	carol.mamQuery()
	m := []string{unique("unacked"), unique("while-away")}
	sendOrFail(t, alice, stanza.NewMessage(stanza.TypeChat, carol.full.String(), m[0]))
	carol.expectBodies(m[0])
	carol.cut()
	waitFor(t, "the session to be detached", func() bool {
		ss := s.App.Router().Sessions().Get(carol.full)
		return ss != nil && ss.Detached()
	})
	sendOrFail(t, alice, stanza.NewMessage(stanza.TypeChat, s.JID(t, "carol").String(), m[1]))
	syncClient(t, alice)
	waitFor(t, "the session to end", func() bool { return s.App.Router().Sessions().Get(carol.full) == nil })
	user := s.JID(t, "carol")
	if n, _ := s.App.Stores().Offline.OfflineCount(context.Background(), user); n != 0 {
		t.Fatalf("%d archived messages also went to offline storage", n)
	}
	c2 := newSMRaw(loginRaw(t, s, "carol", "pw", "phone"))
	got := c2.mamQuery()
	if len(got) < 2 || got[len(got)-2] != m[0] || got[len(got)-1] != m[1] {
		t.Fatalf("archive holds %q, want it to end with %q", got, m)
	}
}
