package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/storage/sqlcommon"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// fastSchema stores XEP-0484 tokens. Replacing or deleting an account's
// SCRAM keys (a password change, an account deletion) removes its tokens,
// by trigger, in the same transaction.
const fastSchema = `
CREATE TABLE fast_tokens (
	user      TEXT NOT NULL REFERENCES accounts(user) ON DELETE CASCADE,
	client    TEXT NOT NULL,
	id        BLOB NOT NULL,
	key       BLOB NOT NULL,
	mechanism TEXT NOT NULL,
	expiry    INTEGER NOT NULL,
	count     INTEGER NOT NULL,
	slot      INTEGER NOT NULL,
	PRIMARY KEY (user, client, slot)
);
CREATE TRIGGER fast_tokens_on_keys AFTER DELETE ON scram_keys FOR EACH ROW
BEGIN
	DELETE FROM fast_tokens WHERE user = OLD.user;
END;
`

var _ storage.FastTokens = (*DB)(nil)

// PutFastToken stores t in the client's new slot.
func (db *DB) PutFastToken(ctx context.Context, user jid.JID, client string, t storage.FastToken) error {
	u := userKey(user)
	return db.tx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM accounts WHERE user = ?`, u).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: put FAST token of %s: %w", u, storage.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("sqlite: put FAST token of %s: %w", u, err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO fast_tokens(user, client, id, key, mechanism, expiry, count, slot)
			VALUES (?, ?, ?, ?, ?, ?, 0, ?)
			ON CONFLICT(user, client, slot) DO UPDATE SET id = excluded.id, key = excluded.key,
				mechanism = excluded.mechanism, expiry = excluded.expiry, count = 0`,
			u, client, sqlcommon.NonNil(t.ID), sqlcommon.NonNil(t.Key), t.Mechanism, nanos(t.Expiry), storage.FastNew)
		if err != nil {
			return fmt.Errorf("sqlite: put FAST token of %s: %w", u, err)
		}
		return nil
	})
}

// UseFastToken records a successful authentication with the token id.
func (db *DB) UseFastToken(ctx context.Context, user jid.JID, client string, id []byte, count uint64) error {
	u := userKey(user)
	return db.tx(ctx, func(tx *sql.Tx) error {
		var (
			slot   storage.FastSlot
			stored int64
		)
		err := tx.QueryRowContext(ctx, `SELECT slot, count FROM fast_tokens WHERE user = ? AND client = ? AND id = ?`,
			u, client, sqlcommon.NonNil(id)).Scan(&slot, &stored)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: use FAST token of %s: %w", u, storage.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("sqlite: use FAST token of %s: %w", u, err)
		}
		if count != 0 && count <= uint64(stored) {
			return fmt.Errorf("sqlite: use FAST token of %s: count %d after %d: %w", u, count, stored, storage.ErrReplayed)
		}
		if count == 0 {
			count = uint64(stored)
		}
		if slot == storage.FastNew {
			if _, err := tx.ExecContext(ctx, `DELETE FROM fast_tokens WHERE user = ? AND client = ? AND slot = ?`,
				u, client, storage.FastCurrent); err != nil {
				return fmt.Errorf("sqlite: use FAST token of %s: %w", u, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE fast_tokens SET slot = ?, count = ? WHERE user = ? AND client = ? AND id = ?`,
			storage.FastCurrent, int64(count), u, client, sqlcommon.NonNil(id)); err != nil {
			return fmt.Errorf("sqlite: use FAST token of %s: %w", u, err)
		}
		return nil
	})
}
