package postgres

import (
	"github.com/parley-xmpp/parley/server/storage"
)

// mucSchema holds persistent multi-user chat rooms (XEP-0045) and their
// affiliations; occupants are never stored.
const mucSchema = `
CREATE TABLE muc_rooms (
	room       TEXT COLLATE "C" PRIMARY KEY,
	service    TEXT COLLATE "C" NOT NULL,
	config     TEXT NOT NULL,
	subject    TEXT NOT NULL,
	subject_by TEXT NOT NULL,
	created    BIGINT NOT NULL
);
CREATE INDEX muc_rooms_service ON muc_rooms(service, room);

CREATE TABLE muc_affiliations (
	room        TEXT COLLATE "C" NOT NULL REFERENCES muc_rooms(room) ON DELETE CASCADE,
	jid         TEXT COLLATE "C" NOT NULL,
	affiliation TEXT NOT NULL,
	reason      TEXT NOT NULL,
	nick        TEXT NOT NULL,
	PRIMARY KEY (room, jid)
);
`

var _ storage.MUC = (*DB)(nil)
