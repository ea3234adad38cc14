package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// pushSchema stores XEP-0357 push registrations.
const pushSchema = `
CREATE TABLE push_registrations (
	user         TEXT NOT NULL REFERENCES accounts(user) ON DELETE CASCADE,
	service      TEXT NOT NULL,
	node         TEXT NOT NULL,
	resource     TEXT NOT NULL,
	options      BLOB,
	include_body INTEGER NOT NULL,
	created      INTEGER NOT NULL,
	PRIMARY KEY (user, service, node)
);
`

var _ storage.Push = (*DB)(nil)

// PutPush enables a push service and node for user.
func (db *DB) PutPush(ctx context.Context, user jid.JID, reg storage.PushRegistration) error {
	u := userKey(user)
	return db.tx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM accounts WHERE user = ?`, u).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: enable push for %s: %w", u, storage.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("sqlite: enable push for %s: %w", u, err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO push_registrations(user, service, node, resource, options, include_body, created)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT(user, service, node) DO UPDATE SET resource = excluded.resource, options = excluded.options,
				include_body = excluded.include_body, created = excluded.created`,
			u, reg.Service.String(), reg.Node, reg.Resource, reg.Options, reg.IncludeBody, nanos(reg.Created))
		if err != nil {
			return fmt.Errorf("sqlite: enable push for %s: %w", u, err)
		}
		return nil
	})
}
