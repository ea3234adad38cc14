package stream_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/parley-xmpp/parley/xmpp/bind2"
	"github.com/parley-xmpp/parley/xmpp/sasl"
	"github.com/parley-xmpp/parley/xmpp/sasl2"
	smns "github.com/parley-xmpp/parley/xmpp/sm"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// sasl2Resume opens a new raw connection and logs carol in with SASL2,
// asking to resume previd with h inline (XEP-0198 §9.2), with the extra
// request elements (a Bind 2 request). It returns the <success/> and the
// features that follow it (nil when the session was resumed).
func sasl2Resume(t *testing.T, r *raw, previd string, h uint32, extra ...*stanza.Element) (success, features *stanza.Element) {
	t.Helper()
	r.open()
	r.startTLS(nil)
	extra = append([]*stanza.Element{smns.Resume{PrevID: previd, H: h}.Element()}, extra...)
	final, f := r.sasl2Login(r.scram(sasl.ScramSHA256Plus, "carol", "pw"), &sasl2.UserAgent{ID: testUAID}, extra...)
	if final.Name.Local != "success" {
		t.Fatalf("SASL2 login with <resume/>: %s", final)
	}
	return final, f
}

// A SASL2 + Bind 2 session with stream management enabled inline loses
// its TCP connection mid-conversation; a new connection resumes it inside
// the SASL2 <authenticate/>: <resumed/> is in the <success/>, the Bind 2
// request sent beside it is ignored, no features follow, and every
// message arrives exactly once, in order.
func TestSASL2InlineResumeAfterCut(t *testing.T) {
	s, alice, _ := newServer(t)
	r := dialRaw(t, s)
	full, final, _ := bind2Login(t, r, testUAID, smns.Enable{Resume: true}.Element())
	en, err := smns.ParseEnabled(successChild(t, final, bind2.NS, "bound").Child(nsSM, "enabled"))
	if err != nil || !en.Resume || en.ID == "" {
		t.Fatalf("inline <enabled/>: %+v (%v) in %s", en, err, final)
	}
	carol := newSMRaw(r)
	carol.sendStanza(presenceEl())
	carol.sync()
	to := full.String()

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
		ss := s.App.Router().Sessions().Get(full)
		return ss != nil && ss.Detached()
	})
	for _, b := range bodies[5:] {
		sendOrFail(t, alice, stanza.NewMessage(stanza.TypeChat, to, b))
	}
	syncClient(t, alice)

	r2 := dialRaw(t, s)
	success, f := sasl2Resume(t, r2, en.ID, carol.h, bind2.Request{Tag: testSoftare}.Element())
	if f != nil {
		t.Fatalf("features after an inline resumption: %s", f)
	}
	el := successChild(t, success, nsSM, "resumed")
	res, err := smns.ParseResume(el)
	if err != nil || res.PrevID != en.ID {
		t.Fatalf("<resumed/> in %s (%v)", success, err)
	}
	if res.H != carol.sent {
		t.Fatalf("<resumed h='%d'/>, but the client sent %d stanzas", res.H, carol.sent)
	}
	if successChild(t, success, bind2.NS, "bound") != nil {
		t.Fatalf("Bind 2 processed although the session was resumed: %s", success)
	}
	if a := authID(t, success); a.Bare() != full.Bare() {
		t.Fatalf("authorization identifier %s", a)
	}
	if n := len(s.App.Router().Sessions().Sessions(full.Bare())); n != 1 {
		t.Fatalf("carol has %d sessions after the resumption, want the resumed one", n)
	}
	c2 := newSMRaw(r2)
	c2.full, c2.h, c2.sent = full, carol.h, carol.sent
	c2.expectBodies(bodies[3:]...)
	c2.syncExpectNoMessage()
	b := unique("after")
	sendOrFail(t, alice, stanza.NewMessage(stanza.TypeChat, to, b))
	c2.expectBodies(b)
	// The resumed stream acknowledges what it receives.
	c2.send(smns.Ack(c2.h))
	c2.send(smns.Request())
	ack := c2.next()
	if h, err := smns.ParseH(ack); err != nil || !smns.Is(ack, smns.NameAck) || h != c2.sent {
		t.Fatalf("answer to <r/>: %s, want <a h='%d'/>", ack, c2.sent)
	}
	if n, _ := s.App.Stores().Offline.OfflineCount(context.Background(), full.Bare()); n != 0 {
		t.Fatalf("%d messages went to offline storage during a resumed session", n)
	}
}

// An inline resumption of an unknown session fails with <failed/> inside
// the <success/>: the client is still authenticated, the Bind 2 request
// beside it binds a new session, and without one the client binds the
// RFC 6120 way.
func TestSASL2InlineResumeFailed(t *testing.T) {
	s, alice, _ := newServer(t)

	r := dialRaw(t, s)
	success, f := sasl2Resume(t, r, "no-such-session", 3,
		bind2.Request{Tag: testSoftare, Features: []*stanza.Element{smns.Enable{Resume: true}.Element()}}.Element())
	fe := successChild(t, success, nsSM, "failed")
	if fe == nil {
		t.Fatalf("no <failed/> in %s", success)
	}
	if fl, err := smns.ParseFailed(fe); err != nil || fl.Condition != stanza.ItemNotFound {
		t.Fatalf("<failed/>: %s, want <item-not-found/>", fe)
	}
	bound := successChild(t, success, bind2.NS, "bound")
	if bound == nil {
		t.Fatalf("no <bound/> after a failed resumption: %s", success)
	}
	if en := bound.Child(nsSM, "enabled"); en == nil || en.Get("id") == "" {
		t.Fatalf("stream management not enabled on the new session: %s", bound)
	}
	if f == nil || f.Child(nsBind, "bind") != nil {
		t.Fatalf("features after a failed resumption and Bind 2: %v", f)
	}
	full := authID(t, success)
	if full.Resource() == "" || s.App.Router().Sessions().Get(full) == nil {
		t.Fatalf("no session bound for %s", full)
	}
	r.full = full
	c := newSMRaw(r)
	c.sendStanza(presenceEl())
	c.sync()
	body := unique("bound")
	sendOrFail(t, alice, stanza.NewMessage(stanza.TypeChat, full.String(), body))
	c.expectBodies(body)

	// Without Bind 2: <failed/>, then the features of an authenticated
	// stream, and RFC 6120 binding.
	r2 := dialRaw(t, s)
	success, f = sasl2Resume(t, r2, "no-such-session", 0)
	if successChild(t, success, nsSM, "failed") == nil || successChild(t, success, bind2.NS, "bound") != nil {
		t.Fatalf("failed resumption without Bind 2: %s", success)
	}
	if f == nil || f.Child(nsBind, "bind") == nil {
		t.Fatalf("no <bind/> offered after a failed resumption: %v", f)
	}
	full2 := r2.bind("legacy")
	r2.send(presenceEl())
	body = unique("legacy")
	sendOrFail(t, alice, stanza.NewMessage(stanza.TypeChat, full2.String(), body))
	r2.expectMessage(body)
}
