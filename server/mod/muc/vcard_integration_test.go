package muc_test

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"slices"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/disco"
	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/muc"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// A room's avatar (XEP-0486): the service and the room advertise
// vcard-temp; only an owner sets the room's vCard, within
// modules.muc.max_vcard_bytes and with base64 photos; occupants are told
// with status 104; anyone reads the vCard and finds the SHA-1 of each
// photo in muc#roominfo_avatarhash, also once the persistent room has
// left memory and is loaded from storage; an empty vCard removes it.
func TestRoomAvatar(t *testing.T) {
	s := xmpptest.NewServer(t, func(c *config.Config) { c.Modules.SetSection("muc", map[string]any{"max_vcard_bytes": 2048}) })
	for _, u := range []string{"alice", "bob", "carol"} {
		s.AddUser(t, u, "pw")
	}
	alice := s.Client(t, "alice", "pw", "desk")
	bob := s.Client(t, "bob", "pw", "phone")
	carol := s.Client(t, "carol", "pw", "pc")
	room := roomJID(s, "garden", "")

	svc, err := disco.ParseInfo(mustIQ(t, carol, stanza.TypeGet, service(s), stanza.New(disco.NSInfo, "query")).Payload())
	if err != nil || !slices.Contains(svc.Features, "vcard-temp") {
		t.Fatalf("service features without vcard-temp: %v (%v)", svc.Features, err)
	}
	create(t, s, alice, "garden", "al", map[string][]string{"muc#roomconfig_persistentroom": {"1"}})
	joinSubject(t, s, bob, "garden", "bob")

	png := []byte("\x89PNG\r\n\x1a\n a small image")
	svg := []byte("<svg xmlns='http://www.w3.org/2000/svg'/>")
	hash := func(b []byte) string { s := sha1.Sum(b); return hex.EncodeToString(s[:]) }
	photo := func(typ string, b []byte) *stanza.Element {
		// Line breaks in the base64, as vCard writers put them.
		enc := base64.StdEncoding.EncodeToString(b)
		return stanza.New("vcard-temp", "PHOTO").Append(stanza.New("vcard-temp", "TYPE").AppendText(typ),
			stanza.New("vcard-temp", "BINVAL").AppendText(enc[:8]+"\n"+enc[8:]))
	}
	vcard := stanza.New("vcard-temp", "vCard").Append(stanza.New("vcard-temp", "FN").AppendText("The Garden"), photo("image/png", png), photo("image/svg+xml", svg))
	setVCard := func(c *client.Client, v *stanza.Element) *stanza.Element {
		return iq(t, c, stanza.TypeSet, room, v)
	}
	roominfo := func() *form.Form {
		info, err := disco.ParseInfo(mustIQ(t, carol, stanza.TypeGet, room, stanza.New(disco.NSInfo, "query")).Payload())
		if err != nil || len(info.Forms) != 1 || !slices.Contains(info.Features, "vcard-temp") {
			t.Fatalf("info of the room: %+v (%v)", info, err)
		}
		f, err := form.Parse(info.Forms[0])
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	if f := roominfo(); f.Field("muc#roominfo_avatarhash") != nil {
		t.Fatalf("an avatar hash without an avatar: %+v", f.Field("muc#roominfo_avatarhash"))
	}
	if got := mustIQ(t, carol, stanza.TypeGet, room, stanza.New("vcard-temp", "vCard")).Payload(); got == nil || len(got.Elements()) != 0 {
		t.Fatalf("vCard of a room without one: %v", got)
	}

	// Not an owner: forbidden. Too large: not-acceptable. A BINVAL that
	// is not base64: bad-request.
	if res := setVCard(bob, vcard); errCond(res) != stanza.Forbidden {
		t.Fatalf("a participant set the room's vCard: %s", res)
	}
	big := stanza.New("vcard-temp", "vCard").Append(stanza.New("vcard-temp", "DESC").AppendText(strings.Repeat("x", 2048)))
	if res := setVCard(alice, big); errCond(res) != stanza.NotAcceptable {
		t.Fatalf("a vCard over the limit: %s", res)
	}
	bad := stanza.New("vcard-temp", "vCard").Append(stanza.New("vcard-temp", "PHOTO").Append(stanza.New("vcard-temp", "BINVAL").AppendText("not base64!")))
	if res := setVCard(alice, bad); errCond(res) != stanza.BadRequest {
		t.Fatalf("a photo that is not base64: %s", res)
	}

	// The owner sets it: occupants hear of it (104), anyone reads it.
	if res := setVCard(alice, vcard); res.Type() != stanza.TypeResult {
		t.Fatalf("the owner could not set the room's vCard: %s", res)
	}
	xmpptest.Expect(t, bob, "status 104", func(st *stanza.Element) bool {
		return stanza.KindOf(st) == stanza.KindMessage && st.From() == room && hasCodes(st, muc.StatusConfigChanged)
	})
	want := []string{hash(png), hash(svg)}
	check := func(when string) {
		t.Helper()
		f := roominfo()
		field := f.Field("muc#roominfo_avatarhash")
		if field == nil || field.Type != form.FieldTextMulti || !slices.Equal(field.Values, want) {
			t.Fatalf("%s: avatar hash field %+v, want %v", when, field, want)
		}
		got := mustIQ(t, carol, stanza.TypeGet, room, stanza.New("vcard-temp", "vCard")).Payload()
		if got == nil || got.ChildText("vcard-temp", "FN") != "The Garden" || len(got.ChildrenNamed("vcard-temp", "PHOTO")) != 2 {
			t.Fatalf("%s: vCard of the room: %v", when, got)
		}
	}
	check("set")

	// Everyone leaves: the persistent room leaves memory; it comes back
	// from storage with its vCard.
	for _, c := range []*client.Client{alice, bob} {
		xmpptest.Send(t, c, stanza.New(stanza.NSClient, "presence", "to", room+"/x", "type", stanza.TypeUnavailable))
		xmpptest.Expect(t, c, "own departure", func(st *stanza.Element) bool {
			return stanza.KindOf(st) == stanza.KindPresence && st.Type() == stanza.TypeUnavailable && hasCodes(st, muc.StatusSelf)
		})
	}
	check("loaded from storage")

	// An empty vCard removes it.
	if res := setVCard(alice, stanza.New("vcard-temp", "vCard")); res.Type() != stanza.TypeResult {
		t.Fatalf("removing the room's vCard: %s", res)
	}
	if f := roominfo(); f.Field("muc#roominfo_avatarhash") != nil {
		t.Fatalf("an avatar hash after the avatar was removed: %+v", f.Field("muc#roominfo_avatarhash"))
	}
}
