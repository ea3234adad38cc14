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

// DeletePush disables a service's node, or all its nodes.
func (db *DB) DeletePush(ctx context.Context, user, service jid.JID, node string) error {
	u := userKey(user)
	var err error
	if node == "" {
		_, err = db.exec(ctx, `DELETE FROM push_registrations WHERE user = ? AND service = ?`, u, service.String())
	} else {
		_, err = db.exec(ctx, `DELETE FROM push_registrations WHERE user = ? AND service = ? AND node = ?`, u, service.String(), node)
	}
	if err != nil {
		return fmt.Errorf("sqlite: disable push for %s: %w", u, err)
	}
	return nil
}

// PushRegistrations lists user's registrations.
func (db *DB) PushRegistrations(ctx context.Context, user jid.JID) ([]storage.PushRegistration, error) {
	u := userKey(user)
	rows, err := db.query(ctx, `SELECT service, node, resource, options, include_body, created
		FROM push_registrations WHERE user = ? ORDER BY service, node`, u)
	if err != nil {
		return nil, fmt.Errorf("sqlite: push registrations of %s: %w", u, err)
	}
	defer rows.Close()
	var out []storage.PushRegistration
	for rows.Next() {
		var (
			r       storage.PushRegistration
			service string
			created int64
		)
		if err := rows.Scan(&service, &r.Node, &r.Resource, &r.Options, &r.IncludeBody, &created); err != nil {
			return nil, fmt.Errorf("sqlite: push registrations of %s: %w", u, err)
		}
		if r.Service, err = jid.Parse(service); err != nil {
			return nil, fmt.Errorf("sqlite: push registrations of %s: service %q: %w", u, service, err)
		}
		r.Created = fromNanos(created)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: push registrations of %s: %w", u, err)
	}
	return out, nil
}
