package muc

import (
	"testing"

	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// savedRoom decodes what another node saved, and rebuilds its occupants
// without failing on anything.
func FuzzParseSaved(f *testing.F) {
	f.Add([]byte(`{"o":[{"n":"Alice","r":"moderator","s":[{"j":"alice@example.com/home","p":"<presence xmlns='jabber:client'><show>away</show></presence>"}]}]}`))
	f.Add([]byte(`{"o":[{"n":"","r":"x","s":[{"j":"@@"}]}],"t":{"c":{"muc#roomconfig_roomname":["R"]},"a":[{"j":"a@b","a":"owner"}]},"c":2}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		sr, err := parseSaved(b)
		if err != nil {
			return
		}
		m := &Module{}
		rm := &room{jid: jid.MustParse("lobby@conference.example.com"), occKey: newOccupantKey(),
			occ: map[string]*occupant{}, real: map[jid.JID]*occupant{}}
		for _, so := range sr.Occupants {
			o := m.savedOccupant(rm, so)
			if o == nil {
				continue
			}
			if len(o.sessions) == 0 || o.nick == "" || o.key == "" {
				t.Fatalf("occupant %+v rebuilt from %q", o, b)
			}
			for _, s := range o.sessions {
				if s.pres == nil || s.pres.Name.Local != "presence" || s.real.Resource() == "" {
					t.Fatalf("session %+v rebuilt from %q", s, b)
				}
			}
		}
	})
}

func TestSavedOccupantRoundTrip(t *testing.T) {
	m := &Module{}
	rm := &room{jid: jid.MustParse("lobby@conference.example.com"), occKey: newOccupantKey(),
		occ: map[string]*occupant{}, real: map[jid.JID]*occupant{}}
	pres := stanza.New(stanza.NSClient, "presence").Append(stanza.New(stanza.NSClient, "show").AppendText("dnd"))
	so := savedOccupant{Nick: "Bob", Role: "visitor", Sessions: []savedSession{{JID: "bob@example.com/phone", Pres: string(pres.Bytes())}}}
	o := m.savedOccupant(rm, so)
	if o == nil || o.nick != "Bob" || o.role.String() != "visitor" || len(o.sessions) != 1 {
		t.Fatalf("rebuilt %+v", o)
	}
	if s := o.sessions[0]; s.real.String() != "bob@example.com/phone" || s.pres.ChildText("", "show") != "dnd" {
		t.Fatalf("session %+v", s)
	}
	if o.oid != rm.occupantID(jid.MustParse("bob@example.com")) {
		t.Fatal("occupant id not the room's")
	}
}
