package sqlcommon

import (
	"context"
	"fmt"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// Fast is the SQL of storage.FastTokens; where the dialect's writers run
// concurrently, the rows a write reads first are locked (FOR SHARE, FOR
// UPDATE).
type Fast struct {
	D  Dialect
	R  Querier  // reads
	W  Execer   // writes of one statement
	Tx Transact // writes of several
}

// FastTokens returns the tokens of one client of user.
func (f Fast) FastTokens(ctx context.Context, user jid.JID, client string) ([]storage.FastToken, error) {
	u := UserKey(user)
	scan := func(row Row) (storage.FastToken, error) {
		var (
			t                   storage.FastToken
			expiry, count, slot int64
		)
		err := row.Scan(&t.ID, &t.Key, &t.Mechanism, &expiry, &count, &slot)
		t.Expiry, t.Count, t.Slot = FromNanos(expiry), uint64(count), storage.FastSlot(slot)
		return t, err
	}
	out, err := Collect(ctx, f.R, scan, f.D.SQL(`SELECT id, key, mechanism, expiry, count, slot FROM fast_tokens
		WHERE {user} = ? AND client = ? ORDER BY slot`), u, client)
	if err != nil {
		return nil, fmt.Errorf("%s: FAST tokens of %s: %w", f.D.Name, u, err)
	}
	return out, nil
}

// DeleteFastToken removes one token.
func (f Fast) DeleteFastToken(ctx context.Context, user jid.JID, client string, id []byte) error {
	u := UserKey(user)
	if _, err := f.W.Exec(ctx, f.D.SQL(`DELETE FROM fast_tokens WHERE {user} = ? AND client = ? AND id = ?`), u, client, NonNil(id)); err != nil {
		return fmt.Errorf("%s: delete FAST token of %s: %w", f.D.Name, u, err)
	}
	return nil
}

// DeleteFastTokens removes every token of user.
func (f Fast) DeleteFastTokens(ctx context.Context, user jid.JID) error {
	u := UserKey(user)
	if _, err := f.W.Exec(ctx, f.D.SQL(`DELETE FROM fast_tokens WHERE {user} = ?`), u); err != nil {
		return fmt.Errorf("%s: delete FAST tokens of %s: %w", f.D.Name, u, err)
	}
	return nil
}

// PutFastToken stores t in the client's new slot; storage.ErrNotFound if
// user has no account (read FOR SHARE where writers run concurrently, so
// that the account cannot go meanwhile).
func (f Fast) PutFastToken(ctx context.Context, user jid.JID, client string, t storage.FastToken) error {
	u := UserKey(user)
	return f.Tx(ctx, func(tx Tx) error {
		var one int
		err := tx.QueryRow(ctx, f.D.SQL(`SELECT 1 FROM accounts WHERE {user} = ?`+f.D.ForShare()), u).Scan(&one)
		if tx.NoRows(err) {
			return fmt.Errorf("%s: put FAST token of %s: %w", f.D.Name, u, storage.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("%s: put FAST token of %s: %w", f.D.Name, u, err)
		}
		_, err = tx.Exec(ctx, f.D.SQL(`INSERT INTO fast_tokens({user}, client, id, key, mechanism, expiry, count, slot)
			VALUES (?, ?, ?, ?, ?, ?, 0, ?)
			ON CONFLICT({user}, client, slot) DO UPDATE SET id = excluded.id, key = excluded.key,
				mechanism = excluded.mechanism, expiry = excluded.expiry, count = 0`),
			u, client, NonNil(t.ID), NonNil(t.Key), t.Mechanism, Nanos(t.Expiry), int(storage.FastNew))
		if err != nil {
			return fmt.Errorf("%s: put FAST token of %s: %w", f.D.Name, u, err)
		}
		return nil
	})
}

// UseFastToken records a successful authentication with the token id:
// storage.ErrReplayed if count is not above the stored one (0 keeps it);
// the token moves to the current slot, replacing the one there.
func (f Fast) UseFastToken(ctx context.Context, user jid.JID, client string, id []byte, count uint64) error {
	u := UserKey(user)
	return f.Tx(ctx, func(tx Tx) error {
		var slot, stored int64
		err := tx.QueryRow(ctx, f.D.SQL(`SELECT slot, count FROM fast_tokens WHERE {user} = ? AND client = ? AND id = ?`+f.D.ForUpdate()),
			u, client, NonNil(id)).Scan(&slot, &stored)
		if tx.NoRows(err) {
			return fmt.Errorf("%s: use FAST token of %s: %w", f.D.Name, u, storage.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("%s: use FAST token of %s: %w", f.D.Name, u, err)
		}
		if count != 0 && count <= uint64(stored) {
			return fmt.Errorf("%s: use FAST token of %s: count %d after %d: %w", f.D.Name, u, count, stored, storage.ErrReplayed)
		}
		if count == 0 {
			count = uint64(stored)
		}
		if storage.FastSlot(slot) == storage.FastNew {
			if _, err := tx.Exec(ctx, f.D.SQL(`DELETE FROM fast_tokens WHERE {user} = ? AND client = ? AND slot = ?`),
				u, client, int(storage.FastCurrent)); err != nil {
				return fmt.Errorf("%s: use FAST token of %s: %w", f.D.Name, u, err)
			}
		}
		if _, err := tx.Exec(ctx, f.D.SQL(`UPDATE fast_tokens SET slot = ?, count = ? WHERE {user} = ? AND client = ? AND id = ?`),
			int(storage.FastCurrent), int64(count), u, client, NonNil(id)); err != nil {
			return fmt.Errorf("%s: use FAST token of %s: %w", f.D.Name, u, err)
		}
		return nil
	})
}
