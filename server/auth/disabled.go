package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// ErrAccountDisabled reports that the credentials are right but an
// administrator disabled the account (XEP-0133 §4.3); c2s answers it with
// the SASL condition <account-disabled/> (RFC 6120 §6.5.1).
var ErrAccountDisabled = errors.New("auth: account disabled")

// CheckEnabled returns an error wrapping ErrAccountDisabled when user's
// account is disabled. Call it only once the user proved its identity, so
// that the answer reveals nothing to others. An unknown account is not an
// error here.
func (a *Authenticator) CheckEnabled(ctx context.Context, user jid.JID) error {
	if a.status == nil {
		return nil
	}
	disabled, err := a.status.Disabled(ctx, user.Bare())
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("auth: is %s disabled: %w", user.Bare(), err)
	case disabled:
		return fmt.Errorf("auth: login of %s: %w", user.Bare(), ErrAccountDisabled)
	}
	return nil
}

// SetDisabled disables or re-enables the account user. The error wraps
// storage.ErrNotFound if there is no such account.
func (a *Authenticator) SetDisabled(ctx context.Context, user jid.JID, disabled bool) error {
	user, err := checkUser("disable", user)
	if err != nil {
		return err
	}
	if a.status == nil {
		return fmt.Errorf("auth: disable %s: no account status store", user)
	}
	if err := a.status.SetDisabled(ctx, user, disabled); err != nil {
		return fmt.Errorf("auth: disable %s: %w", user, err)
	}
	if disabled {
		a.revoked.record(user, time.Now())
	}
	a.log.InfoContext(ctx, "account disabled flag changed", "user", user.String(), "disabled", disabled)
	return nil
}
