package auth

import (
	"sync"
	"time"

	"github.com/parley-xmpp/parley/xmpp/jid"
)

// revokeWindow is how long an account's disabling or deletion is
// remembered for the logins under way: far longer than a login takes
// (the pre-authentication timeout is 30 s by default).
const revokeWindow = 10 * time.Minute

// maxRevoked bounds the accounts remembered; past it the oldest are
// forgotten first.
const maxRevoked = 100_000

// revocations remembers when accounts were disabled or deleted, so that a
// login that checked the account before that and binds its session after
// is refused (RevokedSince): the administrator's action ends the sessions
// it finds, and a session bound later finds the record.
type revocations struct {
	mu sync.Mutex
	at map[string]time.Time
}

// record notes that user lost its right to log in at t.
func (r *revocations) record(user jid.JID, t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.at == nil {
		r.at = make(map[string]time.Time)
	}
	if len(r.at) >= maxRevoked {
		var oldest string
		for k, v := range r.at {
			if t.Sub(v) > revokeWindow {
				delete(r.at, k)
			} else if oldest == "" || v.Before(r.at[oldest]) {
				oldest = k
			}
		}
		if len(r.at) >= maxRevoked {
			delete(r.at, oldest)
		}
	}
	r.at[user.Bare().String()] = t
}

// since reports whether user was revoked at or after t.
func (r *revocations) since(user jid.JID, t time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	at, ok := r.at[user.Bare().String()]
	return ok && !at.Before(t)
}

// RevokedSince reports whether user's account was disabled or deleted at
// or after t (within the last ten minutes): a login that began its
// authentication at t must not bind a session.
func (a *Authenticator) RevokedSince(user jid.JID, t time.Time) bool {
	return a.revoked.since(user, t)
}
