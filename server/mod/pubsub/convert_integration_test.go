package pubsub_test

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"image"
	"image/color"
	"image/png"
	"slices"
	"strconv"
	"testing"

	"github.com/parley-xmpp/parley/server/config"
	xpubsub "github.com/parley-xmpp/parley/xmpp/pubsub"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

const (
	nsData     = "urn:xmpp:avatar:data"
	nsMeta     = "urn:xmpp:avatar:metadata"
	nsVCard    = "vcard-temp"
	nsUpdate   = "vcard-temp:x:update"
	nsBM       = "urn:xmpp:bookmarks:1"
	nsLegacyBM = "storage:bookmarks"
	nsPrivate  = "jabber:iq:private"
)

// pngOf returns a w×h PNG and its SHA-1 in hex.
func pngOf(t *testing.T, w, h int) ([]byte, string) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(0, 0, color.RGBA{R: 200, A: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum(b.Bytes())
	return b.Bytes(), hex.EncodeToString(sum[:])
}

func TestAvatarToVCardAndPresenceHash(t *testing.T) {
	s := xmpptest.NewServer(t)
	aliceJID := s.AddUser(t, "alice", "pw")
	bobJID := s.AddUser(t, "bob", "pw")
	friends(t, s, aliceJID, bobJID)
	bob := online(t, s, "bob", "phone", nsMeta+"+notify")
	alice := s.Client(t, "alice", "pw", "desk")

	img, id := pngOf(t, 3, 2)
	open := map[string]string{"pubsub#access_model": "open"}
	mustIQ(t, alice, stanza.TypeSet, "", publishWith(nsData, id, stanza.New(nsData, "data").AppendText(base64.StdEncoding.EncodeToString(img)), open))
	meta := stanza.New(nsMeta, "metadata").Append(stanza.New(nsMeta, "info", "id", id, "bytes", strconv.Itoa(len(img)), "type", "image/png"))
	mustIQ(t, alice, stanza.TypeSet, "", publishWith(nsMeta, id, meta, open))
	if ev, _ := event(t, bob, nsMeta); ev.Items[0].ID != id {
		t.Fatalf("metadata notification = %+v", ev)
	}

	// XEP-0398 §3.1: the vCard now has the photo.
	v := mustIQ(t, bob, stanza.TypeGet, aliceJID.String(), stanza.New(nsVCard, "vCard"))
	photo := v.Child(nsVCard, "PHOTO")
	if photo == nil || photo.ChildText(nsVCard, "TYPE") != "image/png" || photo.ChildText(nsVCard, "BINVAL") != base64.StdEncoding.EncodeToString(img) {
		t.Fatalf("vCard after avatar publish = %s", v)
	}
	// §3.3: the hash is injected in alice's presence.
	if err := alice.Send(xmpptest.Context(t, wait), stanza.New(stanza.NSClient, "presence")); err != nil {
		t.Fatal(err)
	}
	p := xmpptest.Expect(t, bob, "alice's presence", func(st *stanza.Element) bool {
		return st.Name.Local == "presence" && st.From() == alice.JID().String()
	})
	if got := p.Child(nsUpdate, "x").ChildText(nsUpdate, "photo"); got != id {
		t.Fatalf("presence photo hash = %q, want %q: %s", got, id, p)
	}
	// A client's explicit empty <photo/> ("no avatar") is left alone.
	if err := alice.Send(xmpptest.Context(t, wait), stanza.New(stanza.NSClient, "presence").
		Append(stanza.New(nsUpdate, "x").Append(stanza.New(nsUpdate, "photo")))); err != nil {
		t.Fatal(err)
	}
	p = xmpptest.Expect(t, bob, "alice's presence", func(st *stanza.Element) bool {
		return st.Name.Local == "presence" && st.From() == alice.JID().String()
	})
	if got := p.Child(nsUpdate, "x").ChildText(nsUpdate, "photo"); got != "" {
		t.Fatalf("empty photo overwritten with %q", got)
	}
}

func TestVCardPhotoToAvatar(t *testing.T) {
	s := xmpptest.NewServer(t)
	aliceJID := s.AddUser(t, "alice", "pw")
	s.AddUser(t, "stranger", "pw")
	alice := s.Client(t, "alice", "pw", "desk")
	stranger := s.Client(t, "stranger", "pw", "pc")
	img, id := pngOf(t, 4, 5)
	v := stanza.New(nsVCard, "vCard").Append(
		stanza.New(nsVCard, "FN").AppendText("Alice"),
		stanza.New(nsVCard, "PHOTO").Append(
			stanza.New(nsVCard, "TYPE").AppendText("image/png"),
			stanza.New(nsVCard, "BINVAL").AppendText(base64.StdEncoding.EncodeToString(img))))
	mustIQ(t, alice, stanza.TypeSet, "", v)

	// XEP-0398 §3.2: data then metadata were published.
	res := mustIQ(t, stranger, stanza.TypeGet, aliceJID.String(), items(nsMeta, "1"))
	info := res.Child(xpubsub.NS, "items").Child(xpubsub.NS, "item").Child(nsMeta, "metadata").Child(nsMeta, "info")
	if info == nil || info.Get("id") != id || info.Get("type") != "image/png" || info.Get("bytes") != strconv.Itoa(len(img)) ||
		info.Get("width") != "4" || info.Get("height") != "5" {
		t.Fatalf("metadata = %s", res)
	}
	res = mustIQ(t, stranger, stanza.TypeGet, aliceJID.String(), items(nsData, "", id))
	data := res.Child(xpubsub.NS, "items").Child(xpubsub.NS, "item").Child(nsData, "data")
	if data == nil || data.Text() != base64.StdEncoding.EncodeToString(img) {
		t.Fatalf("data = %s", res)
	}
	// The vCard as set is kept by the vcard module.
	got := mustIQ(t, alice, stanza.TypeGet, "", stanza.New(nsVCard, "vCard"))
	if got.ChildText(nsVCard, "FN") != "Alice" {
		t.Fatalf("vCard = %s", got)
	}
}

func TestBookmarksCompat(t *testing.T) {
	s := xmpptest.NewServer(t)
	s.AddUser(t, "alice", "pw")
	alice := s.Client(t, "alice", "pw", "desk")
	other := online(t, s, "alice", "phone", nsBM+"+notify")
	bmOpts := map[string]string{
		"pubsub#persist_items": "true", "pubsub#max_items": "max",
		"pubsub#send_last_published_item": "never", "pubsub#access_model": "whitelist",
	}
	privateGet := func() *stanza.Element {
		t.Helper()
		res := mustIQ(t, alice, stanza.TypeGet, "", stanza.New(nsPrivate, "query").Append(stanza.New(nsLegacyBM, "storage")))
		return res.Child(nsLegacyBM, "storage")
	}

	// XEP-0402 → XEP-0048.
	conf := stanza.New(nsBM, "conference", "name", "The Play", "autojoin", "1").Append(
		stanza.New(nsBM, "nick").AppendText("JC"),
		stanza.New(nsBM, "extensions").Append(stanza.New("urn:example:state", "state", "minimized", "true")))
	mustIQ(t, alice, stanza.TypeSet, "", publishWith(nsBM, "theplay@muc.example", conf, bmOpts))
	event(t, other, nsBM)
	st := privateGet()
	c := st.Child(nsLegacyBM, "conference")
	if c == nil || c.Get("jid") != "theplay@muc.example" || c.Get("name") != "The Play" || c.Get("autojoin") != "true" ||
		c.ChildText(nsLegacyBM, "nick") != "JC" {
		t.Fatalf("private bookmarks = %s", st)
	}

	// XEP-0048 → XEP-0402: edit one, add one; the extensions survive.
	set := stanza.New(nsLegacyBM, "storage").Append(
		stanza.New(nsLegacyBM, "conference", "jid", "theplay@muc.example", "name", "The Play's the Thing", "autojoin", "true").
			Append(stanza.New(nsLegacyBM, "nick").AppendText("JC")),
		stanza.New(nsLegacyBM, "conference", "jid", "orchard@muc.example", "name", "Orchard").
			Append(stanza.New(nsLegacyBM, "password").AppendText("secret")),
		stanza.New(nsLegacyBM, "url", "name", "Site", "url", "https://example.org/"))
	mustIQ(t, alice, stanza.TypeSet, "", stanza.New(nsPrivate, "query").Append(set))
	res := mustIQ(t, alice, stanza.TypeGet, "", items(nsBM, ""))
	if got := itemIDs(res); !slices.Equal(got, []string{"orchard@muc.example", "theplay@muc.example"}) {
		t.Fatalf("PEP bookmarks after private set = %v", got)
	}
	for _, it := range res.Child(xpubsub.NS, "items").ChildrenNamed(xpubsub.NS, "item") {
		c := it.Child(nsBM, "conference")
		switch it.Get("id") {
		case "theplay@muc.example":
			if c.Get("name") != "The Play's the Thing" || c.Child(nsBM, "extensions").Child("urn:example:state", "state") == nil {
				t.Fatalf("edited bookmark = %s", it)
			}
		case "orchard@muc.example":
			if c.ChildText(nsBM, "password") != "secret" || c.Get("autojoin") != "" {
				t.Fatalf("added bookmark = %s", it)
			}
		}
	}
	// Removing one in private storage retracts it, with a notification.
	set = stanza.New(nsLegacyBM, "storage").Append(stanza.New(nsLegacyBM, "conference", "jid", "orchard@muc.example", "name", "Orchard").
		Append(stanza.New(nsLegacyBM, "password").AppendText("secret")))
	mustIQ(t, alice, stanza.TypeSet, "", stanza.New(nsPrivate, "query").Append(set))
	xmpptest.Expect(t, other, "retraction", func(st *stanza.Element) bool {
		ev, err := xpubsub.ParseEvent(st)
		return err == nil && slices.Equal(ev.Retract, []string{"theplay@muc.example"})
	})
	if got := itemIDs(mustIQ(t, alice, stanza.TypeGet, "", items(nsBM, ""))); !slices.Equal(got, []string{"orchard@muc.example"}) {
		t.Fatalf("PEP bookmarks after removal = %v", got)
	}
	// A PEP retraction shows in private storage, which keeps URL bookmarks.
	mustIQ(t, alice, stanza.TypeSet, "", stanza.New(nsPrivate, "query").Append(stanza.New(nsLegacyBM, "storage").Append(
		stanza.New(nsLegacyBM, "conference", "jid", "orchard@muc.example", "name", "Orchard").
			Append(stanza.New(nsLegacyBM, "password").AppendText("secret")),
		stanza.New(nsLegacyBM, "url", "name", "Site", "url", "https://example.org/"))))
	mustIQ(t, alice, stanza.TypeSet, "", ps(stanza.New(xpubsub.NS, "retract", "node", nsBM, "notify", "true").
		Append(stanza.New(xpubsub.NS, "item", "id", "orchard@muc.example"))))
	st = privateGet()
	if len(st.ChildrenNamed(nsLegacyBM, "conference")) != 0 || st.Child(nsLegacyBM, "url") == nil {
		t.Fatalf("private bookmarks after PEP retract = %s", st)
	}
}

func TestPubSubPersistsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	sameDir := func(c *config.Config) { c.DataDir = dir }
	t.Run("before", func(t *testing.T) {
		s := xmpptest.NewServer(t, sameDir)
		s.AddUser(t, "alice", "pw")
		alice := s.Client(t, "alice", "pw", "desk")
		mustIQ(t, alice, stanza.TypeSet, "", publishWith("urn:example:kept", "k1", payload("urn:example", "kept"),
			map[string]string{"pubsub#access_model": "open"}))
		mustIQ(t, alice, stanza.TypeSet, "pubsub.localhost", ps(stanza.New(xpubsub.NS, "create", "node", "svc-node")))
		mustIQ(t, alice, stanza.TypeSet, "pubsub.localhost", publish("svc-node", "s1", payload("urn:example", "svc")))
	})
	s := xmpptest.NewServer(t, sameDir)
	alice := s.Client(t, "alice", "pw", "desk")
	if got := itemIDs(mustIQ(t, alice, stanza.TypeGet, "", items("urn:example:kept", ""))); !slices.Equal(got, []string{"k1"}) {
		t.Fatalf("PEP items after restart = %v", got)
	}
	if got := itemIDs(mustIQ(t, alice, stanza.TypeGet, "pubsub.localhost", items("svc-node", ""))); !slices.Equal(got, []string{"s1"}) {
		t.Fatalf("service items after restart = %v", got)
	}
}

// An account deleted and created again does not advertise its
// predecessor's avatar hash.
func TestAvatarHashForgottenWithAccount(t *testing.T) {
	s := xmpptest.NewServer(t)
	aliceJID := s.AddUser(t, "alice", "pw")
	bobJID := s.AddUser(t, "bob", "pw")
	alice := s.Client(t, "alice", "pw", "desk")
	img, _ := pngOf(t, 2, 2)
	v := stanza.New(nsVCard, "vCard").Append(stanza.New(nsVCard, "PHOTO").Append(
		stanza.New(nsVCard, "TYPE").AppendText("image/png"),
		stanza.New(nsVCard, "BINVAL").AppendText(base64.StdEncoding.EncodeToString(img))))
	mustIQ(t, alice, stanza.TypeSet, "", v)
	remove := stanza.New("jabber:iq:register", "query").Append(stanza.New("jabber:iq:register", "remove"))
	mustIQ(t, alice, stanza.TypeSet, "", remove)
	xmpptest.Eventually(t, "the deleted account's session ended", func() bool {
		return len(s.App.Router().Sessions().Sessions(aliceJID)) == 0
	})
	s.WaitSessionEnded(t, alice.JID()) // the session-ended callbacks run after the unbind

	s.AddUser(t, "alice", "pw")
	friends(t, s, aliceJID, bobJID)
	bob := online(t, s, "bob", "phone")
	alice = s.Client(t, "alice", "pw", "desk")
	if err := alice.Send(xmpptest.Context(t, wait), stanza.New(stanza.NSClient, "presence")); err != nil {
		t.Fatal(err)
	}
	p := xmpptest.Expect(t, bob, "alice's presence", func(st *stanza.Element) bool {
		return st.Name.Local == "presence" && st.From() == alice.JID().String()
	})
	if x := p.Child(nsUpdate, "x"); x != nil {
		t.Fatalf("the new account's presence carries the old avatar hash: %s", p)
	}
}
