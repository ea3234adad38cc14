package module

import (
	"context"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// AccountService manages local accounts and their credentials for modules
// (XEP-0077 in-band password change and removal, XEP-0133 administration)
// and for the pre-authentication registration of the c2s transport. The
// composition root implements it over server/auth, which modules may not
// import.
type AccountService interface {
	// Create creates an account; the error wraps storage.ErrExists if it
	// exists. A username the server's username policy refuses (see
	// docs/architecture.md, "Registration policy") is a <not-acceptable/>
	// *stanza.Error; no password policy applies.
	Create(ctx context.Context, user jid.JID, password string) error
	// SetPassword replaces the account's credentials; the error wraps
	// storage.ErrNotFound if there is no account.
	SetPassword(ctx context.Context, user jid.JID, password string) error
	// Delete deletes the account and everything stored for it; the error
	// wraps storage.ErrNotFound if there is no account. Sessions are left
	// to the caller.
	Delete(ctx context.Context, user jid.JID) error
	// SetDisabled disables or re-enables an account (XEP-0133 §4.3,
	// §4.4); a disabled account cannot log in. Sessions are left to the
	// caller.
	SetDisabled(ctx context.Context, user jid.JID, disabled bool) error
	// Disabled reports whether an account is disabled; the error wraps
	// storage.ErrNotFound if there is no account.
	Disabled(ctx context.Context, user jid.JID) (bool, error)
	// AcceptablePassword returns a *stanza.Error <not-acceptable/> when a
	// password a user chose breaks the configured policy (empty, too
	// short), else nil.
	AcceptablePassword(password string) error
	// Register creates an account as in-band registration does
	// (XEP-0077 §3.1) under the configured policy: registration must be
	// open, or Token must name a valid invitation (XEP-0401, XEP-0445)
	// for the user's domain (and username, if it reserves one), which is
	// then counted as used. Policy failures are *stanza.Error values with
	// the conditions XEP-0077 defines: <not-allowed/> (registration
	// closed), <forbidden/> (bad invitation), <not-acceptable/> (bad
	// username or password), <conflict/> (account exists).
	Register(ctx context.Context, r Registration) error
	// CheckInvite returns a *stanza.Error <item-not-found/> unless token
	// names an invitation valid now for domain (XEP-0445 §3).
	CheckInvite(ctx context.Context, domain, token string) error
}

// FederationService shows operators the server-to-server links (the
// s2s ad-hoc command). The composition root implements it over
// server/s2s, which modules may not import.
type FederationService interface {
	// Links lists the open links, outgoing and incoming; none when
	// federation is off.
	Links() []FederationLink
}

// FederationLink is one server-to-server link: an outgoing stream from a
// local domain to a remote one, or a remote domain authenticated on an
// incoming stream to a local one.
type FederationLink struct {
	// Local and Remote are the domains at each end.
	Local, Remote string
	// Incoming says the remote server opened the stream.
	Incoming bool
	// State is "connecting", "ready" or "closing" (incoming: "ready").
	State string
	// Auth is how the remote domain (incoming) or the local one
	// (outgoing) authenticated: "SASL EXTERNAL" or "dialback"; empty
	// before.
	Auth string
	// TLS is the TLS version ("TLS 1.3"), empty before it is negotiated.
	TLS string
	// Since is when the link became ready (zero before).
	Since time.Time
}

// Registration is an in-band registration request.
type Registration struct {
	User     jid.JID // the bare JID to create
	Password string
	Token    string // an invitation token, or ""
}

// DiscoItem is one item of a disco#items result (XEP-0030 §4).
type DiscoItem struct {
	JID  jid.JID
	Node string
	Name string
}

// AccountItemsFunc lists the disco#items of account that requester from
// may see. A *stanza.Error it returns is sent as is.
type AccountItemsFunc func(ctx context.Context, account, from jid.JID) ([]DiscoItem, error)

// DiscoNode answers service discovery on a node a module owns (XEP-0030
// §3.2, §4.2). Either function may be nil: that query then answers an
// empty result. A *stanza.Error they return (e.g. <forbidden/>) is sent as
// is.
type DiscoNode struct {
	// Info returns the node's identities and features for a requester.
	Info func(ctx context.Context, from jid.JID) ([]Identity, []string, error)
	// Items returns the node's items for a requester.
	Items func(ctx context.Context, from jid.JID) ([]DiscoItem, error)
}

// RosterService reads rosters for modules that decide by subscription state
// (XEP-0191 blocking, XEP-0030 and XEP-0012 presence-based access, the MAM
// "roster" default). The roster module provides it from its cache of the
// rosters of online users (Registrar.ProvideRoster), so that such a check
// for an online user costs no storage round trip; without the roster module
// Host.Roster reads storage. Its methods have the semantics of the same
// methods of storage.Roster; returned slices are shared and must not be
// modified.
type RosterService interface {
	// RosterItem returns contact's item in user's roster; the error wraps
	// storage.ErrNotFound if there is none.
	RosterItem(ctx context.Context, user, contact jid.JID) (storage.RosterItem, error)
	// RosterItems returns user's roster and its version.
	RosterItems(ctx context.Context, user jid.JID) ([]storage.RosterItem, int64, error)
}

// Stores are the stores of feature data a module may use, one interface
// per kind (server/storage). Account, credential, account status, FAST
// token and invitation data are not among them: modules reach accounts
// through Host.Accounts and Host.AccountExists only, and rosters through
// Host.Roster when they only read them.
type Stores struct {
	Roster   storage.Roster
	Offline  storage.Offline
	VCards   storage.VCards
	Private  storage.Private
	Blocking storage.Blocking
	Last     storage.LastActivity
	Archive  storage.Archive
	PubSub   storage.PubSub
	Push     storage.Push
	MUC      storage.MUC
}

// FeatureStores returns the stores of s that modules may use.
func FeatureStores(s storage.Stores) Stores {
	return Stores{Roster: s.Roster, Offline: s.Offline, VCards: s.VCards, Private: s.Private, Blocking: s.Blocking,
		Last: s.Last, Archive: s.Archive, PubSub: s.PubSub, Push: s.Push, MUC: s.MUC}
}
