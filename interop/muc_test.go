package interop

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// mucEvent is the part of a muc_peer.py event the MUC scenario reads
// beyond the shared event fields.
type mucEvent struct {
	OK          bool     `json:"ok"`
	Codes       []int    `json:"codes"`
	Role        string   `json:"role"`
	Affiliation string   `json:"affiliation"`
	Occupants   []string `json:"occupants"`
	Fields      []string `json:"fields"`
	Subject     string   `json:"subject"`
	ID          string   `json:"id"`
	History     []string `json:"history"`
	StanzaID    string   `json:"stanza_id"`
	OccupantID  string   `json:"occupant_id"`
	Retracts    string   `json:"retracts"`
	ModeratedBy string   `json:"moderated_by"`
	Reason      string   `json:"reason"`
	Status      string   `json:"status"` // of an ad-hoc command
	Results     []struct {
		ID        string `json:"id"`
		From      string `json:"from"`
		Body      string `json:"body"`
		Retracted bool   `json:"retracted"`
	} `json:"results"`
}

func decodeMUC(p *peer, ev event) mucEvent {
	p.t.Helper()
	var e mucEvent
	if err := json.Unmarshal([]byte(ev.raw), &e); err != nil {
		p.fail("decoding %s: %v", ev.raw, err)
	}
	return e
}

// startMUCPeer starts slixmpp/muc_peer.py as user over STARTTLS, with
// extra arguments.
func startMUCPeer(t *testing.T, s *server, user string, extra ...string) *peer {
	t.Helper()
	return startScriptPeer(t, s, "muc_peer.py", user, "muc", extra...)
}

// startScriptPeer starts the slixmpp peer script (in slixmpp/) as
// user/resource over STARTTLS, with extra arguments.
func startScriptPeer(t *testing.T, s *server, script, user, resource string, extra ...string) *peer {
	t.Helper()
	host, port, _ := net.SplitHostPort(s.starttls)
	args := []string{filepath.Join(testDir(t), "slixmpp", script),
		"--jid", bare(user) + "/" + resource, "--password", password(user),
		"--host", host, "--port", port}
	args = append(args, extra...)
	if os.Getenv("PARLEY_INTEROP_DEBUG") != "" {
		args = append(args, "--debug")
	}
	return startPeer(t, s, "slixmpp "+user+"/"+resource, user, exec.Command(python, args...))
}

// mucReply waits for the answer to a command and fails unless it is ok.
func (p *peer) mucReply(name string) mucEvent {
	p.t.Helper()
	ev := p.expect(name, eventTimeout, func(ev event) bool { return ev.Event == name })
	e := decodeMUC(p, ev)
	if !e.OK {
		p.fail("%s failed: %s", name, ev.raw)
	}
	return e
}

// expectMUCPresence waits for occupant presence of a type from an
// occupant JID.
func (p *peer) expectMUCPresence(from, typ string) mucEvent {
	p.t.Helper()
	ev := p.expect("MUC presence "+typ+" from "+from, eventTimeout, func(ev event) bool {
		return ev.Event == "muc_presence" && ev.From == from && ev.Type == typ
	})
	return decodeMUC(p, ev)
}

// TestSlixmppMUC: two slixmpp xep_0045 clients on conference.localhost.
// The first creates a room (110 and 201), fetches the configuration form
// and submits it; the second joins; both exchange groupchat messages,
// reflected to both from the senders' occupant JIDs; the owner changes
// the subject; the second leaves and both see its unavailable presence,
// with 110 for itself only.
func TestSlixmppMUC(t *testing.T) {
	needSlixmpp(t)
	s := theServer(t)
	wendy := startMUCPeer(t, s, "wendy")
	xavier := startMUCPeer(t, s, "xavier")
	const room = "interop@conference." + domain
	occ := func(nick string) string { return room + "/" + nick }

	wendy.send(map[string]any{"cmd": "join", "room": room, "nick": "wendy"})
	j := wendy.mucReply("joined")
	if !slices.Contains(j.Codes, 110) || !slices.Contains(j.Codes, 201) || j.Affiliation != "owner" || j.Role != "moderator" {
		wendy.fail("creating the room: %+v", j)
	}
	wendy.send(map[string]any{"cmd": "configure", "room": room})
	if c := wendy.mucReply("configured"); !slices.Contains(c.Fields, "muc#roomconfig_persistentroom") {
		wendy.fail("configuration form fields: %v", c.Fields)
	}

	xavier.send(map[string]any{"cmd": "join", "room": room, "nick": "xavier"})
	j = xavier.mucReply("joined")
	if !slices.Equal(j.Codes, []int{110}) || j.Affiliation != "none" || j.Role != "participant" || !slices.Contains(j.Occupants, occ("wendy")) {
		xavier.fail("joining: %+v", j)
	}
	if p := wendy.expectMUCPresence(occ("xavier"), "available"); p.Role != "participant" {
		wendy.fail("xavier's presence: %+v", p)
	}

	wendy.send(map[string]any{"cmd": "say", "room": room, "body": "hello from wendy"})
	xavier.send(map[string]any{"cmd": "say", "room": room, "body": "hello from xavier"})
	for _, p := range []*peer{wendy, xavier} {
		for _, m := range []struct{ from, body string }{{occ("wendy"), "hello from wendy"}, {occ("xavier"), "hello from xavier"}} {
			p.expect("groupchat "+m.body, eventTimeout, func(ev event) bool {
				return ev.Event == "groupchat" && ev.From == m.from && ev.Body == m.body && !ev.Delayed
			})
		}
	}

	wendy.send(map[string]any{"cmd": "subject", "room": room, "subject": "Interop"})
	for _, p := range []*peer{wendy, xavier} {
		ev := p.expect("subject change", eventTimeout, func(ev event) bool {
			return ev.Event == "subject" && decodeMUC(p, ev).Subject == "Interop"
		})
		if ev.From != occ("wendy") {
			p.fail("subject from %s, want %s", ev.From, occ("wendy"))
		}
	}

	xavier.send(map[string]any{"cmd": "leave", "room": room, "nick": "xavier"})
	// slixmpp forgets the room as it sends its unavailable presence, so
	// xep_0045 ignores the answer: the raw stanza shows it.
	left := xavier.expect("own unavailable presence", eventTimeout, func(ev event) bool {
		return ev.Event == "raw_presence" && ev.From == occ("xavier") && ev.Type == "unavailable"
	})
	if !strings.Contains(left.XML, `code="110"`) || !strings.Contains(left.XML, `role="none"`) {
		xavier.fail("own departure: %s", left.XML)
	}
	if p := wendy.expectMUCPresence(occ("xavier"), "unavailable"); slices.Contains(p.Codes, 110) || p.Role != "none" {
		wendy.fail("xavier's departure: %+v", p)
	}
}

// TestSlixmppMUCNickConflict: what Gajim does, with slixmpp. rob's client
// announces caps asking for +notify of user nicks (XEP-0172) and has
// published its own nick to PEP. It joins a room whose nick "ruth" is
// taken by another occupant and gets <conflict/> (XEP-0045 §7.2.9), joins
// again as "rob" and gets its own presence (110), then talks in the room;
// the room keeps answering both occupants.
func TestSlixmppMUCNickConflict(t *testing.T) {
	t.Parallel()
	needSlixmpp(t)
	s := theServer(t)
	ruth := startMUCPeer(t, s, "ruth")
	rob := startMUCPeer(t, s, "rob", "--pep-nick", "Rob")
	const room = "nicks@conference." + domain
	occ := func(nick string) string { return room + "/" + nick }

	ruth.send(map[string]any{"cmd": "join", "room": room, "nick": "ruth"})
	if j := ruth.mucReply("joined"); !slices.Contains(j.Codes, 201) {
		ruth.fail("creating the room: %+v", j)
	}
	ruth.send(map[string]any{"cmd": "configure", "room": room})
	ruth.mucReply("configured")

	rob.send(map[string]any{"cmd": "join", "room": room, "nick": "ruth"})
	ev := rob.expect("the answer to joining with a taken nick", eventTimeout, func(ev event) bool { return ev.Event == "joined" })
	if e := decodeMUC(rob, ev); e.OK || ev.Condition != "conflict" {
		rob.fail("joining as ruth, whose nick is taken: want <conflict/>, got %s", ev.raw)
	}

	rob.send(map[string]any{"cmd": "join", "room": room, "nick": "rob"})
	j := rob.mucReply("joined")
	if !slices.Equal(j.Codes, []int{110}) || j.Role != "participant" || !slices.Contains(j.Occupants, occ("ruth")) {
		rob.fail("joining again as rob: %+v", j)
	}
	ruth.expectMUCPresence(occ("rob"), "available")

	rob.send(map[string]any{"cmd": "say", "room": room, "body": "rob is here"})
	ruth.send(map[string]any{"cmd": "say", "room": room, "body": "welcome, rob"})
	for _, p := range []*peer{ruth, rob} {
		for _, m := range []struct{ from, body string }{{occ("rob"), "rob is here"}, {occ("ruth"), "welcome, rob"}} {
			p.expect("groupchat "+m.body, eventTimeout, func(ev event) bool {
				return ev.Event == "groupchat" && ev.From == m.from && ev.Body == m.body
			})
		}
	}
	// rob's connection still carries everything else.
	rob.send(map[string]any{"cmd": "send", "to": ruth.bare(), "body": "direct"})
	ruth.expect("a direct message from rob", eventTimeout, func(ev event) bool {
		return ev.Event == "message" && bareOf(ev.From) == rob.bare() && ev.Body == "direct"
	})
}

// TestSlixmppMUCArchive: slixmpp's xep_0045 and xep_0313 with a
// persistent room's archive, on a server of the scenario's own. flora
// creates the room and makes it persistent (archiving is on by default);
// both talk, each message reflected with the room's stanza-id and the
// sender's occupant id; flora, a moderator, retracts gabe's spam
// (XEP-0425) and gabe sees the retraction. The server restarts; gabe
// joins again and gets the history from the archive, without the spam,
// then pages through the archive two messages at a time: every message
// in order, the spam a tombstone.
func TestSlixmppMUCArchive(t *testing.T) {
	needSlixmpp(t)
	s := ownServer(t, "flora", "gabe")
	flora := startMUCPeer(t, s, "flora")
	gabe := startMUCPeer(t, s, "gabe")
	const room = "archive@conference." + domain
	occ := func(nick string) string { return room + "/" + nick }

	flora.send(map[string]any{"cmd": "join", "room": room, "nick": "flora"})
	if j := flora.mucReply("joined"); !slices.Contains(j.Codes, 201) {
		flora.fail("creating the room: %+v", j)
	}
	flora.send(map[string]any{"cmd": "configure", "room": room, "set": map[string]any{"muc#roomconfig_persistentroom": true}})
	if c := flora.mucReply("configured"); !slices.Contains(c.Fields, "muc#roomconfig_enablearchiving") {
		flora.fail("configuration form fields: %v", c.Fields)
	}
	gabe.send(map[string]any{"cmd": "join", "room": room, "nick": "gabe"})
	gabe.mucReply("joined")

	said := []struct {
		who        *peer
		nick, body string
	}{
		{flora, "flora", "first"}, {gabe, "gabe", "second"}, {gabe, "gabe", "spam"}, {flora, "flora", "third"},
	}
	var spamID string
	for _, m := range said {
		m.who.send(map[string]any{"cmd": "say", "room": room, "body": m.body})
		ev := gabe.expect("groupchat "+m.body, eventTimeout, func(ev event) bool {
			return ev.Event == "groupchat" && ev.From == occ(m.nick) && ev.Body == m.body
		})
		e := decodeMUC(gabe, ev)
		if e.StanzaID == "" || e.OccupantID == "" {
			gabe.fail("%q came without the room's stanza-id or an occupant id: %s", m.body, ev.raw)
		}
		if m.body == "spam" {
			spamID = e.StanzaID
		}
	}
	flora.send(map[string]any{"cmd": "moderate", "room": room, "id": spamID, "reason": "no spam"})
	flora.mucReply("moderated")
	ev := gabe.expect("the retraction", eventTimeout, func(ev event) bool { return ev.Event == "retraction" })
	if r := decodeMUC(gabe, ev); r.Retracts != spamID || r.ModeratedBy != occ("flora") || r.Reason != "no spam" || ev.From != room {
		gabe.fail("retraction: %s", ev.raw)
	}
	flora.quit()
	gabe.quit()

	s.restart(t)
	gabe = startMUCPeer(t, s, "gabe")
	gabe.send(map[string]any{"cmd": "join", "room": room, "nick": "gabe", "history": 20})
	j := gabe.mucReply("joined")
	if slices.Contains(j.History, "spam") || !slices.Contains(j.History, "first") || !slices.Contains(j.History, "third") {
		gabe.fail("history after the restart: %q", j.History)
	}
	gabe.send(map[string]any{"cmd": "mam", "room": room, "max": 2})
	a := gabe.mucReply("mam")
	var bodies []string
	for _, r := range a.Results {
		if r.Retracted {
			bodies = append(bodies, "(retracted)")
			continue
		}
		bodies = append(bodies, r.Body)
	}
	if len(bodies) < 5 || !slices.Equal(bodies[:4], []string{"first", "second", "(retracted)", "third"}) {
		gabe.fail("archive after the restart: %q", bodies)
	}
}
