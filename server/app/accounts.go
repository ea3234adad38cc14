package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/parley-xmpp/parley/server/auth"
	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// accounts implements module.AccountService over the authenticator and
// the invitation store, under the registration policy of the config.
type accounts struct {
	auth    *auth.Authenticator
	stores  storage.Stores
	policy  config.Registration
	domains []string
	now     func() time.Time
	log     *slog.Logger
	// deleted runs after an account was deleted from storage.
	deleted func(ctx context.Context, user jid.JID)
}

var _ module.AccountService = (*accounts)(nil)

// Accounts returns the account service modules use (and the c2s
// transport, for in-band registration before authentication).
func (a *App) Accounts() module.AccountService {
	return &accounts{auth: a.auth, stores: a.stores, policy: a.cfg.Registration, domains: a.cfg.Domains,
		now: time.Now, log: a.log.With("component", "accounts"), deleted: a.accountDeleted}
}

// accountDeleted tells the modules that an account is gone, so they drop
// what they cached for it.
func (a *App) accountDeleted(ctx context.Context, user jid.JID) {
	if a.router != nil {
		a.router.EmitAccountDeleted(ctx, user)
	}
}

// Create applies the username policy (auth.CheckUsername; a refusal is
// its <not-acceptable/> error) but not the password policy:
// administrators choose passwords freely.
func (a *accounts) Create(ctx context.Context, user jid.JID, password string) error {
	if _, e := auth.CheckUsername(user.Local(), user.Domain()); e != nil {
		return e
	}
	return a.auth.Create(ctx, user, password)
}

func (a *accounts) SetPassword(ctx context.Context, user jid.JID, password string) error {
	return a.auth.SetPassword(ctx, user, password)
}

func (a *accounts) Delete(ctx context.Context, user jid.JID) error {
	if err := a.auth.Delete(ctx, user); err != nil {
		return err
	}
	if a.deleted != nil {
		a.deleted(ctx, user.Bare())
	}
	return nil
}

func (a *accounts) SetDisabled(ctx context.Context, user jid.JID, disabled bool) error {
	return a.auth.SetDisabled(ctx, user, disabled)
}

func (a *accounts) Disabled(ctx context.Context, user jid.JID) (bool, error) {
	d, err := a.stores.Status.Disabled(ctx, user.Bare())
	if err != nil {
		return false, fmt.Errorf("app: is %s disabled: %w", user.Bare(), err)
	}
	return d, nil
}

func (a *accounts) AcceptablePassword(password string) error {
	if e := auth.CheckPassword(password, a.policy.MinPasswordLength); e != nil {
		return e
	}
	return nil
}

func (a *accounts) CheckInvite(ctx context.Context, domain, token string) error {
	inv, err := a.stores.Invites.Invite(ctx, token)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && (!inv.Valid(a.now()) || inv.Domain != domain)) {
		return stanza.Errorf(stanza.ItemNotFound, "the invitation is invalid or expired")
	}
	if err != nil {
		return fmt.Errorf("app: checking an invitation: %w", err)
	}
	return nil
}

func (a *accounts) Register(ctx context.Context, r module.Registration) error {
	user := r.User.Bare()
	if !a.served(user.Domain()) {
		return stanza.Errorf(stanza.NotAcceptable, "not a username of this server")
	}
	if _, e := auth.CheckUsername(user.Local(), user.Domain()); e != nil {
		return e
	}
	if err := a.AcceptablePassword(r.Password); err != nil {
		return err
	}
	var inv storage.Invite
	if r.Token != "" {
		var err error
		inv, err = a.stores.Invites.Invite(ctx, r.Token)
		if errors.Is(err, storage.ErrNotFound) || (err == nil && (!inv.Valid(a.now()) || inv.Domain != user.Domain())) {
			return stanza.Errorf(stanza.Forbidden, "the invitation is invalid or expired")
		}
		if err != nil {
			return fmt.Errorf("app: register %s: %w", user, err)
		}
		if inv.Username != "" && inv.Username != user.Local() {
			return stanza.Errorf(stanza.Forbidden, "the invitation is for another username")
		}
	} else if !a.policy.Enabled {
		return stanza.Errorf(stanza.NotAllowed, "registration requires an invitation")
	}
	if exists, err := a.stores.Accounts.AccountExists(ctx, user); err != nil {
		return fmt.Errorf("app: register %s: %w", user, err)
	} else if exists {
		return stanza.Err(stanza.Conflict)
	}
	if r.Token != "" {
		// Counted before the account is made, so that two registrations
		// racing on a single-use invitation cannot both succeed.
		if _, err := a.stores.Invites.UseInvite(ctx, r.Token, a.now()); errors.Is(err, storage.ErrNotFound) {
			return stanza.Errorf(stanza.Forbidden, "the invitation is invalid or expired")
		} else if err != nil {
			return fmt.Errorf("app: register %s: %w", user, err)
		}
	}
	if err := a.auth.Create(ctx, user, r.Password); errors.Is(err, storage.ErrExists) {
		return stanza.Err(stanza.Conflict)
	} else if err != nil {
		return fmt.Errorf("app: register %s: %w", user, err)
	}
	a.log.InfoContext(ctx, "account registered in-band", "user", user.String(), "invited", r.Token != "")
	return nil
}

func (a *accounts) served(domain string) bool {
	for _, d := range a.domains {
		if d == domain {
			return true
		}
	}
	return false
}

// NewInviteToken returns a fresh random invitation token: 24 characters
// of [A-Za-z0-9] (about 143 bits), as XEP-0401 §5 asks ("a securely
// generated random alpha-numeric string").
func NewInviteToken() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 24)
	out := make([]byte, len(b))
	for i := 0; i < len(out); {
		_, _ = rand.Read(b) // crypto/rand.Read never fails
		for _, c := range b {
			// Rejection sampling keeps the choice uniform.
			if c < 248 && i < len(out) {
				out[i] = alphabet[int(c)%len(alphabet)]
				i++
			}
		}
	}
	return string(out)
}
