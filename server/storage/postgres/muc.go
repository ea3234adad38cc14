package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
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

// DeleteRoom removes a room with its affiliations (by cascade).
func (db *DB) DeleteRoom(ctx context.Context, room jid.JID) error {
	r := room.Bare().String()
	tag, err := db.pool.Exec(ctx, `DELETE FROM muc_rooms WHERE room = $1`, r)
	if err != nil {
		return fmt.Errorf("postgres: delete room %s: %w", r, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: delete room %s: %w", r, storage.ErrNotFound)
	}
	return nil
}

// SetRoomAffiliation sets or (with "none") removes an affiliation.
func (db *DB) SetRoomAffiliation(ctx context.Context, room jid.JID, a storage.MUCAffiliation) error {
	r := room.Bare().String()
	var one int
	err := db.pool.QueryRow(ctx, `SELECT 1 FROM muc_rooms WHERE room = $1`, r).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("postgres: affiliation with %s: %w", r, storage.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("postgres: affiliation with %s: %w", r, err)
	}
	if a.Affiliation == "none" || a.Affiliation == "" {
		_, err = db.pool.Exec(ctx, `DELETE FROM muc_affiliations WHERE room = $1 AND jid = $2`, r, a.JID.String())
	} else {
		_, err = db.pool.Exec(ctx, `INSERT INTO muc_affiliations(room, jid, affiliation, reason, nick) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (room, jid) DO UPDATE SET affiliation = excluded.affiliation, reason = excluded.reason,
				nick = excluded.nick`, r, a.JID.String(), a.Affiliation, a.Reason, a.Nick)
	}
	if err != nil {
		// A concurrent room deletion shows as a foreign key violation.
		return fmt.Errorf("postgres: affiliation of %s with %s: %w", a.JID, r, err)
	}
	return nil
}
