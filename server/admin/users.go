package admin

import (
	"context"
	"errors"
	"fmt"

	"github.com/parley-xmpp/parley/server/auth"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// Errors of the account operations (wrapped; test with errors.Is).
var (
	// ErrNoAccount reports an account that does not exist.
	ErrNoAccount = errors.New("no such account")
	// ErrAccountExists reports an account that exists already.
	ErrAccountExists = errors.New("the account exists already")
)

// User is an account and its state.
type User struct {
	JID      string `json:"jid"`
	Disabled bool   `json:"disabled,omitempty"`
	// Sessions is the number of its bound sessions.
	Sessions int `json:"sessions"`
}

// accountErr maps storage errors to ErrNoAccount and ErrAccountExists.
func accountErr(op, user string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, storage.ErrNotFound):
		return fmt.Errorf("admin: %s %s: %w", op, user, ErrNoAccount)
	case errors.Is(err, storage.ErrExists):
		return fmt.Errorf("admin: %s %s: %w", op, user, ErrAccountExists)
	}
	var se *stanza.Error // a policy's refusal (username, password)
	if errors.As(err, &se) {
		return fmt.Errorf("admin: %s %s: %w: %w", op, user, se, ErrInvalid)
	}
	return fmt.Errorf("admin: %s %s: %w", op, user, err)
}

// AddUser creates the account user (a bare JID of a served domain) with
// password, under the username policy.
func (o *Ops) AddUser(ctx context.Context, user, password string) error {
	j, err := o.bareJID(user)
	if err != nil {
		return err
	}
	if err := checkPassword(password); err != nil {
		return fmt.Errorf("admin: add %s: %w", j, err)
	}
	if err := o.o.Accounts.Create(ctx, j, password); err != nil {
		return accountErr("add", j.String(), err)
	}
	o.o.Log.Info("admin: account created", "user", j.String())
	return nil
}

// SetPassword changes the password of user. Its sessions stay.
func (o *Ops) SetPassword(ctx context.Context, user, password string) error {
	j, err := o.bareJID(user)
	if err != nil {
		return err
	}
	if err := checkPassword(password); err != nil {
		return fmt.Errorf("admin: passwd %s: %w", j, err)
	}
	if err := o.o.Accounts.SetPassword(ctx, j, password); err != nil {
		return accountErr("passwd", j.String(), err)
	}
	o.o.Log.Info("admin: password changed", "user", j.String())
	return nil
}

// DeleteUser deletes the account user with all its data and ends its
// sessions at once (a <not-authorized/> stream error). It returns the
// sessions it ended.
func (o *Ops) DeleteUser(ctx context.Context, user string) ([]string, error) {
	j, err := o.bareJID(user)
	if err != nil {
		return nil, err
	}
	if err := o.o.Accounts.Delete(ctx, j); err != nil {
		return nil, accountErr("delete", j.String(), err)
	}
	ended := o.endSessions(ctx, j, stream.NotAuthorized, "the account was deleted")
	o.o.Log.Info("admin: account deleted", "user", j.String(), "sessions_ended", len(ended))
	return ended, nil
}

// DisableUser disables the account user: its sessions end at once (a
// <not-authorized/> stream error) and logins are refused until
// EnableUser. It returns the sessions it ended.
func (o *Ops) DisableUser(ctx context.Context, user string) ([]string, error) {
	j, err := o.bareJID(user)
	if err != nil {
		return nil, err
	}
	if err := o.o.Accounts.SetDisabled(ctx, j, true); err != nil {
		return nil, accountErr("disable", j.String(), err)
	}
	// XEP-0133 §4.3: disabling ends every session.
	ended := o.endSessions(ctx, j, stream.NotAuthorized, "the account was disabled")
	o.o.Log.Info("admin: account disabled", "user", j.String(), "sessions_ended", len(ended))
	return ended, nil
}

// EnableUser re-enables a disabled account.
func (o *Ops) EnableUser(ctx context.Context, user string) error {
	j, err := o.bareJID(user)
	if err != nil {
		return err
	}
	if err := o.o.Accounts.SetDisabled(ctx, j, false); err != nil {
		return accountErr("enable", j.String(), err)
	}
	o.o.Log.Info("admin: account enabled", "user", j.String())
	return nil
}

// ListUsers lists the accounts of domain (all served domains when ""),
// sorted, with whether each is disabled and its number of sessions.
func (o *Ops) ListUsers(ctx context.Context, domain string) ([]User, error) {
	if domain != "" && !o.serves(domain) {
		return nil, fmt.Errorf("admin: %s is not a served domain: %w", domain, ErrInvalid)
	}
	users, err := o.o.ListAccounts(ctx, domain)
	if err != nil {
		return nil, fmt.Errorf("admin: listing accounts: %w", err)
	}
	out := make([]User, 0, len(users))
	for _, u := range users {
		disabled, err := o.o.Accounts.Disabled(ctx, u)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return nil, fmt.Errorf("admin: listing accounts: %w", err)
		}
		out = append(out, User{JID: u.String(), Disabled: disabled, Sessions: len(o.o.Sessions.Sessions(u))})
	}
	return out, nil
}

// checkPassword refuses an empty password or one SCRAM cannot prepare
// (RFC 8265 §4.2); administrators are not held to the length policy.
func checkPassword(password string) error {
	if se := auth.CheckPassword(password, 0); se != nil {
		return fmt.Errorf("%w: %w", se, ErrInvalid)
	}
	return nil
}
