package storage

import (
	"context"
	"time"

	"github.com/parley-xmpp/parley/xmpp/jid"
)

// MUCRoom is a persistent multi-user chat room (XEP-0045): what survives
// a restart. Occupants are never stored.
type MUCRoom struct {
	// JID is the room's bare JID (room@conference.example.org).
	JID jid.JID
	// Config holds the room configuration as muc#roomconfig form values
	// keyed by field var; the MUC module interprets it.
	Config map[string][]string
	// Subject is the current subject and SubjectBy the nickname that set
	// it; both may be empty.
	Subject   string
	SubjectBy string
	Created   time.Time
}

// MUCAffiliation is a long-lived affiliation with a room: "owner",
// "admin", "member" or "outcast".
type MUCAffiliation struct {
	// JID is a bare JID, or a domain for a whole-server affiliation.
	JID         jid.JID
	Affiliation string
	Reason      string
	// Nick is the nickname reserved for the user, optional.
	Nick string
}

// MUC stores persistent rooms and their affiliations.
type MUC interface {
	// PutRoom creates or replaces a room's configuration and subject
	// (its affiliations are kept).
	PutRoom(ctx context.Context, r MUCRoom) error
	// MUCRoom returns a room; ErrNotFound if absent.
	MUCRoom(ctx context.Context, room jid.JID) (MUCRoom, error)
	// MUCRooms lists the rooms of a service domain, or every room when
	// service is empty, sorted by JID.
	MUCRooms(ctx context.Context, service string) ([]MUCRoom, error)
	// DeleteRoom removes a room with its affiliations; ErrNotFound if
	// absent.
	DeleteRoom(ctx context.Context, room jid.JID) error
	// SetRoomAffiliation sets an affiliation of an existing room;
	// "none" removes it. ErrNotFound if the room does not exist.
	SetRoomAffiliation(ctx context.Context, room jid.JID, a MUCAffiliation) error
	// RoomAffiliations lists a room's affiliations sorted by JID.
	RoomAffiliations(ctx context.Context, room jid.JID) ([]MUCAffiliation, error)
}
