package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// pushSchema stores XEP-0357 push registrations.
const pushSchema = `
CREATE TABLE push_registrations (
	username     TEXT COLLATE "C" NOT NULL REFERENCES accounts(username) ON DELETE CASCADE,
	service      TEXT COLLATE "C" NOT NULL,
	node         TEXT COLLATE "C" NOT NULL,
	resource     TEXT NOT NULL,
	options      BYTEA,
	include_body BOOLEAN NOT NULL,
	created      BIGINT NOT NULL,
	PRIMARY KEY (username, service, node)
);
`

var _ storage.Push = (*DB)(nil)

// PutPush enables a push service and node for user.
func (db *DB) PutPush(ctx context.Context, user jid.JID, reg storage.PushRegistration) error {
	u := userKey(user)
	var one int
	err := db.pool.QueryRow(ctx, `SELECT 1 FROM accounts WHERE username = $1`, u).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("postgres: enable push for %s: %w", u, storage.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("postgres: enable push for %s: %w", u, err)
	}
	_, err = db.pool.Exec(ctx, `INSERT INTO push_registrations(username, service, node, resource, options, include_body, created)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (username, service, node) DO UPDATE SET resource = excluded.resource, options = excluded.options,
			include_body = excluded.include_body, created = excluded.created`,
		u, reg.Service.String(), reg.Node, reg.Resource, reg.Options, reg.IncludeBody, nanos(reg.Created))
	if err != nil {
		// A concurrent account deletion shows as a foreign key violation.
		return fmt.Errorf("postgres: enable push for %s: %w", u, err)
	}
	return nil
}
