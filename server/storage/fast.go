package storage

import (
	"context"
	"errors"
	"time"

	"github.com/parley-xmpp/parley/xmpp/jid"
)

// ErrReplayed is returned (wrapped) by FastTokens.UseFastToken when the
// client's counter is not above the highest one already processed.
var ErrReplayed = errors.New("storage: replayed counter")

// FastSlot is the slot a FAST token occupies for one client (XEP-0484 §7):
// a newly issued token waits in the new slot until the client uses it,
// which moves it to the current slot.
type FastSlot uint8

// FAST token slots.
const (
	FastNew FastSlot = iota + 1
	FastCurrent
)

// FastToken is a XEP-0484 token as stored. The token itself is never
// stored: only its HMAC key digest, which the server additionally wraps
// under a secret that is not in the database.
type FastToken struct {
	// ID is the token's random identifier (16 bytes), unique per user and
	// client.
	ID []byte
	// Key is the wrapped key digest.
	Key []byte
	// Mechanism is the HT mechanism the token is bound to.
	Mechanism string
	// Expiry is when the token stops being accepted.
	Expiry time.Time
	// Count is the highest client counter processed (0: none yet).
	Count uint64
	// Slot is where the token is.
	Slot FastSlot
}

// FastTokens stores FAST tokens per account and per client (the SASL2
// user-agent id). Replacing an account's keys (a password change) or
// deleting the account removes all its tokens.
type FastTokens interface {
	// FastTokens returns the tokens of one client of user: at most one
	// per slot.
	FastTokens(ctx context.Context, user jid.JID, client string) ([]FastToken, error)
	// PutFastToken stores t in the client's new slot (t.Slot is ignored),
	// replacing a token there that was never used; ErrNotFound if there
	// is no account.
	PutFastToken(ctx context.Context, user jid.JID, client string, t FastToken) error
	// UseFastToken records a successful authentication with the token id:
	// a token in the new slot moves to the current slot, replacing the
	// token there; count, when not 0, must be above the token's stored
	// count (else ErrReplayed) and becomes it. ErrNotFound if there is no
	// such token.
	UseFastToken(ctx context.Context, user jid.JID, client string, id []byte, count uint64) error
	// DeleteFastToken removes one token; no error if it is absent.
	DeleteFastToken(ctx context.Context, user jid.JID, client string, id []byte) error
	// DeleteFastTokens removes every token of user.
	DeleteFastTokens(ctx context.Context, user jid.JID) error
}
