package sqlcommon

import (
	"context"
	"fmt"

	"github.com/parley-xmpp/parley/server/storage"
)

// Invites is the SQL of storage.Invites but UseInvite, which each
// backend writes its own way (a transaction, or one UPDATE … RETURNING
// on the pool).
type Invites struct {
	D Dialect
	R Querier // reads
	W Execer  // writes
}

// InviteColumns are the columns of an invite, in the order of
// ScanInvite.
const InviteColumns = `token, domain, username, max_uses, uses, created, expires`

// ScanInvite reads a row of InviteColumns; expires 0 is no expiry.
// Scan's own error is returned as it is.
func ScanInvite(r Row) (storage.Invite, error) {
	var (
		inv              storage.Invite
		created, expires int64
	)
	if err := r.Scan(&inv.Token, &inv.Domain, &inv.Username, &inv.MaxUses, &inv.Uses, &created, &expires); err != nil {
		return storage.Invite{}, err
	}
	inv.Created = FromNanos(created)
	if expires != 0 {
		inv.Expires = FromNanos(expires)
	}
	return inv, nil
}

// CreateInvite stores a new invitation; storage.ErrExists if the token is
// taken.
func (i Invites) CreateInvite(ctx context.Context, inv storage.Invite) error {
	if inv.Token == "" || inv.MaxUses < 1 {
		return fmt.Errorf("%s: create invite: empty token or fewer than one use", i.D.Name)
	}
	var expires int64
	if !inv.Expires.IsZero() {
		expires = Nanos(inv.Expires)
	}
	n, err := i.W.Exec(ctx, i.D.SQL(`INSERT INTO invites(`+InviteColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(token) DO NOTHING`),
		inv.Token, inv.Domain, inv.Username, inv.MaxUses, inv.Uses, Nanos(inv.Created), expires)
	if err != nil {
		return fmt.Errorf("%s: create invite: %w", i.D.Name, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: create invite: %w", i.D.Name, storage.ErrExists)
	}
	return nil
}

// Invite returns an invitation; storage.ErrNotFound if unknown.
func (i Invites) Invite(ctx context.Context, token string) (storage.Invite, error) {
	inv, err := ScanInvite(i.R.QueryRow(ctx, i.D.SQL(`SELECT `+InviteColumns+` FROM invites WHERE token = ?`), token))
	if i.R.NoRows(err) {
		return storage.Invite{}, fmt.Errorf("%s: invite: %w", i.D.Name, storage.ErrNotFound)
	}
	if err != nil {
		return storage.Invite{}, fmt.Errorf("%s: invite: %w", i.D.Name, err)
	}
	return inv, nil
}

// DeleteInvite removes an invitation; storage.ErrNotFound if unknown.
func (i Invites) DeleteInvite(ctx context.Context, token string) error {
	n, err := i.W.Exec(ctx, i.D.SQL(`DELETE FROM invites WHERE token = ?`), token)
	if err != nil {
		return fmt.Errorf("%s: delete invite: %w", i.D.Name, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: delete invite: %w", i.D.Name, storage.ErrNotFound)
	}
	return nil
}

// ListInvites lists every invitation, oldest first.
func (i Invites) ListInvites(ctx context.Context) ([]storage.Invite, error) {
	out, err := Collect(ctx, i.R, ScanInvite, `SELECT `+InviteColumns+` FROM invites ORDER BY created, token`)
	if err != nil {
		return nil, fmt.Errorf("%s: list invites: %w", i.D.Name, err)
	}
	return out, nil
}
