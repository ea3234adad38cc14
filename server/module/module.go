package module

import (
	"context"
	"encoding/xml"
	"log/slog"
	"net/http"
	"time"

	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// Module is one area of server behaviour.
type Module interface {
	// Name is the module's short name, used in config and logs.
	Name() string
	// Register declares the module's handlers. It is called once, before
	// any listener starts.
	Register(r Registrar) error
}

// Starter is implemented by modules that run background work; Start is
// called after every module registered, and ctx ends at shutdown.
type Starter interface {
	Start(ctx context.Context) error
}

// Host is the server as a module sees it.
type Host interface {
	// Route sends a stanza whose from is already set through the router,
	// exactly as if a local entity had sent it.
	Route(ctx context.Context, st *stanza.Element)
	// RouteOnBehalf routes a stanza from a local user's bare JID that a
	// privileged component sent in the user's name (XEP-0356): like
	// Route, but the PhaseOutbound hooks run first, with Packet.OnBehalf
	// set and no Origin, so that it is archived and copied to the user's
	// resources as what the user sent.
	RouteOnBehalf(ctx context.Context, st *stanza.Element)
	// Sessions is the session directory: where the bound sessions of the
	// served accounts are found.
	Sessions() session.Directory
	// Stores are the persistent stores of feature data (not the account
	// and credential stores).
	Stores() Stores
	// IsLocal reports whether domain is one of the served domains.
	IsLocal(domain string) bool
	// Domains lists the served domains.
	Domains() []string
	// Services lists the service domains modules serve (ServiceDomain),
	// sorted.
	Services() []string
	// AccountExists reports whether a local account exists.
	AccountExists(ctx context.Context, user jid.JID) (bool, error)
	// Emit runs the callbacks registered for a session event.
	Emit(ctx context.Context, ev SessionEvent, s *session.Session)
	// Logger is the module's logger.
	Logger() *slog.Logger
	// Now is the server clock.
	Now() time.Time
	// Limits are the server limits modules must honour.
	Limits() Limits
	// DiscoInfo returns the identities and features a target's
	// disco#info lists now (DiscoView).
	DiscoInfo(t Target) ([]Identity, []string)
	// DiscoForms returns the extended information forms (XEP-0128) a
	// target's disco#info lists now (DiscoView).
	DiscoForms(t Target) []*stanza.Element
	// DiscoView returns what a target's disco#info lists now: what every
	// module advertised (Registrar.Feature, Identity, DiscoForm), with
	// what NestDisco put in its place. It changes at run time; its Gen
	// tells when.
	DiscoView(t Target) *DiscoView
	// NestDisco replaces what a target's disco#info lists for a
	// namespace (XEP-0355 §9.2, a namespace delegated to a component):
	// the features modules advertised that are namespace or start with
	// namespace+"#", and their forms whose FORM_TYPE is namespace, are
	// left out, and n's identities, features and forms are listed
	// instead (those already listed once are not repeated). A nil n
	// lists the modules' own again. It may be called at any time; it
	// routes nothing.
	NestDisco(t Target, namespace string, n *NestedDisco)
	// ComponentConnected reports whether the external component of a
	// domain (XEP-0114) is connected now.
	ComponentConnected(domain string) bool
	// DiscoNode returns the handler a module registered for a node.
	DiscoNode(t Target, node string) (DiscoNode, bool)
	// AccountItems returns what modules add to the disco#items of an
	// account's bare JID (AccountItems of Registrar).
	AccountItems() []AccountItemsFunc
	// Accounts manages accounts and credentials.
	Accounts() AccountService
	// Federation lists the server-to-server links; never nil (it lists
	// none when federation is off).
	Federation() FederationService
	// Roster reads rosters: through the roster module's cache when it
	// provides the service (Registrar.ProvideRoster), else from storage.
	// Call it when the roster is needed, not at registration: the roster
	// module may register after the caller.
	Roster() RosterService
	// SendIQ sends an IQ request from the server and waits for its result
	// or error reply, or for ctx to end.
	SendIQ(ctx context.Context, iq *stanza.Element) (*stanza.Element, error)
	// Invalidate tells the other nodes of a cluster that stored data of
	// user, which modules cache under topic (their name), changed: their
	// OnInvalidate callbacks drop it. It does not block and does nothing
	// on a server that is not a cluster node. Stanzas this node routes
	// after the call reach another node after its invalidation.
	Invalidate(topic string, user jid.JID)
	// Go runs fn in a goroutine the server waits for at shutdown: fn's
	// context ends once every session is gone, and storage closes only
	// after fn returned. Modules start all their background work with it.
	Go(fn func(ctx context.Context))
}

// Limits are the limits that concern modules.
type Limits struct {
	OfflineMessages int // per account; 0: unlimited
	// DirectedPresences caps the entities one session has sent directed
	// available presence to (RFC 6121 §4.6); 0: unlimited.
	DirectedPresences int
	// SharedPresences bounds the distinct presences kept once for all the
	// sessions that sent them (session.PresenceShare); 0: none shared.
	SharedPresences int
}

// Target says whom an IQ is addressed to.
type Target uint8

// IQ targets.
const (
	// TargetServer is an IQ to a served domain.
	TargetServer Target = iota + 1
	// TargetAccount is an IQ to the bare JID of a local account (or with no
	// 'to', which RFC 6120 §10.3.3 treats as the sender's own account).
	TargetAccount
)

// IQKey selects an IQ handler.
type IQKey struct {
	Type   string   // stanza.TypeGet or stanza.TypeSet
	Name   xml.Name // the payload element
	Target Target
}

// IQ is a request delivered to a handler.
type IQ struct {
	Stanza  *stanza.Element
	Payload *stanza.Element
	From    jid.JID // stamped by the server
	To      jid.JID // the domain, or the bare JID of the account
	Session *session.Session
}

// FromSelf reports whether the request comes from the account it targets.
func (q *IQ) FromSelf() bool { return q.From.Bare() == q.To.Bare() }

// IQHandler answers a request: it returns the result payload (nil for an
// empty result) or an error; a *stanza.Error is sent as is, any other
// error as <internal-server-error/> and logged. A handler that returns
// ErrNoReply sends the reply itself.
type IQHandler func(ctx context.Context, q *IQ) (*stanza.Element, error)

// ErrNoReply is returned by an IQHandler that answered by itself.
var ErrNoReply = noReply{}

type noReply struct{}

func (noReply) Error() string { return "module: handler replies itself" }

// Phase is a point in the router's processing where hooks run.
type Phase uint8

// Hook phases, in the order a stanza meets them.
const (
	// PhaseOutbound runs for every stanza a local session sends, after 'from'
	// was stamped and before routing. Presence without 'to' (broadcast) is
	// only ever seen here.
	PhaseOutbound Phase = iota + 1
	// PhaseInbound runs for a stanza addressed to a local account (its bare
	// or a full JID) before delivery.
	PhaseInbound
	// PhaseUndeliverable runs for a message to a local account that no
	// session can take (RFC 6121 §8.5.2.1.1), before it is refused.
	PhaseUndeliverable
	// PhaseDelivered runs for a message to a local account after the router
	// handed it to one or more sessions, listed in Packet.Delivered (carbons
	// use it to copy the message to the other resources). Its verdicts are
	// ignored and its hooks must not modify the stanza.
	PhaseDelivered
	// PhaseServerIQ runs for an IQ request addressed to a served domain,
	// before the IQ handlers (XEP-0355 delegation takes such requests
	// there).
	PhaseServerIQ
)

// Packet is a stanza in the router.
type Packet struct {
	Stanza *stanza.Element
	Kind   stanza.Kind
	From   jid.JID
	To     jid.JID          // zero when the stanza has no 'to'
	Origin *session.Session // the local session that sent it, or nil
	// OnBehalf marks a stanza a privileged component sent in the name of
	// the local user of From (Host.RouteOnBehalf); Origin is nil.
	OnBehalf bool
	// Delivered lists the sessions that took the message; set only in
	// PhaseDelivered.
	Delivered []*session.Session
	// held is work hooks put off for a later hook of the packet (Hold).
	held []held
}

// held is one piece of work Packet.Hold put off.
type held struct {
	key, v any
	run    func(ctx context.Context, v any)
}

// Hold puts off v, under key, for a later hook of the same packet to take
// (Take): a module doing work in two phases (the sender's side in
// PhaseOutbound, the recipient's in PhaseInbound) can do both at once. If
// no hook takes it, run(ctx, v) is called once the router is done with
// the packet (Release), whatever path the packet took.
func (p *Packet) Hold(key, v any, run func(ctx context.Context, v any)) {
	p.held = append(p.held, held{key: key, v: v, run: run})
}

// Take returns the value held under key and removes it, so that its run
// function is not called; ok is false when nothing is held under key.
func (p *Packet) Take(key any) (v any, ok bool) {
	for i, h := range p.held {
		if h.key == key {
			p.held = append(p.held[:i], p.held[i+1:]...)
			return h.v, true
		}
	}
	return nil, false
}

// Release runs the work held and not taken, in the order it was held; the
// router calls it once done with the packet.
func (p *Packet) Release(ctx context.Context) {
	for len(p.held) > 0 {
		h := p.held[0]
		p.held = p.held[1:]
		h.run(ctx, h.v)
	}
}

// Verdict is what a hook decides.
type Verdict uint8

// Verdicts.
const (
	// Continue passes the stanza to the next hook and then to delivery.
	Continue Verdict = iota
	// Handled stops processing: the hook consumed the stanza (and answered
	// or bounced it itself if needed).
	Handled
)

// Hook inspects or consumes a stanza.
type Hook func(ctx context.Context, p *Packet) Verdict

// SessionEvent is a change in a session's life.
type SessionEvent uint8

// Session events.
const (
	// SessionBound: a resource was bound.
	SessionBound SessionEvent = iota + 1
	// SessionAvailable: the session sent initial presence.
	SessionAvailable
	// SessionEnded: the session is gone (closed or broken) and unbound.
	SessionEnded
)

// SessionFunc reacts to a session event.
type SessionFunc func(ctx context.Context, s *session.Session)

// AccountFunc reacts to an account event; user is a bare JID.
type AccountFunc func(ctx context.Context, user jid.JID)

// Identity is a service discovery identity (XEP-0030).
type Identity struct {
	Category, Type, Name string
}

// DiscoView is what the disco#info of a target lists at one moment
// (Host.DiscoView). It is shared: never modify it.
type DiscoView struct {
	Identities []Identity
	Features   []string // sorted
	Forms      []*stanza.Element
	// Gen is different in every view that differs from the one before,
	// so that what is derived from a view (the XEP-0115 'ver') can be
	// kept until Gen changes.
	Gen uint64
}

// NestedDisco is what another entity advertises in a target's
// disco#info for a namespace (Host.NestDisco). Its slices and forms
// belong to the server once given.
type NestedDisco struct {
	Identities []Identity
	Features   []string
	Forms      []*stanza.Element
}

// ComponentFunc reacts to the external component of domain connecting
// or going away: Host.ComponentConnected tells which. Events of a
// component's successive connections may overlap, so decide by
// ComponentConnected when the event is handled, not by which event
// came. It runs on the component's connection goroutine: it must not
// block (start background work with Host.Go).
type ComponentFunc func(ctx context.Context, domain string)

// BarrierFunc waits until what s's earlier stanzas left to be made
// durable is durable (Registrar.Barrier).
type BarrierFunc func(ctx context.Context, s *session.Session)

// Registrar is what a module registers with.
type Registrar interface {
	// Host returns the server facade.
	Host() Host
	// HandleIQ registers an IQ handler; a key registered twice fails
	// start-up.
	HandleIQ(key IQKey, h IQHandler)
	// Hook registers a hook in a phase for one stanza kind; lower priority
	// values run first (use the Priority constants).
	Hook(phase Phase, kind stanza.Kind, priority int, h Hook)
	// OnSession registers a session event callback.
	OnSession(ev SessionEvent, fn SessionFunc)
	// OnAccountDeleted registers a callback run right after a local
	// account was deleted from storage (AccountService.Delete), so that
	// modules drop what they cached for it before an account with the same
	// name can be created.
	OnAccountDeleted(fn AccountFunc)
	// OnInvalidate registers a callback run when another node of a
	// cluster changed stored data of user that this module caches under
	// topic (Host.Invalidate there): fn drops its cached copy. It never
	// runs on a server that is not a cluster node.
	OnInvalidate(topic string, fn AccountFunc)
	// Barrier registers fn as a durability barrier: the stream engine
	// calls it before it answers anything a client could take for an
	// acknowledgement of its earlier stanzas (before it handles an IQ,
	// answers an ack request or reports a resumption, XEP-0198, and
	// before it closes a stream the client closed), and fn returns once
	// what the session's earlier stanzas left to be made durable behind
	// their delivery (a message archive's writes) is durable, or ctx
	// ended. It must cost next to nothing when there is nothing to wait
	// for.
	Barrier(fn BarrierFunc)
	// Feature advertises a disco feature for a target.
	Feature(t Target, feature string)
	// Identity advertises a disco identity for a target.
	Identity(t Target, id Identity)
	// StreamFeature adds an element to the stream features offered after
	// resource binding is possible (e.g. roster versioning).
	StreamFeature(el *stanza.Element)
	// StreamFeatureFunc adds a stream feature that may change at run
	// time, such as the server's XEP-0115 caps: fn is called each time
	// the features are offered, from any goroutine, and returns an
	// element nobody modifies afterwards (nil: none this time).
	StreamFeatureFunc(fn func() *stanza.Element)
	// OnComponent registers a callback run when an external component
	// connects or goes away (ComponentFunc).
	OnComponent(fn ComponentFunc)
	// ServiceDomain makes the server serve a whole domain (e.g.
	// pubsub.example.org) through h: every stanza addressed to any JID of
	// that domain is given to h after the outbound hooks; requests h does
	// not handle bounce with <service-unavailable/>. The domain is listed
	// in the server's disco#items. A domain served twice, or equal to an
	// account domain, fails start-up.
	ServiceDomain(domain string, h Hook)
	// DiscoForm adds an extended information form (XEP-0128) to the
	// disco#info of a target.
	DiscoForm(t Target, form *stanza.Element)
	// DiscoNode answers disco#info and disco#items on a node of a target;
	// a node registered twice fails start-up.
	DiscoNode(t Target, node string, n DiscoNode)
	// AccountItems adds items to the disco#items of every account's bare
	// JID (no node): fn lists those the requester may see (e.g. the
	// account's PEP nodes, XEP-0163 §7).
	AccountItems(fn AccountItemsFunc)
	// Bind2Feature lets clients enable a session feature inline when they
	// bind with Bind 2 (XEP-0386): fn runs for each request element in
	// namespace ns, and ns is advertised among Bind 2's inline features. A
	// namespace registered twice fails start-up.
	Bind2Feature(ns string, fn Bind2Func)
	// ProvideRoster makes svc the roster service every module gets from
	// Host.Roster; providing it twice fails start-up.
	ProvideRoster(svc RosterService)
	// HandleHTTP serves the URL paths under prefix (ending in "/") on the
	// server's HTTP listeners with h (e.g. uploaded files, XEP-0363); a
	// prefix registered twice fails start-up.
	HandleHTTP(prefix string, h http.Handler)
}
