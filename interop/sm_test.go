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

// smEvent is the part of an sm_peer event the stream management
// scenarios read beyond the shared event fields.
type smEvent struct {
	ID     string `json:"id"`
	Resume bool   `json:"resume"`
}

func decodeSM(p *peer, ev event) smEvent {
	p.t.Helper()
	var m smEvent
	if err := json.Unmarshal([]byte(ev.raw), &m); err != nil {
		p.fail("decoding %s: %v", ev.raw, err)
	}
	return m
}

// startSMSlixmpp starts slixmpp/sm_peer.py as user over STARTTLS.
func startSMSlixmpp(t *testing.T, s *server, user string) *peer {
	t.Helper()
	host, port, _ := net.SplitHostPort(s.starttls)
	args := []string{filepath.Join(testDir(t), "slixmpp", "sm_peer.py"),
		"--jid", bare(user) + "/sm", "--password", password(user),
		"--host", host, "--port", port}
	if os.Getenv("PARLEY_INTEROP_DEBUG") != "" {
		args = append(args, "--debug")
	}
	return startPeer(t, s, "slixmpp "+user+"/sm", user, exec.Command(python, args...))
}

// noDuplicate fails if p has received a message with body since the last
// expectations matched it.
func (p *peer) noDuplicate(body string) {
	p.t.Helper()
	for _, ev := range p.seen {
		if ev.Event == "message" && ev.Body == body {
			p.fail("message %q received twice", body)
		}
	}
}

// TestSlixmppStreamManagementResume: slixmpp's xep_0198 enables stream
// management with resumption; its TCP connection is cut mid-conversation
// (no closing tag); it reconnects and resumes, and every message arrives
// exactly once, including those sent while it was away.
func TestSlixmppStreamManagementResume(t *testing.T) {
	needSlixmpp(t)
	s := theServer(t)
	sara := startSMSlixmpp(t, s, "sara")
	tom := startSlixmpp(t, s, "tom", peerOpts{})
	en := sara.expect("sm_enabled", eventTimeout, func(ev event) bool { return ev.Event == "sm_enabled" })
	if m := decodeSM(sara, en); m.ID == "" || !m.Resume {
		sara.fail("stream management enabled without resumption: %s", en.raw)
	}
	for i := range 6 { // past the server's ack threshold: acks both ways
		tom.message(sara.online.JID, fmt.Sprintf("before-%d", i))
	}
	for i := range 6 {
		sara.expectMessage(tom.bare(), fmt.Sprintf("before-%d", i))
	}
	sara.message(tom.bare(), "from sara")
	tom.expectMessage(sara.bare(), "from sara")
	sara.send(map[string]any{"cmd": "ack"}) // slixmpp asks every 5 stanzas only
	sara.expect("ack of sara's message", eventTimeout, func(ev event) bool { return ev.Event == "acked" && ev.Body == "from sara" })

	sara.send(map[string]any{"cmd": "cut"})
	tom.message(sara.online.JID, "while-away-1")
	tom.message(sara.bare(), "while-away-2")
	sara.expect("resumed", loginTimeout, func(ev event) bool { return ev.Event == "resumed" })
	sara.expectMessage(tom.bare(), "while-away-1")
	sara.expectMessage(tom.bare(), "while-away-2")
	tom.message(sara.online.JID, "after")
	sara.expectMessage(tom.bare(), "after")
	for i := range 6 {
		sara.noDuplicate(fmt.Sprintf("before-%d", i))
	}
	sara.noDuplicate("while-away-1")
	sara.noDuplicate("while-away-2")
	for _, ev := range sara.seen {
		if ev.Event == "online" || ev.Event == "sm_failed" {
			sara.fail("the session was not resumed but started afresh: %s", ev.raw)
		}
	}
	// The resumed session still sends, and the server acknowledges.
	sara.message(tom.bare(), "after resume")
	tom.expectMessage(sara.bare(), "after resume")
	sara.send(map[string]any{"cmd": "ack"})
	sara.expect("ack after resumption", eventTimeout, func(ev event) bool { return ev.Event == "acked" && ev.Body == "after resume" })
}

// TestXmppjsStreamManagement: @xmpp/client enables stream management by
// default; the server answers its ack requests and acknowledges its
// messages, and requests acks itself, which the library answers.
func TestXmppjsStreamManagement(t *testing.T) {
	needXmppjs(t)
	s := theServer(t)
	cmd := xmppjsCommand(t, "", "sm_peer.js", "--service", "xmpp://"+s.starttls, "--domain", domain,
		"--username", "uma", "--password", password("uma"))
	uma := startPeer(t, s, "@xmpp/client uma (SM)", "uma", cmd)
	vic := startSlixmpp(t, s, "vic", peerOpts{})
	for i := range 3 {
		uma.message(vic.bare(), fmt.Sprintf("to vic %d", i))
	}
	for i := range 3 {
		vic.expectMessage(uma.bare(), fmt.Sprintf("to vic %d", i))
		uma.expect("ack", eventTimeout, func(ev event) bool { return ev.Event == "acked" && ev.Body == fmt.Sprintf("to vic %d", i) })
	}
	// Enough stanzas for the server to request an ack; the library's
	// answer keeps the stream up, and everything arrives.
	for i := range 8 {
		vic.message(uma.online.JID, fmt.Sprintf("to uma %d", i))
	}
	for i := range 8 {
		uma.expectMessage(vic.bare(), fmt.Sprintf("to uma %d", i))
	}
	uma.message(vic.bare(), "last")
	vic.expectMessage(uma.bare(), "last")
	uma.expect("ack of the last message", eventTimeout, func(ev event) bool { return ev.Event == "acked" && ev.Body == "last" })
}
