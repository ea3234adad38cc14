package sqlite

import (
	"github.com/parley-xmpp/parley/server/storage"
)

// mucSchema holds persistent multi-user chat rooms (XEP-0045) and their
// affiliations; occupants are never stored.
const mucSchema = `
CREATE TABLE muc_rooms (
	room       TEXT PRIMARY KEY,
	service    TEXT NOT NULL,
	config     TEXT NOT NULL,
	subject    TEXT NOT NULL,
	subject_by TEXT NOT NULL,
	created    INTEGER NOT NULL
);
CREATE INDEX muc_rooms_service ON muc_rooms(service, room);

CREATE TABLE muc_affiliations (
	room        TEXT NOT NULL REFERENCES muc_rooms(room) ON DELETE CASCADE,
	jid         TEXT NOT NULL,
	affiliation TEXT NOT NULL,
	reason      TEXT NOT NULL,
	nick        TEXT NOT NULL,
	PRIMARY KEY (room, jid)
);
`

var _ storage.MUC = (*DB)(nil)
