package interop

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// mamEvent is the part of a mam_peer.py event the carbons and MAM
// scenarios read beyond the shared event fields.
type mamEvent struct {
	Direction string `json:"direction"`
	To        string `json:"to"`
	StanzaID  string `json:"stanza_id"`
	OK        bool   `json:"ok"`
	Results   []struct {
		ID, From, To, Body, Stamp string
	} `json:"results"`
}

func decodeMAM(p *peer, ev event) mamEvent {
	p.t.Helper()
	var m mamEvent
	if err := json.Unmarshal([]byte(ev.raw), &m); err != nil {
		p.fail("decoding %s: %v", ev.raw, err)
	}
	return m
}

// startMAMPeer starts slixmpp/mam_peer.py as user/resource over STARTTLS.
func startMAMPeer(t *testing.T, s *server, user, resource string) *peer {
	t.Helper()
	host, port, _ := net.SplitHostPort(s.starttls)
	args := []string{filepath.Join(testDir(t), "slixmpp", "mam_peer.py"),
		"--jid", bare(user) + "/" + resource, "--password", password(user),
		"--host", host, "--port", port}
	if os.Getenv("PARLEY_INTEROP_DEBUG") != "" {
		args = append(args, "--debug")
	}
	return startPeer(t, s, "slixmpp "+user+"/"+resource, user, exec.Command(python, args...))
}

func (p *peer) expectCarbon(direction, body string) {
	p.t.Helper()
	p.expect(fmt.Sprintf("%s carbon of %q", direction, body), eventTimeout, func(ev event) bool {
		return ev.Event == "carbon" && ev.Body == body && decodeMAM(p, ev).Direction == direction
	})
}

// TestSlixmppCarbonsAndMAM: slixmpp's xep_0280 sees sent and received
// carbons on a second resource, and xep_0313 pages through the archive
// after the conversation, with the stanza-ids the messages were delivered
// with.
func TestSlixmppCarbonsAndMAM(t *testing.T) {
	needSlixmpp(t)
	s := theServer(t)
	one := startMAMPeer(t, s, "mia", "one")
	two := startMAMPeer(t, s, "mia", "two")
	noah := startMAMPeer(t, s, "noah", "phone")

	two.send(map[string]any{"cmd": "carbons"})
	if ev := two.expect("carbons enabled", eventTimeout, func(ev event) bool { return ev.Event == "carbons" }); !decodeMAM(two, ev).OK {
		two.fail("enabling carbons failed: %s", ev.raw)
	}

	// noah writes to mia/one: mia/two gets a received carbon.
	noah.message(one.online.JID, "hi mia")
	in := one.expectMessage(noah.bare(), "hi mia")
	two.expectCarbon("received", "hi mia")
	// mia/one answers: mia/two gets a sent carbon.
	one.message(noah.bare(), "hello noah")
	noah.expectMessage(one.bare(), "hello noah")
	two.expectCarbon("sent", "hello noah")
	// A few more, so the archive takes several pages.
	want := []string{"hi mia", "hello noah"}
	for i := range 3 {
		body := fmt.Sprintf("line %d", i)
		noah.message(one.online.JID, body)
		one.expectMessage(noah.bare(), body)
		want = append(want, body)
	}

	for _, p := range []*peer{one, noah} {
		p.send(map[string]any{"cmd": "mam", "max": 2})
		ev := p.expect("archive", eventTimeout, func(ev event) bool { return ev.Event == "mam" })
		m := decodeMAM(p, ev)
		if !m.OK {
			p.fail("MAM query failed: %s", ev.raw)
		}
		var got []string
		ids := map[string]bool{}
		for _, r := range m.Results {
			got = append(got, r.Body)
			if r.ID == "" || ids[r.ID] || r.Stamp == "" {
				p.fail("bad result %+v", r)
			}
			ids[r.ID] = true
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			p.fail("archive %q, want %q (each message once, in order)", got, want)
		}
		if p == one {
			if sid := decodeMAM(one, in).StanzaID; sid == "" || sid != m.Results[0].ID {
				p.fail("message delivered with stanza-id %q, archived as %q", sid, m.Results[0].ID)
			}
		}
	}
}
