package transfer_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/transfer"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// fillRooms stores two rooms with affiliations.
func fillRooms(t *testing.T, s storage.Stores) []transfer.Room {
	t.Helper()
	t0 := time.Date(2026, 5, 6, 7, 8, 9, 123456000, time.UTC)
	rooms := []transfer.Room{
		{MUCRoom: storage.MUCRoom{JID: jid.MustParse("coven@conference.localhost"), Created: t0,
			Config:  map[string][]string{"muc#roomconfig_roomname": {"The Coven & <co>"}, "muc#roomconfig_persistentroom": {"true"}},
			Subject: "Potions ✓", SubjectBy: "crone"},
			Affiliations: []storage.MUCAffiliation{
				{JID: jid.MustParse("alice@localhost"), Affiliation: "owner"},
				{JID: jid.MustParse("bob@localhost"), Affiliation: "member", Nick: "bobby"},
				{JID: jid.MustParse("spam.example"), Affiliation: "outcast", Reason: "spam"},
			}},
		{MUCRoom: storage.MUCRoom{JID: jid.MustParse("café@conference.例え.jp"), Created: t0.Add(time.Hour),
			Config: map[string][]string{"muc#roomconfig_roomname": {""}}}},
	}
	for _, r := range rooms {
		if err := transfer.WriteRoom(t.Context(), s, r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := transfer.ReadRooms(t.Context(), s)
	if err != nil || len(got) != 2 {
		t.Fatalf("ReadRooms = %d rooms, %v", len(got), err)
	}
	return got
}

func checkRooms(t *testing.T, s storage.Stores, want []transfer.Room) {
	t.Helper()
	got, err := transfer.ReadRooms(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d rooms, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.JID != w.JID || g.Subject != w.Subject || g.SubjectBy != w.SubjectBy || !g.Created.Equal(w.Created) ||
			len(g.Config) != len(w.Config) || len(g.Affiliations) != len(w.Affiliations) {
			t.Fatalf("room %d = %+v\nwant %+v", i, g, w)
		}
		for k, v := range w.Config {
			if strings.Join(g.Config[k], "|") != strings.Join(v, "|") {
				t.Fatalf("room %s config %s = %q, want %q", w.JID, k, g.Config[k], v)
			}
		}
		for j, a := range w.Affiliations {
			if g.Affiliations[j] != a {
				t.Fatalf("room %s affiliation %d = %+v, want %+v", w.JID, j, g.Affiliations[j], a)
			}
		}
	}
}

func TestRoomsExportImport(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			src := openSQLite(t)
			want := fillRooms(t, src)
			var dump bytes.Buffer
			st, err := transfer.Export(t.Context(), src, &dump, transfer.ExportOptions{})
			if err != nil || st.Rooms != 2 {
				t.Fatalf("export: %+v %v", st, err)
			}
			for _, s := range []string{`<muc-room xmlns="` + transfer.NS + `" jid="coven@conference.localhost"`,
				`<field var="muc#roomconfig_roomname"><value>The Coven &amp; &lt;co&gt;</value></field>`,
				`<subject by="crone">Potions ✓</subject>`, `affiliation="outcast"`} {
				if !strings.Contains(dump.String(), s) {
					t.Fatalf("the dump lacks %q:\n%s", s, dump.String())
				}
			}
			dst := b.open(t)
			st, err = transfer.Import(t.Context(), dst, bytes.NewReader(dump.Bytes()), "", transfer.ImportOptions{})
			if err != nil || st.Rooms != 2 || st.SkippedElements != 0 {
				t.Fatalf("import: %+v %v", st, err)
			}
			checkRooms(t, dst, want)
			if _, err := transfer.Import(t.Context(), dst, bytes.NewReader(dump.Bytes()), "", transfer.ImportOptions{}); !errors.Is(err, storage.ErrExists) {
				t.Fatalf("second import: %v, want ErrExists", err)
			}
			if _, err := transfer.Import(t.Context(), dst, bytes.NewReader(dump.Bytes()), "", transfer.ImportOptions{Force: true}); err != nil {
				t.Fatal(err)
			}
			checkRooms(t, dst, want)
		})
	}
}

func TestRoomsCopy(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			src := openSQLite(t)
			want := fillRooms(t, src)
			dst := b.open(t)
			st, err := transfer.Copy(t.Context(), src, dst, transfer.CopyOptions{})
			if err != nil || st.Rooms != 2 {
				t.Fatalf("copy: %+v %v", st, err)
			}
			checkRooms(t, dst, want)
		})
	}
}

func TestRoomImportRejectsBadRooms(t *testing.T) {
	doc := `<server-data xmlns='urn:xmpp:pie:0'>
<muc-room xmlns='` + transfer.NS + `' jid='conference.localhost'/>
<muc-room xmlns='` + transfer.NS + `' jid='ok@conference.localhost'><affiliation jid='a@localhost' affiliation='king'/></muc-room>
<muc-room xmlns='` + transfer.NS + `' jid='fine@conference.localhost'><affiliation jid='a@localhost' affiliation='admin'/></muc-room>
</server-data>`
	dst := openSQLite(t)
	st, err := transfer.Import(t.Context(), dst, strings.NewReader(doc), "", transfer.ImportOptions{})
	if err != nil || st.Rooms != 1 || st.SkippedElements != 2 {
		t.Fatalf("import: %+v %v", st, err)
	}
	affs, err := dst.MUC.RoomAffiliations(t.Context(), jid.MustParse("fine@conference.localhost"))
	if err != nil || len(affs) != 1 || affs[0].Affiliation != "admin" {
		t.Fatalf("affiliations = %+v %v", affs, err)
	}
}
