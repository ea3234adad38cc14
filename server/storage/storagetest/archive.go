package storagetest

import (
	"bytes"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// archiveBase is the time of the first message the archive tests append.
var archiveBase = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// fillArchive appends n messages to alice's archive, one a minute,
// alternating between juliet/balcony (even) and romeo/orchard (odd), and
// returns their IDs in order.
func fillArchive(t *testing.T, s storage.Stores, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		with := jid.MustParse("juliet@capulet.lit/balcony")
		if i%2 == 1 {
			with = jid.MustParse("romeo@montague.lit/orchard")
		}
		m := storage.ArchivedMessage{
			ID:       fmt.Sprintf("id-%02d-%x", i, i*7919),
			With:     with,
			Outgoing: i%3 == 0,
			At:       archiveBase.Add(time.Duration(i) * time.Minute),
			OriginID: fmt.Sprintf("o%d", i),
			Stanza:   fmt.Appendf(nil, "<message><body>%d ✉</body></message>", i),
		}
		noErr(t, "AppendArchive", s.Archive.AppendArchive(t.Context(), alice, m))
		ids = append(ids, m.ID)
	}
	return ids
}

// pageIDs returns the IDs of a page's messages.
func pageIDs(p storage.ArchivePage) []string {
	out := make([]string, len(p.Messages))
	for i, m := range p.Messages {
		out[i] = m.ID
	}
	return out
}

// query runs q (with Index defaulting to -1) and fails the test on error.
func query(t *testing.T, s storage.Stores, q storage.ArchiveQuery) storage.ArchivePage {
	t.Helper()
	p, err := s.Archive.QueryArchive(t.Context(), alice, q)
	noErr(t, "QueryArchive", err)
	return p
}

func wantIDs(t *testing.T, what string, got storage.ArchivePage, want []string) {
	t.Helper()
	if fmt.Sprint(pageIDs(got)) != fmt.Sprint(want) {
		t.Fatalf("%s: ids = %v, want %v", what, pageIDs(got), want)
	}
}

var archiveTests = []subtest{
	{"AppendBatch", func(t *testing.T, s storage.Stores) {
		b, ok := s.Archive.(storage.ArchiveBatcher)
		if !ok {
			t.Skip("the archive store appends one message at a time")
		}
		create(t, s, alice)
		create(t, s, bob)
		before := fillArchive(t, s, 2)
		// More than one statement's worth, interleaving two archives,
		// one ID already in alice's archive.
		var entries []storage.ArchiveEntry
		var wantAlice, wantBob []string
		for i := range 150 {
			owner := alice
			if i%3 == 0 {
				owner = bob
			}
			m := storage.ArchivedMessage{ID: fmt.Sprintf("b%03d", i), With: jid.MustParse("juliet@capulet.lit/balcony"),
				Outgoing: i%2 == 0, At: archiveBase.Add(time.Hour + time.Duration(i)*time.Second),
				OriginID: fmt.Sprintf("ob%d", i), Stanza: fmt.Appendf(nil, "<message><body>b%d</body></message>", i)}
			if i == 100 {
				m.ID = before[1]
			}
			entries = append(entries, storage.ArchiveEntry{Owner: owner, Message: m})
			switch {
			case i == 100:
			case owner == alice:
				wantAlice = append(wantAlice, m.ID)
			default:
				wantBob = append(wantBob, m.ID)
			}
		}
		stored, err := b.AppendArchiveBatch(t.Context(), entries)
		noErr(t, "AppendArchiveBatch", err)
		if stored != 149 {
			t.Errorf("stored %d, want 149 (one ID was in the archive)", stored)
		}
		p := query(t, s, storage.ArchiveQuery{Index: -1, Max: 1000})
		wantIDs(t, "alice after the batch", p, append(before, wantAlice...))
		got := p.Messages[3]
		if w := entries[2].Message; got.With.String() != w.With.String() || got.Outgoing != w.Outgoing || !got.At.Equal(w.At) ||
			got.OriginID != w.OriginID || !bytes.Equal(got.Stanza, w.Stanza) {
			t.Errorf("stored %+v, appended %+v", got, w)
		}
		pb, err := s.Archive.QueryArchive(t.Context(), bob, storage.ArchiveQuery{Index: -1, Max: 1000})
		noErr(t, "QueryArchive", err)
		wantIDs(t, "bob after the batch", pb, wantBob)
		if n, err := b.AppendArchiveBatch(t.Context(), nil); n != 0 || err != nil {
			t.Errorf("empty batch: %d, %v", n, err)
		}
	}},
	{"HugeMaxIsBounded", func(t *testing.T, s storage.Stores) {
		create(t, s, alice)
		ids := fillArchive(t, s, 3)
		// A Max near the largest int must neither overflow nor fail.
		p := query(t, s, storage.ArchiveQuery{Index: -1, Max: math.MaxInt})
		wantIDs(t, "max=MaxInt", p, ids)
		if !p.Complete {
			t.Fatal("max=MaxInt: not complete")
		}
	}},
	{"AppendAndQueryAll", func(t *testing.T, s storage.Stores) {
		create(t, s, alice)
		ids := fillArchive(t, s, 5)
		p := query(t, s, storage.ArchiveQuery{Index: -1, Max: -1})
		wantIDs(t, "all", p, ids)
		if p.Count != 5 || !p.Complete || p.FirstIndex != 0 {
			t.Fatalf("all: count %d complete %v index %d", p.Count, p.Complete, p.FirstIndex)
		}
		m := p.Messages[1]
		if m.With.String() != "romeo@montague.lit/orchard" || m.Outgoing || !m.At.Equal(archiveBase.Add(time.Minute)) ||
			m.OriginID != "o1" || !bytes.Equal(m.Stanza, []byte("<message><body>1 ✉</body></message>")) {
			t.Fatalf("message 1 = %+v", m)
		}
		if !p.Messages[0].Outgoing {
			t.Fatal("message 0 lost its direction")
		}
		// The same ID twice in one archive is refused; in another it is fine.
		err := s.Archive.AppendArchive(t.Context(), alice, storage.ArchivedMessage{ID: ids[0], With: bob, At: archiveBase, Stanza: []byte("<m/>")})
		wantErr(t, "AppendArchive duplicate", err, storage.ErrExists)
		create(t, s, bob)
		noErr(t, "AppendArchive(bob)", s.Archive.AppendArchive(t.Context(), bob, storage.ArchivedMessage{ID: ids[0], With: alice, At: archiveBase, Stanza: []byte("<m/>")}))
		if p := query(t, s, storage.ArchiveQuery{Index: -1, Max: -1}); p.Count != 5 {
			t.Fatalf("bob's message counted in alice's archive: %d", p.Count)
		}
		// Archive order is append order, even when timestamps go backwards.
		noErr(t, "AppendArchive", s.Archive.AppendArchive(t.Context(), alice, storage.ArchivedMessage{ID: "late", With: bob, At: archiveBase, Stanza: []byte("<m/>")}))
		p = query(t, s, storage.ArchiveQuery{Index: -1, Max: -1})
		if last := p.Messages[len(p.Messages)-1].ID; last != "late" {
			t.Fatalf("last message %q, want the last appended", last)
		}
	}},
	{"Filters", func(t *testing.T, s storage.Stores) {
		create(t, s, alice)
		ids := fillArchive(t, s, 10)
		wantIDs(t, "with bare", query(t, s, storage.ArchiveQuery{Index: -1, Max: -1, With: jid.MustParse("romeo@montague.lit")}),
			[]string{ids[1], ids[3], ids[5], ids[7], ids[9]})
		wantIDs(t, "with full", query(t, s, storage.ArchiveQuery{Index: -1, Max: -1, With: jid.MustParse("juliet@capulet.lit/balcony")}),
			[]string{ids[0], ids[2], ids[4], ids[6], ids[8]})
		if p := query(t, s, storage.ArchiveQuery{Index: -1, Max: -1, With: jid.MustParse("juliet@capulet.lit/other")}); p.Count != 0 {
			t.Fatalf("with another resource matched %d", p.Count)
		}
		wantIDs(t, "start/end inclusive", query(t, s, storage.ArchiveQuery{Index: -1, Max: -1,
			Start: archiveBase.Add(2 * time.Minute), End: archiveBase.Add(4 * time.Minute)}), ids[2:5])
		wantIDs(t, "after-id/before-id exclusive", query(t, s, storage.ArchiveQuery{Index: -1, Max: -1,
			AfterID: ids[2], BeforeID: ids[6]}), ids[3:6])
		wantIDs(t, "ids", query(t, s, storage.ArchiveQuery{Index: -1, Max: -1, IDs: []string{ids[7], ids[1]}}), []string{ids[1], ids[7]})
		wantIDs(t, "combined", query(t, s, storage.ArchiveQuery{Index: -1, Max: -1, With: jid.MustParse("romeo@montague.lit"),
			Start: archiveBase.Add(3 * time.Minute)}), []string{ids[3], ids[5], ids[7], ids[9]})
		for _, q := range []storage.ArchiveQuery{
			{Index: -1, Max: -1, AfterID: "nope"},
			{Index: -1, Max: -1, BeforeID: "nope"},
			{Index: -1, Max: -1, IDs: []string{ids[0], "nope"}},
			{Index: -1, Max: 2, After: "nope"},
			{Index: -1, Max: 2, Before: "nope", Last: true},
		} {
			_, err := s.Archive.QueryArchive(t.Context(), alice, q)
			wantErr(t, fmt.Sprintf("QueryArchive(%+v)", q), err, storage.ErrNotFound)
		}
	}},
	{"Paging", func(t *testing.T, s storage.Stores) {
		create(t, s, alice)
		ids := fillArchive(t, s, 7)
		// Forward.
		var got []string
		after := ""
		for pages := 0; ; pages++ {
			if pages > 4 {
				t.Fatal("forward paging does not end")
			}
			p := query(t, s, storage.ArchiveQuery{Index: -1, Max: 3, After: after})
			if p.Count != 7 || p.FirstIndex != len(got) {
				t.Fatalf("forward page %d: count %d first index %d", pages, p.Count, p.FirstIndex)
			}
			got = append(got, pageIDs(p)...)
			if p.Complete {
				break
			}
			after = p.Messages[len(p.Messages)-1].ID
		}
		if fmt.Sprint(got) != fmt.Sprint(ids) {
			t.Fatalf("forward paging: %v", got)
		}
		// Backward from the end.
		got = nil
		before := ""
		for pages := 0; ; pages++ {
			if pages > 4 {
				t.Fatal("backward paging does not end")
			}
			p := query(t, s, storage.ArchiveQuery{Index: -1, Max: 3, Before: before, Last: true})
			if want := 7 - len(got) - len(p.Messages); p.FirstIndex != want {
				t.Fatalf("backward page %d: first index %d, want %d", pages, p.FirstIndex, want)
			}
			got = append(pageIDs(p), got...)
			if p.Complete {
				break
			}
			before = p.Messages[0].ID
		}
		if fmt.Sprint(got) != fmt.Sprint(ids) {
			t.Fatalf("backward paging: %v", got)
		}
		// Exactly one page: complete.
		if p := query(t, s, storage.ArchiveQuery{Index: -1, Max: 7}); !p.Complete || len(p.Messages) != 7 {
			t.Fatalf("max = size: complete %v, %d messages", p.Complete, len(p.Messages))
		}
		// Max 0: the count only.
		if p := query(t, s, storage.ArchiveQuery{Index: -1, Max: 0}); len(p.Messages) != 0 || p.Count != 7 {
			t.Fatalf("max 0: %d messages, count %d", len(p.Messages), p.Count)
		}
		// By index.
		p := query(t, s, storage.ArchiveQuery{Index: 5, Max: 3})
		wantIDs(t, "index 5", p, ids[5:])
		if p.FirstIndex != 5 || !p.Complete {
			t.Fatalf("index 5: first index %d complete %v", p.FirstIndex, p.Complete)
		}
		if p := query(t, s, storage.ArchiveQuery{Index: 9, Max: 3}); len(p.Messages) != 0 {
			t.Fatal("index past the end returned messages")
		}
		// Paging inside a filtered set counts the filtered set only.
		p = query(t, s, storage.ArchiveQuery{Index: -1, Max: 2, With: jid.MustParse("juliet@capulet.lit"), After: ids[2]})
		wantIDs(t, "filtered page", p, []string{ids[4], ids[6]})
		if p.Count != 4 || p.FirstIndex != 2 || !p.Complete {
			t.Fatalf("filtered page: count %d first index %d complete %v", p.Count, p.FirstIndex, p.Complete)
		}
	}},
	{"BoundsDeleteAndPurge", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		create(t, s, alice)
		if _, _, ok, err := s.Archive.ArchiveBounds(ctx, alice); ok || err != nil {
			t.Fatalf("bounds of an empty archive: ok %v err %v", ok, err)
		}
		ids := fillArchive(t, s, 6)
		first, last, ok, err := s.Archive.ArchiveBounds(ctx, alice)
		noErr(t, "ArchiveBounds", err)
		if !ok || first.ID != ids[0] || last.ID != ids[5] || !last.At.Equal(archiveBase.Add(5*time.Minute)) {
			t.Fatalf("bounds = %+v, %+v, %v", first, last, ok)
		}
		create(t, s, bob)
		noErr(t, "AppendArchive(bob)", s.Archive.AppendArchive(ctx, bob, storage.ArchivedMessage{ID: "b1", With: alice, At: archiveBase, Stanza: []byte("<m/>")}))
		n, err := s.Archive.PurgeArchives(ctx, archiveBase.Add(2*time.Minute))
		noErr(t, "PurgeArchives", err)
		if n != 3 {
			t.Fatalf("purged %d, want 3 (two of alice's, one of bob's)", n)
		}
		wantIDs(t, "after purge", query(t, s, storage.ArchiveQuery{Index: -1, Max: -1}), ids[2:])
		// A purged ID is unknown to paging.
		_, err = s.Archive.QueryArchive(ctx, alice, storage.ArchiveQuery{Index: -1, Max: 2, After: ids[0]})
		wantErr(t, "QueryArchive after a purged id", err, storage.ErrNotFound)
		noErr(t, "DeleteArchive", s.Archive.DeleteArchive(ctx, alice))
		if p := query(t, s, storage.ArchiveQuery{Index: -1, Max: -1}); p.Count != 0 {
			t.Fatalf("after DeleteArchive: %d messages", p.Count)
		}
	}},
	{"Prefs", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		create(t, s, alice)
		_, err := s.Archive.ArchivePrefs(ctx, alice)
		wantErr(t, "ArchivePrefs unset", err, storage.ErrNotFound)
		p := storage.ArchivePrefs{Default: "roster", Always: []jid.JID{romeo, unicode}, Never: []jid.JID{jid.MustParse("juliet@capulet.lit/balcony")}}
		noErr(t, "SetArchivePrefs", s.Archive.SetArchivePrefs(ctx, alice, p))
		got, err := s.Archive.ArchivePrefs(ctx, alice)
		noErr(t, "ArchivePrefs", err)
		if got.Default != "roster" || fmt.Sprint(jidStrings(got.Always)) != fmt.Sprint(jidStrings(p.Always)) ||
			fmt.Sprint(jidStrings(got.Never)) != fmt.Sprint(jidStrings(p.Never)) {
			t.Fatalf("prefs = %+v, want %+v", got, p)
		}
		noErr(t, "SetArchivePrefs", s.Archive.SetArchivePrefs(ctx, alice, storage.ArchivePrefs{Default: "never"}))
		got, _ = s.Archive.ArchivePrefs(ctx, alice)
		if got.Default != "never" || len(got.Always) != 0 || len(got.Never) != 0 {
			t.Fatalf("replaced prefs = %+v", got)
		}
	}},
	{"DeleteAccountRemovesArchive", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		create(t, s, alice)
		create(t, s, bob)
		fillArchive(t, s, 3)
		noErr(t, "SetArchivePrefs", s.Archive.SetArchivePrefs(ctx, alice, storage.ArchivePrefs{Default: "never"}))
		noErr(t, "AppendArchive(bob)", s.Archive.AppendArchive(ctx, bob, storage.ArchivedMessage{ID: "b1", With: alice, At: archiveBase, Stanza: []byte("<m/>")}))
		noErr(t, "DeleteAccount", s.Accounts.DeleteAccount(ctx, alice))
		if p := query(t, s, storage.ArchiveQuery{Index: -1, Max: -1}); p.Count != 0 {
			t.Fatalf("archive survived DeleteAccount: %d messages", p.Count)
		}
		_, err := s.Archive.ArchivePrefs(ctx, alice)
		wantErr(t, "ArchivePrefs after DeleteAccount", err, storage.ErrNotFound)
		p, err := s.Archive.QueryArchive(ctx, bob, storage.ArchiveQuery{Index: -1, Max: -1})
		noErr(t, "QueryArchive(bob)", err)
		if p.Count != 1 {
			t.Fatal("DeleteAccount(alice) removed bob's archive")
		}
	}},
	{"ReplaceArchived", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		create(t, s, alice)
		ids := fillArchive(t, s, 3)
		rw, ok := s.Archive.(storage.ArchiveRewriter)
		if !ok {
			t.Fatal("the archive store cannot replace messages")
		}
		noErr(t, "ReplaceArchived", rw.ReplaceArchived(ctx, alice, ids[1], []byte("<tombstone/>")))
		p := query(t, s, storage.ArchiveQuery{Index: -1, Max: -1})
		wantIDs(t, "after ReplaceArchived", p, ids)
		if got := string(p.Messages[1].Stanza); got != "<tombstone/>" {
			t.Fatalf("replaced stanza = %q", got)
		}
		if string(p.Messages[0].Stanza) == "<tombstone/>" || string(p.Messages[2].Stanza) == "<tombstone/>" {
			t.Fatal("ReplaceArchived replaced other messages")
		}
		wantErr(t, "ReplaceArchived(unknown)", rw.ReplaceArchived(ctx, alice, "nope", []byte("<m/>")), storage.ErrNotFound)
		wantErr(t, "ReplaceArchived(bob)", rw.ReplaceArchived(ctx, bob, ids[0], []byte("<m/>")), storage.ErrNotFound)
	}},
	{"PurgeArchive", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		create(t, s, alice)
		create(t, s, bob)
		ids := fillArchive(t, s, 5) // one a minute from archiveBase
		noErr(t, "AppendArchive(bob)", s.Archive.AppendArchive(ctx, bob, storage.ArchivedMessage{ID: "b1", With: alice, At: archiveBase, Stanza: []byte("<m/>")}))
		rw := s.Archive.(storage.ArchiveRewriter)
		n, err := rw.PurgeArchive(ctx, alice, archiveBase.Add(2*time.Minute))
		noErr(t, "PurgeArchive", err)
		if n != 2 {
			t.Fatalf("PurgeArchive removed %d messages, want 2", n)
		}
		wantIDs(t, "after PurgeArchive", query(t, s, storage.ArchiveQuery{Index: -1, Max: -1}), ids[2:])
		p, err := s.Archive.QueryArchive(ctx, bob, storage.ArchiveQuery{Index: -1, Max: -1})
		noErr(t, "QueryArchive(bob)", err)
		if p.Count != 1 {
			t.Fatal("PurgeArchive(alice) purged bob's archive")
		}
	}},
}
