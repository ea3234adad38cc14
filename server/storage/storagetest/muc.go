package storagetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// mucTests check storage.MUC (XEP-0045 persistent rooms).
var mucTests = []subtest{
	{"PutGetReplace", testMUCPutGet},
	{"ListByService", testMUCList},
	{"Affiliations", testMUCAffiliations},
	{"Delete", testMUCDelete},
}

var (
	roomA = jid.MustParse("coven@conference.example.org")
	roomB = jid.MustParse("café@conference.example.org")
	roomC = jid.MustParse("lobby@conference.example.net")
)

func mucRoom(j jid.JID, name string) storage.MUCRoom {
	return storage.MUCRoom{
		JID:     j,
		Config:  map[string][]string{"muc#roomconfig_roomname": {name}, "muc#roomconfig_roomowners": {"a@x", "b@y"}},
		Subject: "Fire & <brimstone>", SubjectBy: "thirdwitch",
		Created: time.Date(2026, 3, 4, 5, 6, 7, 8, time.UTC),
	}
}

func testMUCPutGet(t *testing.T, s storage.Stores) {
	ctx := t.Context()
	_, err := s.MUC.MUCRoom(ctx, roomA)
	wantErr(t, "MUCRoom(absent)", err, storage.ErrNotFound)
	r := mucRoom(roomA, "Coven")
	noErr(t, "PutRoom", s.MUC.PutRoom(ctx, r))
	got, err := s.MUC.MUCRoom(ctx, roomA)
	noErr(t, "MUCRoom", err)
	if !got.Created.Equal(r.Created) || got.JID != roomA || got.Subject != r.Subject || got.SubjectBy != r.SubjectBy ||
		!reflect.DeepEqual(got.Config, r.Config) {
		t.Fatalf("MUCRoom = %+v, want %+v", got, r)
	}
	noErr(t, "SetRoomAffiliation", s.MUC.SetRoomAffiliation(ctx, roomA, storage.MUCAffiliation{JID: alice, Affiliation: "owner"}))
	r2 := r
	r2.Config = map[string][]string{"muc#roomconfig_roomname": {"Renamed"}}
	r2.Subject, r2.SubjectBy = "", ""
	r2.Created = r.Created.Add(time.Hour)
	noErr(t, "PutRoom(replace)", s.MUC.PutRoom(ctx, r2))
	got, err = s.MUC.MUCRoom(ctx, roomA)
	noErr(t, "MUCRoom", err)
	if got.Subject != "" || got.Config["muc#roomconfig_roomname"][0] != "Renamed" || !got.Created.Equal(r.Created) {
		t.Fatalf("after replace: %+v (creation time must stay %v)", got, r.Created)
	}
	affs, err := s.MUC.RoomAffiliations(ctx, roomA)
	noErr(t, "RoomAffiliations", err)
	if len(affs) != 1 || affs[0].JID != alice {
		t.Fatalf("replacing a room dropped its affiliations: %+v", affs)
	}
}

func testMUCList(t *testing.T, s storage.Stores) {
	ctx := t.Context()
	for _, j := range []jid.JID{roomC, roomB, roomA} {
		noErr(t, "PutRoom", s.MUC.PutRoom(ctx, mucRoom(j, j.Local())))
	}
	rooms, err := s.MUC.MUCRooms(ctx, "conference.example.org")
	noErr(t, "MUCRooms", err)
	if len(rooms) != 2 || rooms[0].JID != roomB || rooms[1].JID != roomA {
		t.Fatalf("MUCRooms(conference.example.org) = %v", rooms)
	}
	all, err := s.MUC.MUCRooms(ctx, "")
	noErr(t, "MUCRooms(all)", err)
	if len(all) != 3 {
		t.Fatalf("MUCRooms(all) = %d rooms, want 3", len(all))
	}
	none, err := s.MUC.MUCRooms(ctx, "conference.example.com")
	noErr(t, "MUCRooms(other)", err)
	if len(none) != 0 {
		t.Fatalf("MUCRooms(other service) = %v", none)
	}
}

func testMUCAffiliations(t *testing.T, s storage.Stores) {
	ctx := t.Context()
	err := s.MUC.SetRoomAffiliation(ctx, roomA, storage.MUCAffiliation{JID: alice, Affiliation: "owner"})
	wantErr(t, "SetRoomAffiliation(no room)", err, storage.ErrNotFound)
	noErr(t, "PutRoom", s.MUC.PutRoom(ctx, mucRoom(roomA, "A")))
	noErr(t, "PutRoom", s.MUC.PutRoom(ctx, mucRoom(roomB, "B")))
	server := jid.MustParse("evil.example")
	for _, a := range []storage.MUCAffiliation{
		{JID: bob, Affiliation: "member", Nick: "bobby"},
		{JID: alice, Affiliation: "owner"},
		{JID: server, Affiliation: "outcast", Reason: "spam"},
		{JID: unicode, Affiliation: "admin"},
	} {
		noErr(t, "SetRoomAffiliation", s.MUC.SetRoomAffiliation(ctx, roomA, a))
	}
	noErr(t, "SetRoomAffiliation(B)", s.MUC.SetRoomAffiliation(ctx, roomB, storage.MUCAffiliation{JID: carol, Affiliation: "member"}))
	noErr(t, "SetRoomAffiliation(change)", s.MUC.SetRoomAffiliation(ctx, roomA, storage.MUCAffiliation{JID: bob, Affiliation: "admin", Nick: "bobby"}))
	noErr(t, "SetRoomAffiliation(none)", s.MUC.SetRoomAffiliation(ctx, roomA, storage.MUCAffiliation{JID: alice, Affiliation: "none"}))
	affs, err := s.MUC.RoomAffiliations(ctx, roomA)
	noErr(t, "RoomAffiliations", err)
	want := []storage.MUCAffiliation{
		{JID: bob, Affiliation: "admin", Nick: "bobby"},
		{JID: server, Affiliation: "outcast", Reason: "spam"},
		{JID: unicode, Affiliation: "admin"},
	}
	if !reflect.DeepEqual(affs, want) {
		t.Fatalf("RoomAffiliations = %+v\nwant %+v", affs, want)
	}
}

func testMUCDelete(t *testing.T, s storage.Stores) {
	ctx := t.Context()
	wantErr(t, "DeleteRoom(absent)", s.MUC.DeleteRoom(ctx, roomA), storage.ErrNotFound)
	noErr(t, "PutRoom", s.MUC.PutRoom(ctx, mucRoom(roomA, "A")))
	noErr(t, "SetRoomAffiliation", s.MUC.SetRoomAffiliation(ctx, roomA, storage.MUCAffiliation{JID: alice, Affiliation: "owner"}))
	noErr(t, "DeleteRoom", s.MUC.DeleteRoom(ctx, roomA))
	_, err := s.MUC.MUCRoom(ctx, roomA)
	wantErr(t, "MUCRoom(deleted)", err, storage.ErrNotFound)
	noErr(t, "PutRoom(again)", s.MUC.PutRoom(ctx, mucRoom(roomA, "A")))
	affs, err := s.MUC.RoomAffiliations(ctx, roomA)
	noErr(t, "RoomAffiliations", err)
	if len(affs) != 0 {
		t.Fatalf("a recreated room inherited affiliations: %+v", affs)
	}
}
