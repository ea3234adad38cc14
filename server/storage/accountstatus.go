package storage

import (
	"context"

	"github.com/parley-xmpp/parley/xmpp/jid"
)

// AccountStatus stores whether accounts are disabled (XEP-0133 §4.3): a
// disabled account keeps its data but cannot log in.
type AccountStatus interface {
	// SetDisabled disables or re-enables an account; ErrNotFound if there
	// is no account.
	SetDisabled(ctx context.Context, user jid.JID, disabled bool) error
	// Disabled reports whether an account is disabled; ErrNotFound if
	// there is no account.
	Disabled(ctx context.Context, user jid.JID) (bool, error)
}
