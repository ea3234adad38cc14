package sqlcommon

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// MUC is the SQL of storage.MUC: rooms and their affiliations.
type MUC struct {
	D  Dialect
	R  Querier  // reads
	W  Execer   // writes of one statement
	Tx Transact // writes of several
}

// PutRoom creates or replaces a room's configuration and subject.
func (m MUC) PutRoom(ctx context.Context, r storage.MUCRoom) error {
	cfg, err := json.Marshal(r.Config)
	if err != nil {
		return fmt.Errorf("%s: put room %s: %w", m.D.Name, r.JID, err)
	}
	_, err = m.W.Exec(ctx, m.D.SQL(`INSERT INTO muc_rooms(room, service, config, subject, subject_by, created)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT(room) DO UPDATE SET config = excluded.config, subject = excluded.subject,
			subject_by = excluded.subject_by`),
		r.JID.Bare().String(), r.JID.Domain(), string(cfg), r.Subject, r.SubjectBy, Nanos(r.Created))
	if err != nil {
		return fmt.Errorf("%s: put room %s: %w", m.D.Name, r.JID, err)
	}
	return nil
}

// MUCRoom returns a room; storage.ErrNotFound if absent.
func (m MUC) MUCRoom(ctx context.Context, room jid.JID) (storage.MUCRoom, error) {
	r, err := ScanMUCRoom(m.R.QueryRow(ctx, m.D.SQL(`SELECT room, config, subject, subject_by, created FROM muc_rooms WHERE room = ?`),
		room.Bare().String()))
	if m.R.NoRows(err) {
		return r, fmt.Errorf("%s: room %s: %w", m.D.Name, room, storage.ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("%s: room %s: %w", m.D.Name, room, err)
	}
	return r, nil
}

// MUCRooms lists the rooms of a service (all when service is empty).
func (m MUC) MUCRooms(ctx context.Context, service string) ([]storage.MUCRoom, error) {
	q := `SELECT room, config, subject, subject_by, created FROM muc_rooms`
	var args []any
	if service != "" {
		q += ` WHERE service = ?`
		args = append(args, service)
	}
	out, err := Collect(ctx, m.R, ScanMUCRoom, m.D.SQL(q+` ORDER BY room`), args...)
	if err != nil {
		return nil, fmt.Errorf("%s: rooms of %q: %w", m.D.Name, service, err)
	}
	return out, nil
}

// RoomAffiliations lists a room's affiliations sorted by JID.
func (m MUC) RoomAffiliations(ctx context.Context, room jid.JID) ([]storage.MUCAffiliation, error) {
	r := room.Bare().String()
	scan := func(row Row) (storage.MUCAffiliation, error) {
		var a storage.MUCAffiliation
		var j string
		if err := row.Scan(&j, &a.Affiliation, &a.Reason, &a.Nick); err != nil {
			return a, err
		}
		var err error
		if a.JID, err = jid.Parse(j); err != nil {
			return a, fmt.Errorf("stored JID %q: %w", j, err)
		}
		return a, nil
	}
	out, err := Collect(ctx, m.R, scan, m.D.SQL(`SELECT jid, affiliation, reason, nick FROM muc_affiliations WHERE room = ? ORDER BY jid`), r)
	if err != nil {
		return nil, fmt.Errorf("%s: affiliations of %s: %w", m.D.Name, r, err)
	}
	return out, nil
}

// DeleteRoom removes a room with its affiliations; storage.ErrNotFound if
// there is no such room.
func (m MUC) DeleteRoom(ctx context.Context, room jid.JID) error {
	r := room.Bare().String()
	return m.Tx(ctx, func(tx Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM muc_affiliations WHERE room = `+m.D.Placeholder(1), r); err != nil {
			return fmt.Errorf("%s: delete room %s: %w", m.D.Name, r, err)
		}
		n, err := tx.Exec(ctx, `DELETE FROM muc_rooms WHERE room = `+m.D.Placeholder(1), r)
		if err != nil {
			return fmt.Errorf("%s: delete room %s: %w", m.D.Name, r, err)
		}
		if n == 0 {
			return fmt.Errorf("%s: delete room %s: %w", m.D.Name, r, storage.ErrNotFound)
		}
		return nil
	})
}

// SetRoomAffiliation sets or (with "none") removes an affiliation;
// storage.ErrNotFound if there is no such room.
func (m MUC) SetRoomAffiliation(ctx context.Context, room jid.JID, a storage.MUCAffiliation) error {
	r := room.Bare().String()
	return m.Tx(ctx, func(tx Tx) error {
		var one int
		err := tx.QueryRow(ctx, m.D.SQL(`SELECT 1 FROM muc_rooms WHERE room = ?`), r).Scan(&one)
		if tx.NoRows(err) {
			return fmt.Errorf("%s: affiliation with %s: %w", m.D.Name, r, storage.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("%s: affiliation with %s: %w", m.D.Name, r, err)
		}
		if a.Affiliation == "none" || a.Affiliation == "" {
			_, err = tx.Exec(ctx, m.D.SQL(`DELETE FROM muc_affiliations WHERE room = ? AND jid = ?`), r, a.JID.String())
		} else {
			_, err = tx.Exec(ctx, m.D.SQL(`INSERT INTO muc_affiliations(room, jid, affiliation, reason, nick) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT(room, jid) DO UPDATE SET affiliation = excluded.affiliation, reason = excluded.reason,
					nick = excluded.nick`), r, a.JID.String(), a.Affiliation, a.Reason, a.Nick)
		}
		if err != nil {
			// Where writers run concurrently, a concurrent room deletion
			// shows as a foreign key violation.
			return fmt.Errorf("%s: affiliation of %s with %s: %w", m.D.Name, a.JID, r, err)
		}
		return nil
	})
}
