// Package turn is the built-in STUN and TURN server (RFC 8489, RFC 8656)
// that lets call partners behind NATs reach each other: STUN tells a
// client its public address, TURN relays its media through the server.
// It runs pion/turn on the sockets the server hands it (UDP, TCP, TLS)
// with the server's rules: time-limited credentials of the TURN REST
// scheme (see [Credentials]), no relaying to the server's own networks
// (loopback, private, link-local, multicast ... ranges, see [Peers]),
// and bounded allocations and bandwidth.
package turn

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	pionturn "github.com/pion/turn/v4"
	"golang.org/x/time/rate"
)

// Default limits.
const (
	DefaultMaxAllocations        = 1000
	DefaultMaxAllocationsPerUser = 10
	DefaultAllocationRate        = 1 << 20  // bytes per second, each way counted
	DefaultTotalRate             = 64 << 20 // bytes per second
	DefaultMinPort               = 49152
	DefaultMaxPort               = 65535
)

// Options configure the server.
type Options struct {
	// Realm is the STUN realm of the long-term credentials (the XMPP
	// domain).
	Realm string
	// Secret is the shared secret of the TURN REST credentials.
	Secret []byte
	// RelayAddress is the IP address put in relayed candidates (the
	// XOR-RELAYED-ADDRESS): the server's public address. Required.
	RelayAddress net.IP
	// RelayBind is the local address relay sockets bind to; empty: all
	// IPv4 addresses.
	RelayBind string
	// MinPort and MaxPort bound the relay ports (inclusive); 0 and 0:
	// DefaultMinPort to DefaultMaxPort.
	MinPort, MaxPort int
	// MaxAllocations caps the allocations of the whole server;
	// MaxAllocationsPerUser those of one credential user. 0: the
	// defaults.
	MaxAllocations, MaxAllocationsPerUser int
	// AllocationRate caps the bytes per second one allocation relays
	// (both ways together), TotalRate those of every allocation; packets
	// over the rate are dropped. 0: the defaults; negative: unlimited.
	AllocationRate, TotalRate int
	// Peers decides which peer addresses may be relayed to.
	Peers Peers
	// MaxConnections caps the stream (TCP, TLS) connections open at
	// once, over all listeners; 0: DefaultMaxConnections.
	MaxConnections int
	// IdleTimeout closes a stream connection that sent nothing for that
	// long; 0: DefaultIdleTimeout.
	IdleTimeout time.Duration
	// Log receives the server's log lines.
	Log *slog.Logger
	// Now is the clock credentials are checked against; nil: time.Now.
	Now func() time.Time
}

// Server is a STUN/TURN server serving any number of sockets.
type Server struct {
	o     Options
	log   *slog.Logger
	quota *quota
	total *rate.Limiter // nil: unlimited
	conns atomic.Int64  // open stream connections
}

// New returns a server with options o.
func New(o Options) (*Server, error) {
	if o.RelayAddress == nil {
		return nil, errors.New("turn: no relay address")
	}
	if len(o.Secret) == 0 {
		return nil, errors.New("turn: no shared secret")
	}
	if o.MinPort == 0 && o.MaxPort == 0 {
		o.MinPort, o.MaxPort = DefaultMinPort, DefaultMaxPort
	}
	if o.MinPort < 1 || o.MaxPort > 65535 || o.MinPort > o.MaxPort {
		return nil, fmt.Errorf("turn: relay ports %d-%d: not a range of UDP ports", o.MinPort, o.MaxPort)
	}
	if o.RelayBind == "" {
		o.RelayBind = "0.0.0.0"
	}
	o.MaxAllocations = orDefault(o.MaxAllocations, DefaultMaxAllocations)
	o.MaxAllocationsPerUser = orDefault(o.MaxAllocationsPerUser, DefaultMaxAllocationsPerUser)
	o.AllocationRate = orDefault(o.AllocationRate, DefaultAllocationRate)
	o.TotalRate = orDefault(o.TotalRate, DefaultTotalRate)
	o.MaxConnections = orDefault(o.MaxConnections, DefaultMaxConnections)
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{o: o, log: o.Log, quota: newQuota(o.MaxAllocations, o.MaxAllocationsPerUser)}
	s.total = limiter(o.TotalRate)
	return s, nil
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// limiter returns a limiter of bps bytes per second with a burst of one
// second's worth, or nil for a negative rate (unlimited).
func limiter(bps int) *rate.Limiter {
	if bps < 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(bps), max(bps, 64<<10))
}

// Connections returns how many stream connections are open.
func (s *Server) Connections() int { return int(s.conns.Load()) }

// Allocations returns how many allocations are live.
func (s *Server) Allocations() int { return s.quota.live() }

// ServePacket serves STUN and TURN over UDP on pc until ctx ends, then
// closes pc and the allocations made through it.
func (s *Server) ServePacket(ctx context.Context, pc net.PacketConn) error {
	return s.serve(ctx, pionturn.ServerConfig{PacketConnConfigs: []pionturn.PacketConnConfig{{
		PacketConn: pc, RelayAddressGenerator: s.relays(), PermissionHandler: s.permit,
	}}})
}

// ServeListener serves STUN and TURN over the stream connections of ln
// (TCP, or TLS when ln is a TLS listener) until ctx ends, then closes ln
// and the allocations made through it.
func (s *Server) ServeListener(ctx context.Context, ln net.Listener) error {
	limited := &limitedListener{Listener: ln, s: s, open: &s.conns}
	defer limited.closeAll()
	return s.serve(ctx, pionturn.ServerConfig{ListenerConfigs: []pionturn.ListenerConfig{{
		Listener: limited, RelayAddressGenerator: s.relays(), PermissionHandler: s.permit,
	}}})
}

func (s *Server) serve(ctx context.Context, cfg pionturn.ServerConfig) error {
	cfg.Realm = s.o.Realm
	cfg.AuthHandler = s.authenticate
	cfg.QuotaHandler = s.quota.reserve
	cfg.LoggerFactory = logFactory{s.log}
	cfg.EventHandler = pionturn.EventHandler{
		OnAllocationCreated: func(src, _ net.Addr, proto, username, _ string, relay net.Addr, _ int) {
			s.quota.created(username)
			s.log.Debug("turn: allocation", "client", src, "protocol", proto, "username", username, "relay", relay)
		},
		OnAllocationDeleted: func(src, _ net.Addr, _, username, _ string) {
			s.quota.deleted(username)
			s.log.Debug("turn: allocation ended", "client", src, "username", username)
		},
	}
	srv, err := pionturn.NewServer(cfg)
	if err != nil {
		return fmt.Errorf("turn: starting: %w", err)
	}
	<-ctx.Done()
	if err := srv.Close(); err != nil {
		s.log.Debug("turn: closing", "err", err)
	}
	return nil
}

// permit is the permission handler of CreatePermission and ChannelBind:
// the peer must be an address the server may relay to.
func (s *Server) permit(client net.Addr, peer net.IP) bool {
	if ok, why := s.o.Peers.Allowed(peer); !ok {
		s.log.Info("turn: relaying refused", "client", client, "peer", peer, "reason", why)
		return false
	}
	return true
}

// authenticate is the long-term credential check of the TURN REST
// scheme: the username is "<expiry>:<user>", the password the base64
// HMAC-SHA1 of the username under the shared secret; expired usernames
// are refused.
func (s *Server) authenticate(username, realm string, src net.Addr) ([]byte, bool) {
	expiry, _, ok := parseUsername(username)
	if !ok {
		s.log.Info("turn: malformed username", "client", src, "username", username)
		return nil, false
	}
	if !s.o.Now().Before(expiry) {
		s.log.Info("turn: expired credentials", "client", src, "username", username)
		return nil, false
	}
	return pionturn.GenerateAuthKey(username, realm, Password(s.o.Secret, username)), true
}

// Credentials returns a TURN REST username and password for user (a bare
// JID or an opaque id, without ':') valid until expires.
func Credentials(secret []byte, user string, expires time.Time) (username, password string) {
	username = strconv.FormatInt(expires.Unix(), 10) + ":" + user
	return username, Password(secret, username)
}

// Password is the TURN REST password of username: base64(HMAC-SHA1(secret,
// username)).
func Password(secret []byte, username string) string {
	mac := hmac.New(sha1.New, secret)
	mac.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// parseUsername splits a TURN REST username into its expiry and user.
func parseUsername(username string) (time.Time, string, bool) {
	ts, user, _ := strings.Cut(username, ":")
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}, "", false
	}
	return time.Unix(n, 0), user, true
}

// quota counts allocations per credential user and in all. A request
// reserves its slot when pion asks (the quota handler, before the
// allocation exists); the allocation's creation turns the reservation into
// a live allocation. A reservation whose allocation failed (no free relay
// port) lapses after reservationTTL.
type quota struct {
	max, perUser int

	mu      sync.Mutex
	users   map[string]*userCount
	total   int // live + reserved
	pending []reservation
}

type userCount struct{ live, reserved int }

type reservation struct {
	user string
	at   time.Time
}

const reservationTTL = 10 * time.Second

func newQuota(max, perUser int) *quota {
	return &quota{max: max, perUser: perUser, users: map[string]*userCount{}}
}

// user is the quota key of a username: its user part (the JID the
// credentials were issued to), whatever the expiry.
func user(username string) string {
	_, u, _ := parseUsername(username)
	return u
}

func (q *quota) reserve(username, _ string, _ net.Addr) bool {
	u := user(username)
	now := time.Now()
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.pending) > 0 && now.Sub(q.pending[0].at) > reservationTTL {
		q.release(q.pending[0].user, true)
		q.pending = q.pending[1:]
	}
	c := q.users[u]
	if q.total >= q.max || (c != nil && c.live+c.reserved >= q.perUser) {
		return false
	}
	if c == nil {
		c = &userCount{}
		q.users[u] = c
	}
	c.reserved++
	q.total++
	q.pending = append(q.pending, reservation{user: u, at: now})
	return true
}

// release drops a reservation (or a live allocation) of u; q.mu is held.
func (q *quota) release(u string, reserved bool) {
	c := q.users[u]
	if c == nil {
		return
	}
	if reserved {
		if c.reserved == 0 {
			return
		}
		c.reserved--
	} else {
		if c.live == 0 {
			return
		}
		c.live--
	}
	q.total--
	if c.live == 0 && c.reserved == 0 {
		delete(q.users, u)
	}
}

func (q *quota) created(username string) {
	u := user(username)
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, r := range q.pending {
		if r.user == u {
			q.pending = append(q.pending[:i], q.pending[i+1:]...)
			q.users[u].reserved--
			q.users[u].live++
			return
		}
	}
	// The reservation lapsed: count the allocation anyway.
	c := q.users[u]
	if c == nil {
		c = &userCount{}
		q.users[u] = c
	}
	c.live++
	q.total++
}

func (q *quota) deleted(username string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.release(user(username), false)
}

func (q *quota) live() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, c := range q.users {
		n += c.live
	}
	return n
}
