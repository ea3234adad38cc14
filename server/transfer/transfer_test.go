package transfer_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/storage/postgres"
	"github.com/parley-xmpp/parley/server/storage/postgres/pgtest"
	"github.com/parley-xmpp/parley/server/storage/sqlite"
	"github.com/parley-xmpp/parley/server/transfer"
	"github.com/parley-xmpp/parley/server/transfer/transfertest"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/sasl"
)

func openSQLite(t *testing.T) storage.Stores {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "p.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db.Stores()
}

func openPostgres(t *testing.T) storage.Stores {
	t.Helper()
	url := pgtest.Database(t) // skips unless PARLEY_TEST_POSTGRES is set
	db, err := postgres.Open(t.Context(), url, postgres.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db.Stores()
}

var backends = []struct {
	name string
	open func(t *testing.T) storage.Stores
}{{"sqlite", openSQLite}, {"postgres", openPostgres}}

func TestExportImportRoundTrip(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			src := openSQLite(t)
			transfertest.Fill(t, src)
			want := transfertest.Take(t, src)

			var dump bytes.Buffer
			st, err := transfer.Export(t.Context(), src, &dump, transfer.ExportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if st.Accounts != 4 || st.Archived != 21 || st.PEPNodes != 6 || st.Services != 1 || st.Invites != 2 || st.FastTokens != 9 {
				t.Fatalf("export stats: %+v", st)
			}
			for _, want := range []string{"<server-data xmlns='urn:xmpp:pie:0'>", `<host jid="例え.jp">`, `<user name="ĵürgen">`,
				`<scram-credentials xmlns="urn:xmpp:pie:0#scram" mechanism="SCRAM-SHA-256"><iter-count>4098</iter-count>`,
				`<archive xmlns='urn:xmpp:pie:0#mam'>`, `<result xmlns="urn:xmpp:mam:2" id="id-0-0">`,
				`<pubsub xmlns="http://jabber.org/protocol/pubsub#owner"><configure node="urn:xmpp:avatar:metadata"`,
				`<offline-messages><message xmlns="jabber:client"`} {
				if !strings.Contains(dump.String(), want) {
					t.Fatalf("the dump lacks %q:\n%s", want, dump.String())
				}
			}

			dst := b.open(t)
			st, err = transfer.Import(t.Context(), dst, bytes.NewReader(dump.Bytes()), "", transfer.ImportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if st.Accounts != 4 || st.Archived != 21 || st.SkippedElements != 0 || st.NoCredentials != 0 || st.Disabled != 1 {
				t.Fatalf("import stats: %+v", st)
			}
			transfertest.Check(t, transfertest.Take(t, dst), want)

			// Importing again is refused, and replaces everything with force.
			_, err = transfer.Import(t.Context(), dst, bytes.NewReader(dump.Bytes()), "", transfer.ImportOptions{})
			if !errors.Is(err, storage.ErrExists) {
				t.Fatalf("second import: %v, want ErrExists", err)
			}
			st, err = transfer.Import(t.Context(), dst, bytes.NewReader(dump.Bytes()), "", transfer.ImportOptions{Force: true})
			if err != nil || st.Replaced != 4 {
				t.Fatalf("forced import: %+v %v", st, err)
			}
			transfertest.Check(t, transfertest.Take(t, dst), want)

			// A second export of the import is the same document.
			var again bytes.Buffer
			if _, err := transfer.Export(t.Context(), dst, &again, transfer.ExportOptions{}); err != nil {
				t.Fatal(err)
			}
			if again.String() != dump.String() {
				t.Fatalf("re-export differs:\n%s\n----\n%s", again.String(), dump.String())
			}
		})
	}
}

func TestCopy(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			src := openSQLite(t)
			transfertest.Fill(t, src)
			want := transfertest.Take(t, src)
			dst := b.open(t)
			st, err := transfer.Copy(t.Context(), src, dst, transfer.CopyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if st.Accounts != 4 || st.Archived != 21 || st.Services != 1 || st.Invites != 2 || st.Push != 6 {
				t.Fatalf("stats: %+v", st)
			}
			transfertest.Check(t, transfertest.Take(t, dst), want)
			if _, err := transfer.Copy(t.Context(), src, dst, transfer.CopyOptions{}); !errors.Is(err, transfer.ErrTargetNotEmpty) {
				t.Fatalf("copy into a full target: %v", err)
			}
			if st, err := transfer.Copy(t.Context(), src, dst, transfer.CopyOptions{Force: true}); err != nil || st.Replaced != 4 {
				t.Fatalf("forced copy: %+v %v", st, err)
			}
			transfertest.Check(t, transfertest.Take(t, dst), want)
		})
	}
}

// A dump as Prosody's xep0227 store writes it: one file per user, a
// plaintext password or SHA-1 keys in hex-derived base64, subscription
// requests in the XEP-0227 namespace, a roster 'version', a submitted
// node configuration with fields Parley does not know.
const prosodyDump = `<?xml version='1.0'?>
<server-data xmlns='urn:xmpp:pie:0'><host jid='localhost'><user name='juliet' password='s3cret ✓'>` +
	`<query xmlns='jabber:iq:roster' version='3'><item jid='romeo@montague.lit' subscription='both' name='Romeo'><group>Friends</group></item>` +
	`<item jid='nurse@localhost' subscription='none' ask='subscribe'/><item jid='juliet@localhost' subscription='both'/></query>` +
	`<presence type='subscribe' from='tybalt@capulet.lit'/>` +
	`<vCard xmlns='vcard-temp'><FN>Juliet</FN></vCard>` +
	`<query xmlns='jabber:iq:private'><exodus xmlns='exodus:prefs'><defaultnick>J</defaultnick></exodus></query>` +
	`<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><configure node='http://jabber.org/protocol/nick'><x xmlns='jabber:x:data' type='submit'>` +
	`<field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#node_config</value></field>` +
	`<field var='pubsub#access_model'><value>open</value></field><field var='pubsub#itemreply'><value>owner</value></field></x></configure>` +
	`<subscriptions node='http://jabber.org/protocol/nick'><subscription jid='romeo@montague.lit' subscribed='subscribed'/></subscriptions></pubsub>` +
	`<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='http://jabber.org/protocol/nick'><item id='current'><nick xmlns='http://jabber.org/protocol/nick'>Jules</nick></item></items></pubsub>` +
	`<archive xmlns='urn:xmpp:pie:0#mam'><result xmlns='urn:xmpp:mam:2' id='a1'><forwarded xmlns='urn:xmpp:forward:0'><delay xmlns='urn:xmpp:delay' stamp='2023-01-02T03:04:05Z'/>` +
	`<message xmlns='jabber:client' from='romeo@montague.lit/orchard' to='juliet@localhost/balcony' type='chat'><body>hi</body></message></forwarded></result></archive>` +
	`<unknown xmlns='urn:example'/>` +
	`</user></host></server-data>`

func TestImportProsodyStyle(t *testing.T) {
	s := openSQLite(t)
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	st, err := transfer.Import(t.Context(), s, strings.NewReader(prosodyDump), "", transfer.ImportOptions{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if st.PlaintextPasswords != 1 || st.SkippedElements != 1 || st.RosterItems != 2 || st.Archived != 1 {
		t.Fatalf("stats: %+v", st)
	}
	juliet := jid.MustParse("juliet@localhost")
	a, err := transfer.ReadAccount(t.Context(), s, juliet)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Keys) != 2 || a.Keys[0].Hash == a.Keys[1].Hash {
		t.Fatalf("keys: %+v", a.Keys)
	}
	for _, k := range a.Keys {
		h := sasl.SHA1
		if k.Hash == "SHA-256" {
			h = sasl.SHA256
		}
		c := sasl.Credentials{Hash: h, Salt: k.Salt, Iterations: k.Iterations, StoredKey: k.StoredKey, ServerKey: k.ServerKey}
		ok, err := sasl.VerifyPassword(c, "s3cret ✓")
		bad, _ := sasl.VerifyPassword(c, "wrong")
		if err != nil || !ok || bad {
			t.Fatalf("the %s key does not verify the old password", k.Hash)
		}
	}
	if a.RosterVersion != 3 || len(a.Roster) != 2 || a.Roster[1].Contact.String() != "romeo@montague.lit" ||
		a.Roster[1].Subscription != storage.SubBoth || a.Roster[1].Groups[0] != "Friends" || !a.Roster[0].AskOut {
		t.Fatalf("roster: %d %+v", a.RosterVersion, a.Roster)
	}
	if len(a.Requests) != 1 || a.Requests[0].From.String() != "tybalt@capulet.lit" || !a.Requests[0].At.Equal(now) ||
		!strings.Contains(string(a.Requests[0].Stanza), `xmlns="jabber:client"`) {
		t.Fatalf("requests: %+v", a.Requests)
	}
	if !strings.Contains(string(a.VCard), "<FN>Juliet</FN>") || !strings.Contains(string(a.Private["exodus:prefs exodus"]), "<defaultnick>J</defaultnick>") {
		t.Fatalf("vCard %q, private %q", a.VCard, a.Private)
	}
	if len(a.PEP) != 1 || len(a.PEP[0].Items) != 1 || a.PEP[0].Items[0].Publisher != juliet ||
		a.PEP[0].Config["pubsub#access_model"][0] != "open" || a.PEP[0].Config["pubsub#itemreply"] != nil ||
		len(a.PEP[0].Subscriptions) != 1 || a.PEP[0].Subscriptions[0].State != "subscribed" {
		t.Fatalf("PEP: %+v", a.PEP)
	}
	pg, err := s.Archive.QueryArchive(t.Context(), juliet, storage.ArchiveQuery{Index: -1, Max: 10})
	if err != nil || len(pg.Messages) != 1 || pg.Messages[0].ID != "a1" || pg.Messages[0].Outgoing ||
		pg.Messages[0].With.String() != "romeo@montague.lit/orchard" {
		t.Fatalf("archive: %+v %v", pg, err)
	}
}

// ejabberd's export_piefxis writes a main file including host files with
// XInclude, and uses the namespace of XEP-0227 before 1.0.
func TestImportXInclude(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const old = "http://www.xmpp.org/extensions/xep-0227.html#ns"
	write("main.xml", `<?xml version='1.0' encoding='UTF-8'?><server-data xmlns='`+old+`' xmlns:xi='http://www.w3.org/2001/XInclude'><xi:include href='localhost.xml'/></server-data>`)
	write("localhost.xml", `<?xml version='1.0' encoding='UTF-8'?><host xmlns='`+old+`' xmlns:xi='http://www.w3.org/2001/XInclude' jid='localhost'>`+
		`<user name='a' password='pa'><offline-messages><message xmlns='jabber:client' from='b@localhost/r' to='a@localhost' type='chat'><body>x</body>`+
		`<delay xmlns='urn:xmpp:delay' from='localhost' stamp='2020-02-03T04:05:06.789Z'>Offline Storage</delay></message></offline-messages></user>`+
		`<xi:include href='localhost/b.xml'/></host>`)
	write("localhost/b.xml", `<user xmlns='`+old+`' name='b' password='pb'><query xmlns='jabber:iq:roster'><item jid='a@localhost' subscription='both'/></query></user>`)
	s := openSQLite(t)
	st, err := transfer.ImportFile(t.Context(), s, filepath.Join(dir, "main.xml"), transfer.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Accounts != 2 || st.Offline != 1 || st.RosterItems != 1 || st.PlaintextPasswords != 2 {
		t.Fatalf("stats: %+v", st)
	}
	msgs, err := s.Offline.OfflineMessages(t.Context(), jid.MustParse("a@localhost"))
	if err != nil || len(msgs) != 1 || !msgs[0].At.Equal(time.Date(2020, 2, 3, 4, 5, 6, 789e6, time.UTC)) {
		t.Fatalf("offline: %+v %v", msgs, err)
	}
	// A loop of includes ends in an error, not a hang.
	write("loop.xml", `<server-data xmlns='urn:xmpp:pie:0' xmlns:xi='http://www.w3.org/2001/XInclude'><xi:include href='loop.xml'/></server-data>`)
	if _, err := transfer.ImportFile(context.Background(), openSQLite(t), filepath.Join(dir, "loop.xml"), transfer.ImportOptions{}); err == nil ||
		!strings.Contains(err.Error(), "nested") {
		t.Fatalf("include loop: %v", err)
	}
}

func TestImportRejectsNonXEP0227(t *testing.T) {
	s := openSQLite(t)
	for _, doc := range []string{`<html/>`, ``, `<server-data xmlns='urn:xmpp:pie:0'><host jid='a@b'/></server-data>`, `<server-data xmlns='urn:xmpp:pie:0'><host jid='x'><user name='a'>`} {
		if _, err := transfer.Import(t.Context(), s, strings.NewReader(doc), "", transfer.ImportOptions{}); err == nil {
			t.Errorf("%q imported without error", doc)
		}
	}
}

// Credentials as ejabberd 23.01's export_piefxis wrote them for the
// password "old pw ✓": base64 of the base64 it stores.
const ejabberdUser = `<server-data xmlns='urn:xmpp:pie:0'><host xmlns='urn:xmpp:pie:0' jid='localhost'><user name='alice'>` +
	`<scram-credentials xmlns='urn:xmpp:pie:0#scram' mechanism='SCRAM-SHA-1'><iter-count>4096</iter-count>` +
	`<salt>djZUbVdsLzY4UlRoVy9CRGRLcFZuQT09</salt><server-key>NzlZYTBJRUtZWGlVZ3F5dkdYK09zekVwb01vPQ==</server-key>` +
	`<stored-key>YmRzdkZhdnY2YlJ1WlU2OVpXMyswZitjTWtJPQ==</stored-key></scram-credentials></user></host></server-data>`

func TestImportEjabberdCredentials(t *testing.T) {
	s := openSQLite(t)
	if _, err := transfer.Import(t.Context(), s, strings.NewReader(ejabberdUser), "", transfer.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	keys, err := s.Accounts.Keys(t.Context(), jid.MustParse("alice@localhost"))
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys: %+v %v", keys, err)
	}
	k := keys[0]
	c := sasl.Credentials{Hash: sasl.SHA1, Salt: k.Salt, Iterations: k.Iterations, StoredKey: k.StoredKey, ServerKey: k.ServerKey}
	if ok, err := sasl.VerifyPassword(c, "old pw ✓"); err != nil || !ok {
		t.Fatalf("the imported key does not verify the old password: %v %v", ok, err)
	}
}
