package postgres

import (
	"context"
	"encoding/json"
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

// PutRoom creates or replaces a room's configuration and subject.
func (db *DB) PutRoom(ctx context.Context, r storage.MUCRoom) error {
	cfg, err := json.Marshal(r.Config)
	if err != nil {
		return fmt.Errorf("postgres: put room %s: %w", r.JID, err)
	}
	_, err = db.pool.Exec(ctx, `INSERT INTO muc_rooms(room, service, config, subject, subject_by, created)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (room) DO UPDATE SET config = excluded.config, subject = excluded.subject,
			subject_by = excluded.subject_by`,
		r.JID.Bare().String(), r.JID.Domain(), string(cfg), r.Subject, r.SubjectBy, nanos(r.Created))
	if err != nil {
		return fmt.Errorf("postgres: put room %s: %w", r.JID, err)
	}
	return nil
}

// MUCRoom returns a room; storage.ErrNotFound if absent.
func (db *DB) MUCRoom(ctx context.Context, room jid.JID) (storage.MUCRoom, error) {
	row := db.pool.QueryRow(ctx, `SELECT room, config, subject, subject_by, created FROM muc_rooms WHERE room = $1`,
		room.Bare().String())
	r, err := storage.ScanMUCRoom(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, fmt.Errorf("postgres: room %s: %w", room, storage.ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("postgres: room %s: %w", room, err)
	}
	return r, nil
}

// MUCRooms lists the rooms of a service (all when service is empty).
func (db *DB) MUCRooms(ctx context.Context, service string) ([]storage.MUCRoom, error) {
	q := `SELECT room, config, subject, subject_by, created FROM muc_rooms`
	var args []any
	if service != "" {
		q += ` WHERE service = $1`
		args = append(args, service)
	}
	rows, err := db.pool.Query(ctx, q+` ORDER BY room`, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: rooms of %q: %w", service, err)
	}
	defer rows.Close()
	var out []storage.MUCRoom
	for rows.Next() {
		r, err := storage.ScanMUCRoom(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: rooms of %q: %w", service, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: rooms of %q: %w", service, err)
	}
	return out, nil
}

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

// RoomAffiliations lists a room's affiliations sorted by JID.
func (db *DB) RoomAffiliations(ctx context.Context, room jid.JID) ([]storage.MUCAffiliation, error) {
	r := room.Bare().String()
	rows, err := db.pool.Query(ctx, `SELECT jid, affiliation, reason, nick FROM muc_affiliations WHERE room = $1 ORDER BY jid`, r)
	if err != nil {
		return nil, fmt.Errorf("postgres: affiliations of %s: %w", r, err)
	}
	defer rows.Close()
	var out []storage.MUCAffiliation
	for rows.Next() {
		var a storage.MUCAffiliation
		var j string
		if err := rows.Scan(&j, &a.Affiliation, &a.Reason, &a.Nick); err != nil {
			return nil, fmt.Errorf("postgres: affiliations of %s: %w", r, err)
		}
		if a.JID, err = jid.Parse(j); err != nil {
			return nil, fmt.Errorf("postgres: affiliations of %s: stored JID %q: %w", r, j, err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: affiliations of %s: %w", r, err)
	}
	return out, nil
}
