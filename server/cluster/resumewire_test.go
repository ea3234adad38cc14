package cluster

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

func TestResumeStateRoundTrip(t *testing.T) {
	s := session.NewSession(jid.MustParse("bob@example.com/phone"), nil)
	s.SetPresence(stanza.New(stanza.NSClient, "presence").Append(stanza.New(stanza.NSClient, "show").AppendText("away")), 3)
	s.SetFlag("roster", true)
	st, full, pres, err := parseState(stateOf(s, "node1", "inc", 5*time.Minute, 42, true).marshal())
	if err != nil {
		t.Fatal(err)
	}
	if full != s.JID() || st.Node != "node1" || st.Inc != "inc" || st.Timeout != 300 || st.InH != 42 || !st.Sync ||
		st.Priority != 3 || len(st.Flags) != 1 || st.Flags[0] != "roster" {
		t.Fatalf("state %+v of %v", st, full)
	}
	if pres == nil || pres.ChildText(stanza.NSClient, "show") != "away" {
		t.Fatalf("presence %v", pres)
	}
	for _, bad := range []string{
		`{}`, `{"j":"bob@example.com","n":"a","i":"b","t":1}`, `{"j":"bob@example.com/r","n":"a","i":"b"}`,
		`{"j":"bob@example.com/r","n":"a","i":"b","t":1,"x":"<message/>"}`, `[`,
	} {
		if _, _, _, err := parseState([]byte(bad)); err == nil {
			t.Errorf("parseState(%s) accepted", bad)
		}
	}
}

func TestResumeIDs(t *testing.T) {
	id := resumeID("node-1", "ABCDEF234567")
	if node, err := nodeOfID(id); err != nil || node != "node-1" {
		t.Fatalf("nodeOfID(%q) = %q, %v", id, node, err)
	}
	for _, bad := range []string{"", "ABC", "bm9kZQ.", ".ABC", "bm9kZQ.AB-C", "bm9kZQ==.ABC", strings.Repeat("A", 300) + ".A"} {
		if _, err := nodeOfID(bad); err == nil {
			t.Errorf("nodeOfID(%q) accepted", bad)
		}
	}
}

func TestHandoverWire(t *testing.T) {
	req, _ := json.Marshal(handoverReq{ID: resumeID("n", "AB"), User: "bob@example.com", H: 7})
	r, user, err := parseHandoverReq(req)
	if err != nil || r.H != 7 || user != jid.MustParse("bob@example.com") {
		t.Fatalf("request %+v %v: %v", r, user, err)
	}
	for _, bad := range []handoverReq{{ID: "x", User: "bob@example.com"}, {ID: resumeID("n", "AB"), User: "bob@example.com/r"}} {
		b, _ := json.Marshal(bad)
		if _, _, err := parseHandoverReq(b); err == nil {
			t.Errorf("request %+v accepted", bad)
		}
	}
	s := session.NewSession(jid.MustParse("bob@example.com/phone"), nil)
	st := stateOf(s, "n", "i", time.Minute, 3, false)
	m := stanza.NewMessage(stanza.TypeChat, "bob@example.com", "hi")
	m.Set("from", "alice@example.com/x")
	resp, _ := json.Marshal(handoverResp{Full: st.Full, InH: 3, State: string(st.marshal()), Pending: []string{string(m.Bytes()), "<bad"}})
	out, refused, err := parseHandover(resp, 4096)
	if err != nil || refused != "" {
		t.Fatalf("answer: %q %v", refused, err)
	}
	if out.InH != 3 || out.Full != s.JID() || len(out.Pending) != 1 || out.Pending[0].ChildText("", "body") != "hi" || out.Bad != 1 {
		t.Fatalf("answer %+v", out)
	}
	if _, refused, _ := parseHandover([]byte(`{"e":"not found"}`), 4096); refused != "not found" {
		t.Fatalf("refusal %q", refused)
	}
}

func FuzzParseState(f *testing.F) {
	s := session.NewSession(jid.MustParse("bob@example.com/phone"), nil)
	s.SetPresence(stanza.New(stanza.NSClient, "presence"), 1)
	f.Add(stateOf(s, "n1", "i", time.Minute, 9, true).marshal())
	f.Add([]byte(`{"j":"a@b/c","n":"a","i":"b","t":1,"x":"<presence/>"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, full, pres, err := parseState(b)
		if err != nil {
			return
		}
		if full.Resource() == "" || (pres != nil && pres.Name.Local != "presence") {
			t.Fatalf("state of %v with %v", full, pres)
		}
	})
}

func FuzzNodeOfID(f *testing.F) {
	f.Add(resumeID("node1", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
	f.Add("bm9kZTE.AB")
	f.Fuzz(func(t *testing.T, id string) {
		node, err := nodeOfID(id)
		if err != nil {
			return
		}
		_, random, _ := strings.Cut(id, ".")
		if resumeID(node, random) != id {
			t.Fatalf("nodeOfID(%q) = %q", id, node)
		}
	})
}

func FuzzParseHandover(f *testing.F) {
	s := session.NewSession(jid.MustParse("bob@example.com/phone"), nil)
	st := stateOf(s, "n", "i", time.Minute, 3, false)
	resp, _ := json.Marshal(handoverResp{Full: st.Full, InH: 3, State: string(st.marshal()), Pending: []string{`<message from="a@b/c"><body>x</body></message>`}})
	f.Add(resp)
	f.Add([]byte(`{"e":"not found"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, refused, err := parseHandover(b, 4096)
		if err != nil || refused != "" {
			return
		}
		for _, p := range out.Pending {
			if stanza.KindOf(p) == stanza.KindOther {
				t.Fatalf("a <%s/> pending", p.Name.Local)
			}
		}
	})
}

func FuzzParseJournal(f *testing.F) {
	m := stanza.NewMessage(stanza.TypeChat, "b@e", "hi")
	f.Add("12", appendWrapped(nil, m))
	f.Add("x", []byte(`<presence/>`))
	f.Fuzz(func(t *testing.T, h string, data []byte) {
		e, err := parseJournal(h, data, 4096)
		if err == nil && stanza.KindOf(e.st) != stanza.KindMessage {
			t.Fatalf("journal entry %v", e.st)
		}
	})
}
