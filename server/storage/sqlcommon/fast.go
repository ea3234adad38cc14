package sqlcommon

import (
	"context"
	"fmt"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// Fast is the part of storage.FastTokens whose SQL is the same in every
// backend; the backend keeps PutFastToken and RotateFastToken, whose row
// locks differ.
type Fast struct {
	D Dialect
	R Querier // reads
	W Execer  // writes
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
