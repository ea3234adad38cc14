package sqlcommon

import (
	"context"
	"fmt"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// Misc is the SQL of the small per-user stores that every backend writes
// the same: vCards, private XML, reading the block list, last activity.
// The backend keeps Block and Unblock (one statement with arrays, or one
// a JID in a transaction).
type Misc struct {
	D Dialect
	R Querier // reads
	W Execer  // writes
}

// VCard returns the vCard of user; storage.ErrNotFound if none.
func (m Misc) VCard(ctx context.Context, user jid.JID) ([]byte, error) {
	u := UserKey(user)
	var v []byte
	err := m.R.QueryRow(ctx, m.D.SQL(`SELECT vcard FROM vcards WHERE {user} = ?`), u).Scan(&v)
	if m.R.NoRows(err) {
		return nil, fmt.Errorf("%s: vcard of %s: %w", m.D.Name, u, storage.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: vcard of %s: %w", m.D.Name, u, err)
	}
	return v, nil
}

// SetVCard stores the vCard of user; an empty vcard deletes it.
func (m Misc) SetVCard(ctx context.Context, user jid.JID, vcard []byte) error {
	u := UserKey(user)
	var err error
	if len(vcard) == 0 {
		_, err = m.W.Exec(ctx, m.D.SQL(`DELETE FROM vcards WHERE {user} = ?`), u)
	} else {
		_, err = m.W.Exec(ctx, m.D.SQL(`INSERT INTO vcards({user}, vcard) VALUES (?, ?)
			ON CONFLICT({user}) DO UPDATE SET vcard = excluded.vcard`), u, vcard)
	}
	if err != nil {
		return fmt.Errorf("%s: set vcard of %s: %w", m.D.Name, u, err)
	}
	return nil
}

// PrivateXML returns the private XML element stored under key;
// storage.ErrNotFound if none.
func (m Misc) PrivateXML(ctx context.Context, user jid.JID, key string) ([]byte, error) {
	u := UserKey(user)
	var v []byte
	err := m.R.QueryRow(ctx, m.D.SQL(`SELECT data FROM private_xml WHERE {user} = ? AND key = ?`), u, key).Scan(&v)
	if m.R.NoRows(err) {
		return nil, fmt.Errorf("%s: private xml %q of %s: %w", m.D.Name, key, u, storage.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: private xml %q of %s: %w", m.D.Name, key, u, err)
	}
	return v, nil
}

// SetPrivateXML stores data under key, replacing any previous value.
func (m Misc) SetPrivateXML(ctx context.Context, user jid.JID, key string, data []byte) error {
	u := UserKey(user)
	_, err := m.W.Exec(ctx, m.D.SQL(`INSERT INTO private_xml({user}, key, data) VALUES (?, ?, ?)
		ON CONFLICT({user}, key) DO UPDATE SET data = excluded.data`), u, key, NonNil(data))
	if err != nil {
		return fmt.Errorf("%s: set private xml %q of %s: %w", m.D.Name, key, u, err)
	}
	return nil
}

// BlockList returns the JIDs user blocks, sorted.
func (m Misc) BlockList(ctx context.Context, user jid.JID) ([]jid.JID, error) {
	u := UserKey(user)
	out, err := Collect(ctx, m.R, m.D.ScanJID("blocked JID"), m.D.SQL(`SELECT item FROM blocklist WHERE {user} = ? ORDER BY item`), u)
	if err != nil {
		return nil, fmt.Errorf("%s: block list of %s: %w", m.D.Name, u, err)
	}
	return out, nil
}

// SetLastActivity records when user logged out and with which status.
func (m Misc) SetLastActivity(ctx context.Context, user jid.JID, at time.Time, status string) error {
	u := UserKey(user)
	_, err := m.W.Exec(ctx, m.D.SQL(`INSERT INTO last_activity({user}, at, status) VALUES (?, ?, ?)
		ON CONFLICT({user}) DO UPDATE SET at = excluded.at, status = excluded.status`), u, Nanos(at), status)
	if err != nil {
		return fmt.Errorf("%s: set last activity of %s: %w", m.D.Name, u, err)
	}
	return nil
}

// LastActivity returns the recorded logout time (in UTC) and status of
// user; storage.ErrNotFound if none.
func (m Misc) LastActivity(ctx context.Context, user jid.JID) (time.Time, string, error) {
	u := UserKey(user)
	var (
		at     int64
		status string
	)
	err := m.R.QueryRow(ctx, m.D.SQL(`SELECT at, status FROM last_activity WHERE {user} = ?`), u).Scan(&at, &status)
	if m.R.NoRows(err) {
		return time.Time{}, "", fmt.Errorf("%s: last activity of %s: %w", m.D.Name, u, storage.ErrNotFound)
	}
	if err != nil {
		return time.Time{}, "", fmt.Errorf("%s: last activity of %s: %w", m.D.Name, u, err)
	}
	return FromNanos(at), status, nil
}
