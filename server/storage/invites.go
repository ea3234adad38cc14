package storage

import (
	"context"
	"time"
)

// Invite is an invitation token allowing in-band registration of accounts
// (XEP-0401 §5, XEP-0445).
type Invite struct {
	// Token is the secret the invitee presents; unique.
	Token string
	// Domain is the served domain the invitation registers on.
	Domain string
	// Username, when not empty, is the only localpart the invitation
	// registers (reserved until the invitation expires).
	Username string
	// MaxUses is how many accounts the invitation may create (at least 1).
	MaxUses int
	// Uses is how many accounts it created so far.
	Uses int
	// Created is when the invitation was made.
	Created time.Time
	// Expires is when it stops being valid; zero means never.
	Expires time.Time
}

// Valid reports whether the invitation may still create an account at now.
func (i Invite) Valid(now time.Time) bool {
	return i.Uses < i.MaxUses && (i.Expires.IsZero() || now.Before(i.Expires))
}

// Invites stores invitation tokens.
type Invites interface {
	// CreateInvite stores a new invitation; ErrExists if the token is
	// taken.
	CreateInvite(ctx context.Context, inv Invite) error
	// Invite returns an invitation whatever its state; ErrNotFound if the
	// token is unknown.
	Invite(ctx context.Context, token string) (Invite, error)
	// UseInvite counts one use of an invitation valid at now and returns
	// it as updated, atomically; ErrNotFound if the token is unknown,
	// expired or used up.
	UseInvite(ctx context.Context, token string, now time.Time) (Invite, error)
	// DeleteInvite removes an invitation; ErrNotFound if unknown.
	DeleteInvite(ctx context.Context, token string) error
	// ListInvites lists every invitation, oldest first.
	ListInvites(ctx context.Context) ([]Invite, error)
}
