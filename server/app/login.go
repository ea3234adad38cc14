package app

import (
	"github.com/parley-xmpp/parley/server/stream"
)

// loginConfig is the part of the c2s configuration for modern login
// (SASL2, Bind 2, FAST) and in-band registration, shared by every
// listener: one registration limiter counts across all of them.
func (a *App) loginConfig() stream.Config {
	var cfg stream.Config
	cfg.DisableSASL2 = !a.cfg.Auth.SASL2
	if a.cfg.Auth.FastTokenLifetime > 0 {
		cfg.FAST = stream.FAST{Store: a.stores.Fast, Lifetime: a.cfg.Auth.FastTokenLifetime}
	}
	r := a.cfg.Registration
	cfg.Registration = stream.Registration{
		Enabled:           r.Enabled,
		RequireInvite:     r.RequireInvite,
		MaxPerIPPerHour:   r.MaxPerIPPerHour,
		MinPasswordLength: r.MinPasswordLength,
		Create:            a.auth.Create,
		Exists:            a.stores.Accounts.AccountExists,
		Invites:           a.stores.Invites,
		Limiter:           stream.NewRegistrationLimiter(r.MaxPerIPPerHour, nil),
	}
	return cfg
}
