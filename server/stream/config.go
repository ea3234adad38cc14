package stream

import (
	"context"
	"log/slog"
	"net/netip"
	"time"

	"github.com/parley-xmpp/parley/server/metrics"
	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// Router is what the engine needs of the router.
type Router interface {
	RouteFrom(ctx context.Context, origin *session.Session, st *stanza.Element)
	Route(ctx context.Context, st *stanza.Element)
	Emit(ctx context.Context, ev module.SessionEvent, s *session.Session)
	StreamFeatures() []*stanza.Element
	// Bind2Features are the session features modules let clients enable
	// inline in Bind 2 (XEP-0386).
	Bind2Features() []module.Bind2Feature
	IsLocal(domain string) bool
	// Barrier returns once what s's earlier stanzas left to be made
	// durable behind their delivery (archive writes) is durable, or ctx
	// ended: the engine calls it before it tells the client anything
	// that acknowledges them (module.Registrar.Barrier).
	Barrier(ctx context.Context, s *session.Session)
}

// Sessions is what the engine needs of the table of the sessions bound
// on this node (session.Table is one): it looks sessions up as the router
// does (session.Directory), binds and unbinds its own, and keeps those
// that may be resumed (XEP-0198).
type Sessions interface {
	session.Directory
	// Bind binds s, returning the session it replaced (a resource
	// conflict) or session.ErrTooManySessions.
	Bind(s *session.Session) (replaced *session.Session, err error)
	// Unbind unbinds s, reporting whether it was bound.
	Unbind(s *session.Session) bool
	// AddResumable records s as resumable under id.
	AddResumable(id string, s *session.Session)
	// Resumable returns the session resumable under id, or nil.
	Resumable(id string) *session.Session
	// RemoveResumable forgets id if it still names s.
	RemoveResumable(id string, s *session.Session)
}

// Authenticator checks credentials and throttles failures.
type Authenticator interface {
	SCRAMKey(ctx context.Context, user jid.JID, hash string) (storage.SCRAMKey, error)
	CheckPassword(ctx context.Context, user jid.JID, password string) error
	// CheckEnabled fails with an error wrapping auth.ErrAccountDisabled
	// for a disabled account.
	CheckEnabled(ctx context.Context, user jid.JID) error
	// RevokedSince reports whether user's account was disabled or
	// deleted at or after t: a login that began then may not bind.
	RevokedSince(user jid.JID, t time.Time) bool
	// LoginDelay says how long a password login of user (zero if not
	// known yet) from ip must wait because of recent failures; it books
	// the attempt's turn (auth.Authenticator.LoginDelay).
	LoginDelay(user jid.JID, ip netip.Addr) time.Duration
	// Failed records a wrong password; Succeeded a login.
	Failed(user jid.JID, ip netip.Addr)
	Succeeded(user jid.JID, ip netip.Addr)
}

// Limits bound what one connection may cost. The engine enforces them,
// except those on reading (PreauthTimeout, IdlePing, PingTimeout,
// ParkAfter and the byte rates), which the transport does.
type Limits struct {
	MaxStanzaBytes     int
	MaxDepth           int
	PreauthStanzaBytes int
	PreauthElements    int
	PreauthTimeout     time.Duration // until resource binding
	OutboundQueue      int           // stanzas queued before the peer is a slow consumer
	IdlePing           time.Duration // silence before the server pings (XEP-0199); negative: never
	PingTimeout        time.Duration // wait for any data after the ping
	// ParkAfter is the silence after which an idle TLS 1.3 session's
	// reader parks: its goroutine ends and its buffers and cipher states
	// are released until input arrives. Negative: never.
	ParkAfter    time.Duration
	WriteTimeout time.Duration
	// OutboundQueueBytes bounds the estimated memory of what a session
	// holds for its client (queued, unacknowledged, held while inactive);
	// past it the client is a slow consumer (default 2 MiB).
	OutboundQueueBytes int
	// Rate limits what an authenticated session sends; the zero value
	// does not limit.
	Rate Rate
	// PreauthRate limits what a connection sends before it has
	// authenticated; the zero value does not limit.
	PreauthRate Rate
}

// Rate is a token-bucket limit on a client's input, enforced by reading
// more slowly (rate.go).
type Rate struct {
	BytesPerSecond   int           // 0: no byte limit
	StanzasPerSecond int           // 0: no stanza limit
	Burst            time.Duration // seconds' worth of either rate taken at once; at least one second
}

// Config configures the client streams of a Server, whatever their
// transport.
type Config struct {
	// AllowPLAIN offers SASL PLAIN (only ever over TLS).
	AllowPLAIN bool
	// FakeSecret derives the fake SCRAM salts of unknown users.
	FakeSecret []byte
	// Iterations is the SCRAM iteration count of stored credentials.
	Iterations int
	Limits     Limits
	// SM configures Stream Management (XEP-0198).
	SM StreamManagement
	// CSI configures Client State Indication (XEP-0352).
	CSI ClientState
	// DisableSASL2 stops offering SASL2 (XEP-0388) and with it Bind 2
	// and FAST.
	DisableSASL2 bool
	// FAST configures XEP-0484 tokens (fast.go).
	FAST FAST
	// Registration configures in-band registration (register.go).
	Registration Registration
	Router       Router
	// Sessions is the table where the engine binds its sessions.
	Sessions Sessions
	Auth     Authenticator
	Log      *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Sleep pauses a reader over its rate limit; nil means time.Sleep.
	Sleep func(time.Duration)
	// Metrics counts logins, stanzas and limits; nil counts nothing.
	Metrics *metrics.Metrics
}

func (c *Config) withDefaults() {
	l := &c.Limits
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxStanzaBytes, 256<<10)
	def(&l.MaxDepth, 64)
	def(&l.PreauthStanzaBytes, 8<<10)
	def(&l.PreauthElements, 32)
	def(&l.OutboundQueue, 1000)
	def(&l.OutboundQueueBytes, 2<<20)
	defd(&l.PreauthTimeout, 30*time.Second)
	if l.IdlePing == 0 {
		l.IdlePing = 5 * time.Minute
	} else if l.IdlePing < 0 {
		l.IdlePing = 0
	}
	defd(&l.PingTimeout, time.Minute)
	defd(&l.WriteTimeout, 30*time.Second)
	if l.ParkAfter == 0 {
		l.ParkAfter = 5 * time.Second
	} else if l.ParkAfter < 0 {
		l.ParkAfter = 0
	}
	c.SM.withDefaults()
	if c.CSI.MaxHeld <= 0 {
		c.CSI.MaxHeld = 500
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Sleep == nil {
		c.Sleep = time.Sleep
	}
	if c.Iterations <= 0 {
		c.Iterations = 4096
	}
}

// StreamManagement configures XEP-0198. The zero value enables it with
// the defaults.
type StreamManagement struct {
	// Disabled turns stream management off: <sm/> is not offered.
	Disabled bool
	// ResumeTimeout is how long a session whose connection was lost
	// waits for a resumption (default 5 minutes); negative disables
	// resumption.
	ResumeTimeout time.Duration
	// MaxUnacked bounds the stanzas a session holds unacknowledged (and
	// queues while detached); past it a connected session is closed as a
	// slow consumer and a detached one ends (default 500).
	MaxUnacked int
	// AckEvery is after how many stanzas the server requests an ack
	// (default 5).
	AckEvery int
	// AckInterval is how long a stanza may stay unacknowledged before
	// the server requests an ack (default 30 seconds).
	AckInterval time.Duration
	// Cluster, when set, lets sessions resume on another node of a
	// cluster (clustersm.go); nil on a single server.
	Cluster Resumer
	// DrainWait is how long a draining node keeps the resumable sessions
	// of the clients it sent to another node (<see-other-host/>) for
	// them to resume there, before ending them (cluster only; default 10
	// seconds, negative: not at all).
	DrainWait time.Duration
}

func (s *StreamManagement) withDefaults() {
	if s.ResumeTimeout == 0 {
		s.ResumeTimeout = 5 * time.Minute
	}
	if s.ResumeTimeout < 0 {
		s.ResumeTimeout = 0
	}
	if s.MaxUnacked <= 0 {
		s.MaxUnacked = 500
	}
	if s.AckEvery <= 0 {
		s.AckEvery = 5
	}
	if s.AckInterval <= 0 {
		s.AckInterval = 30 * time.Second
	}
	if s.DrainWait == 0 {
		s.DrainWait = 10 * time.Second
	}
}

// ClientState configures XEP-0352. The zero value enables it with the
// defaults.
type ClientState struct {
	// Disabled turns client state indication off: <csi/> is not offered.
	Disabled bool
	// MaxHeld bounds the stanzas held for an inactive client; reaching
	// it releases them (default 500).
	MaxHeld int
}
