package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
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

// DeleteRoom removes a room with its affiliations.
func (db *DB) DeleteRoom(ctx context.Context, room jid.JID) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		r := room.Bare().String()
		if _, err := tx.ExecContext(ctx, `DELETE FROM muc_affiliations WHERE room = ?`, r); err != nil {
			return fmt.Errorf("sqlite: delete room %s: %w", r, err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM muc_rooms WHERE room = ?`, r)
		if err != nil {
			return fmt.Errorf("sqlite: delete room %s: %w", r, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("sqlite: delete room %s: %w", r, storage.ErrNotFound)
		}
		return nil
	})
}

// SetRoomAffiliation sets or (with "none") removes an affiliation.
func (db *DB) SetRoomAffiliation(ctx context.Context, room jid.JID, a storage.MUCAffiliation) error {
	r := room.Bare().String()
	return db.tx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM muc_rooms WHERE room = ?`, r).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: affiliation with %s: %w", r, storage.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("sqlite: affiliation with %s: %w", r, err)
		}
		if a.Affiliation == "none" || a.Affiliation == "" {
			_, err = tx.ExecContext(ctx, `DELETE FROM muc_affiliations WHERE room = ? AND jid = ?`, r, a.JID.String())
		} else {
			_, err = tx.ExecContext(ctx, `INSERT INTO muc_affiliations(room, jid, affiliation, reason, nick) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT(room, jid) DO UPDATE SET affiliation = excluded.affiliation, reason = excluded.reason,
					nick = excluded.nick`, r, a.JID.String(), a.Affiliation, a.Reason, a.Nick)
		}
		if err != nil {
			return fmt.Errorf("sqlite: affiliation of %s with %s: %w", a.JID, r, err)
		}
		return nil
	})
}
