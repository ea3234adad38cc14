package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/storage/sqlcommon"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// fastSchema stores XEP-0484 tokens. Replacing or deleting an account's
// SCRAM keys (a password change, an account deletion) removes its tokens,
// by trigger, in the same transaction.
const fastSchema = `
CREATE TABLE fast_tokens (
	username  TEXT COLLATE "C" NOT NULL REFERENCES accounts(username) ON DELETE CASCADE,
	client    TEXT COLLATE "C" NOT NULL,
	id        BYTEA NOT NULL,
	key       BYTEA NOT NULL,
	mechanism TEXT NOT NULL,
	expiry    BIGINT NOT NULL,
	count     BIGINT NOT NULL,
	slot      SMALLINT NOT NULL,
	PRIMARY KEY (username, client, slot)
);
CREATE FUNCTION fast_tokens_on_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM fast_tokens WHERE username = OLD.username;
	RETURN NULL;
END
$$;
CREATE TRIGGER fast_tokens_on_keys AFTER DELETE ON scram_keys
	FOR EACH ROW EXECUTE FUNCTION fast_tokens_on_keys();
`

var _ storage.FastTokens = (*DB)(nil)

// PutFastToken stores t in the client's new slot.
func (db *DB) PutFastToken(ctx context.Context, user jid.JID, client string, t storage.FastToken) error {
	u := userKey(user)
	return db.tx(ctx, func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM accounts WHERE username = $1 FOR SHARE`, u).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: put FAST token of %s: %w", u, storage.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("postgres: put FAST token of %s: %w", u, err)
		}
		_, err = tx.Exec(ctx, `INSERT INTO fast_tokens(username, client, id, key, mechanism, expiry, count, slot)
			VALUES ($1, $2, $3, $4, $5, $6, 0, $7)
			ON CONFLICT (username, client, slot) DO UPDATE SET id = excluded.id, key = excluded.key,
				mechanism = excluded.mechanism, expiry = excluded.expiry, count = 0`,
			u, client, sqlcommon.NonNil(t.ID), sqlcommon.NonNil(t.Key), t.Mechanism, nanos(t.Expiry), int16(storage.FastNew))
		if err != nil {
			return fmt.Errorf("postgres: put FAST token of %s: %w", u, err)
		}
		return nil
	})
}

// UseFastToken records a successful authentication with the token id.
func (db *DB) UseFastToken(ctx context.Context, user jid.JID, client string, id []byte, count uint64) error {
	u := userKey(user)
	return db.tx(ctx, func(tx pgx.Tx) error {
		var slot int16
		var stored int64
		err := tx.QueryRow(ctx, `SELECT slot, count FROM fast_tokens WHERE username = $1 AND client = $2 AND id = $3 FOR UPDATE`,
			u, client, sqlcommon.NonNil(id)).Scan(&slot, &stored)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: use FAST token of %s: %w", u, storage.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("postgres: use FAST token of %s: %w", u, err)
		}
		if count != 0 && count <= uint64(stored) {
			return fmt.Errorf("postgres: use FAST token of %s: count %d after %d: %w", u, count, stored, storage.ErrReplayed)
		}
		if count == 0 {
			count = uint64(stored)
		}
		if storage.FastSlot(slot) == storage.FastNew {
			if _, err := tx.Exec(ctx, `DELETE FROM fast_tokens WHERE username = $1 AND client = $2 AND slot = $3`,
				u, client, int16(storage.FastCurrent)); err != nil {
				return fmt.Errorf("postgres: use FAST token of %s: %w", u, err)
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE fast_tokens SET slot = $1, count = $2 WHERE username = $3 AND client = $4 AND id = $5`,
			int16(storage.FastCurrent), int64(count), u, client, sqlcommon.NonNil(id)); err != nil {
			return fmt.Errorf("postgres: use FAST token of %s: %w", u, err)
		}
		return nil
	})
}
