package sqlcommon

import (
	"encoding/json"
	"fmt"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// Row is one result row of a backend query: *sql.Row, *sql.Rows,
// pgx.Row and pgx.Rows all have this method.
type Row interface{ Scan(dest ...any) error }

// ScanMUCRoom reads a row of (room, config, subject, subject_by, created),
// the columns every backend stores a MUCRoom in: config is the JSON of
// Config, created Unix nanoseconds. The error of Scan itself is returned
// as it is, so callers can test it for their driver's no-rows error.
func ScanMUCRoom(row Row) (storage.MUCRoom, error) {
	var (
		r            storage.MUCRoom
		room, cfg    string
		createdNanos int64
	)
	if err := row.Scan(&room, &cfg, &r.Subject, &r.SubjectBy, &createdNanos); err != nil {
		return r, err
	}
	j, err := jid.Parse(room)
	if err != nil {
		return r, fmt.Errorf("stored room JID %q: %w", room, err)
	}
	r.JID, r.Created = j, FromNanos(createdNanos)
	if err := json.Unmarshal([]byte(cfg), &r.Config); err != nil {
		return r, fmt.Errorf("config of room %s: %w", room, err)
	}
	return r, nil
}

// ScanPubSubItem reads a row of (id, publisher, payload, published), the
// columns every backend stores a PubSubItem in: published is Unix
// nanoseconds. The error of Scan itself is returned as it is.
func ScanPubSubItem(row Row) (storage.PubSubItem, error) {
	var (
		it  storage.PubSubItem
		pub string
		at  int64
	)
	if err := row.Scan(&it.ID, &pub, &it.Payload, &at); err != nil {
		return it, err
	}
	p, err := jid.Parse(pub)
	if err != nil {
		return it, fmt.Errorf("stored publisher %q: %w", pub, err)
	}
	it.Publisher, it.Published = p, FromNanos(at)
	return it, nil
}
