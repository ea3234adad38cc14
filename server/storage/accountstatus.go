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

// LoginReader is implemented by backends that read what a password login
// needs — an account's SCRAM keys and its disabled flag — with one query,
// on the same value as their Accounts and AccountStatus stores. A login
// read them with two (the keys, then the flag), each a round trip.
type LoginReader interface {
	// LoginKeys returns the user's keys and whether the account is
	// disabled; ErrNotFound if there is no account.
	LoginKeys(ctx context.Context, user jid.JID) (keys []SCRAMKey, disabled bool, err error)
}

// IterationCounter is implemented by backends that can tell how many
// accounts have SCRAM keys derived with each PBKDF2 iteration count. The
// authenticator announces counts in the same proportions to logins of
// unknown users, so that a count does not tell whether an account exists.
type IterationCounter interface {
	// IterationCounts maps each iteration count found among the stored
	// keys to the number of accounts with keys of that count.
	IterationCounts(ctx context.Context) (map[int]int, error)
}
