// Package admin is the operations layer of a running server: status,
// sessions, kicks, accounts, announcements, rooms, log levels and
// configuration reloads, as plain methods with JSON-ready results. The
// admin socket (server/admin/socket) and any other transport (an HTTP
// API) call the same Ops.
package admin

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parley-xmpp/parley/server/loglevel"
	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// Errors of Ops, for transports to map to their own status codes.
var (
	// ErrInvalid reports a bad argument (an unparsable JID, an unknown
	// level, a domain the server does not serve).
	ErrInvalid = errors.New("invalid argument")
	// ErrUnavailable reports an operation this server cannot do (no MUC
	// service, no reload function).
	ErrUnavailable = errors.New("not available on this server")
)

// Options are what Ops acts on; the server (server/app) fills them.
type Options struct {
	// Version is the server's version.
	Version string
	// Started is when the server started (for the uptime).
	Started time.Time
	// Domains are the served domains.
	Domains []string
	// Sessions is the table of bound client sessions.
	Sessions *session.Table
	// Route sends a stanza through the router.
	Route func(ctx context.Context, st *stanza.Element)
	// Accounts manages accounts (creation, passwords, deletion,
	// disabling).
	Accounts module.AccountService
	// ListAccounts lists the accounts of a domain, all when "".
	ListAccounts func(ctx context.Context, domain string) ([]jid.JID, error)
	// Links lists the server-to-server links; nil without federation.
	Links func() []module.FederationLink
	// Components reports the configured external components.
	Components func() []Component
	// Cluster lists the nodes of the cluster; nil unless the server is a
	// cluster node.
	Cluster func() []ClusterNode
	// Rooms lists the MUC rooms; nil without a MUC service.
	Rooms func(ctx context.Context) ([]Room, error)
	// Levels are the log levels, changed at run time.
	Levels *loglevel.Levels
	// Reload re-reads the configuration and certificates; nil when the
	// server cannot (it was not started from a configuration file).
	Reload func(ctx context.Context) (ReloadReport, error)
	// Log receives a line per operation that changes something.
	Log *slog.Logger
}

// Ops runs operations on a live server. Its methods are safe for
// concurrent use.
type Ops struct {
	o Options
}

// New returns the operations over o.
func New(o Options) *Ops {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Ops{o: o}
}

// SessionCount is the number of sessions of one domain over one
// transport.
type SessionCount struct {
	Domain    string `json:"domain"`
	Transport string `json:"transport"`
	Count     int    `json:"count"`
}

// Component is an external component (XEP-0114) and whether it is
// connected.
type Component struct {
	Domain string `json:"domain"`
	// Connected: connected to this server (in a cluster, this node).
	Connected bool `json:"connected"`
	// Node is, in a cluster, the node the component is connected to
	// (this one or another); empty when it is connected nowhere, or
	// outside a cluster.
	Node string `json:"node,omitempty"`
}

// Link is one server-to-server link.
type Link struct {
	Local    string    `json:"local"`
	Remote   string    `json:"remote"`
	Incoming bool      `json:"incoming"`
	State    string    `json:"state"`
	Auth     string    `json:"auth,omitempty"`
	TLS      string    `json:"tls,omitempty"`
	Since    time.Time `json:"since,omitzero"`
}

// Memory is the server process's memory use in bytes.
type Memory struct {
	// HeapAlloc is the live heap (runtime.MemStats.HeapAlloc).
	HeapAlloc uint64 `json:"heap_alloc"`
	// Sys is what the Go runtime obtained from the system.
	Sys uint64 `json:"sys"`
	// RSS is the resident set size as the kernel counts it; 0 where
	// unknown.
	RSS uint64 `json:"rss"`
}

// Status is a summary of the running server.
type Status struct {
	Version    string         `json:"version"`
	Started    time.Time      `json:"started"`
	Uptime     string         `json:"uptime"`
	Sessions   []SessionCount `json:"sessions"`
	Total      int            `json:"sessions_total"`
	Links      []Link         `json:"s2s_links"`
	Components []Component    `json:"components"`
	Memory     Memory         `json:"memory"`
	Goroutines int            `json:"goroutines"`
	// Cluster lists the cluster's nodes as this node knows them; absent
	// unless the server is a cluster node.
	Cluster []ClusterNode `json:"cluster,omitempty"`
}

// ClusterNode is a node of the cluster in the status.
type ClusterNode struct {
	Name string `json:"name"`
	// Self is the node answering.
	Self  bool `json:"self,omitempty"`
	Alive bool `json:"alive"`
	// Started is when the node started; Renewed when its lease was last
	// seen renewed.
	Started time.Time `json:"started"`
	Renewed time.Time `json:"renewed"`
	// Sessions are the node's sessions in this node's directory.
	Sessions int `json:"sessions"`
	// Components are the domains of the external components connected
	// to the node, sorted.
	Components []string `json:"components,omitempty"`
}

// Status returns the server's version, uptime, sessions per domain and
// transport, server-to-server links, components, memory and goroutines.
func (o *Ops) Status(_ context.Context) Status {
	st := Status{
		Version:    o.o.Version,
		Started:    o.o.Started,
		Uptime:     time.Since(o.o.Started).Round(time.Second).String(),
		Goroutines: runtime.NumGoroutine(),
		Sessions:   []SessionCount{}, // lists encode as [], not null
		Components: []Component{},
	}
	if o.o.Cluster != nil {
		st.Cluster = o.o.Cluster()
	}
	counts := map[[2]string]int{}
	for _, s := range o.o.Sessions.All() {
		counts[[2]string{s.JID().Domain(), transportOf(s)}]++
		st.Total++
	}
	for k, n := range counts {
		st.Sessions = append(st.Sessions, SessionCount{Domain: k[0], Transport: k[1], Count: n})
	}
	slices.SortFunc(st.Sessions, func(a, b SessionCount) int {
		return cmp.Or(cmp.Compare(a.Domain, b.Domain), cmp.Compare(a.Transport, b.Transport))
	})
	st.Links = o.Links()
	if o.o.Components != nil {
		st.Components = append(st.Components, o.o.Components()...)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st.Memory = Memory{HeapAlloc: ms.HeapAlloc, Sys: ms.Sys, RSS: rss()}
	return st
}

// Links returns the server-to-server links, none without federation.
func (o *Ops) Links() []Link {
	out := []Link{}
	if o.o.Links == nil {
		return out
	}
	for _, l := range o.o.Links() {
		out = append(out, Link{Local: l.Local, Remote: l.Remote, Incoming: l.Incoming, State: l.State, Auth: l.Auth, TLS: l.TLS, Since: l.Since})
	}
	return out
}

// rss reads the resident set size from /proc (Linux); 0 elsewhere.
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * uint64(os.Getpagesize())
}

// transportOf names a session's transport ("tcp", "websocket", "bosh").
func transportOf(s *session.Session) string {
	if t, ok := s.Conn().(interface{ Transport() string }); ok {
		return t.Transport()
	}
	return "other"
}

// Session describes one bound client session.
type Session struct {
	JID       string `json:"jid"`
	Transport string `json:"transport"`
	Remote    string `json:"remote"`
	Available bool   `json:"available"`
	Priority  int    `json:"priority"`
	// Detached: the connection is gone and the session waits for a
	// resumption (XEP-0198).
	Detached bool `json:"detached,omitempty"`
}

// Sessions lists the bound sessions, of one domain when domain is not
// "", sorted by JID.
func (o *Ops) Sessions(_ context.Context, domain string) ([]Session, error) {
	if domain != "" && !o.serves(domain) {
		return nil, fmt.Errorf("admin: %s is not a served domain: %w", domain, ErrInvalid)
	}
	out := []Session{}
	for _, s := range o.o.Sessions.All() {
		if domain != "" && s.JID().Domain() != domain {
			continue
		}
		out = append(out, Session{JID: s.JID().String(), Transport: transportOf(s), Remote: s.Conn().RemoteAddr(),
			Available: s.Available(), Priority: s.Priority(), Detached: s.Detached()})
	}
	slices.SortFunc(out, func(a, b Session) int { return cmp.Compare(a.JID, b.JID) })
	return out, nil
}

// DefaultKickReason is the stream error text of a kick without a reason.
const DefaultKickReason = "the session was ended by an administrator"

// Kick ends the session of a full JID, or every session of a bare JID,
// with a <policy-violation/> stream error carrying reason (or
// DefaultKickReason). It returns the JIDs of the sessions it ended.
func (o *Ops) Kick(ctx context.Context, target, reason string) ([]string, error) {
	j, err := o.localJID(target)
	if err != nil {
		return nil, err
	}
	if reason == "" {
		reason = DefaultKickReason
	}
	ended := o.endSessions(ctx, j, stream.PolicyViolation, reason)
	o.o.Log.Info("admin: sessions kicked", "target", j.String(), "count", len(ended), "reason", reason)
	return ended, nil
}

// endSessionsWait bounds how long endSessions waits for the sessions it
// closed to leave the session table.
const endSessionsWait = 3 * time.Second

// endSessions closes the sessions of target (all of a bare JID, or the
// one of a full JID) with a stream error and returns their JIDs. It
// returns once they have left the session table (or after
// endSessionsWait), so that a listing or a second kick right after it
// does not see a session that is still closing.
func (o *Ops) endSessions(ctx context.Context, target jid.JID, cond stream.Condition, text string) []string {
	ended := []string{}
	var closed []*session.Session
	for _, s := range o.o.Sessions.Sessions(target.Bare()) {
		if target.Resource() != "" && s.JID() != target {
			continue
		}
		s.Conn().Close(&stream.Error{Condition: cond, Text: text})
		ended = append(ended, s.JID().String())
		closed = append(closed, s)
	}
	slices.Sort(ended)
	o.awaitGone(ctx, target.Bare(), closed)
	return ended
}

// awaitGone polls the session table until none of sessions is bound
// under bare any more, ctx ends or endSessionsWait passes.
func (o *Ops) awaitGone(ctx context.Context, bare jid.JID, sessions []*session.Session) {
	if len(sessions) == 0 {
		return
	}
	deadline := time.Now().Add(endSessionsWait)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		bound := o.o.Sessions.Sessions(bare)
		if !slices.ContainsFunc(sessions, func(s *session.Session) bool { return slices.Contains(bound, s) }) {
			return
		}
		if time.Now().After(deadline) {
			o.o.Log.Warn("admin: ended sessions still bound", "jid", bare.String(), "wait", endSessionsWait)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// localJID parses s as the JID of an account of a served domain.
func (o *Ops) localJID(s string) (jid.JID, error) {
	j, err := jid.Parse(s)
	if err != nil || j.Local() == "" {
		return jid.JID{}, fmt.Errorf("admin: %q is not a user's JID: %w", s, ErrInvalid)
	}
	if !o.serves(j.Domain()) {
		return jid.JID{}, fmt.Errorf("admin: %s is not a served domain (serving %s): %w", j.Domain(), strings.Join(o.o.Domains, ", "), ErrInvalid)
	}
	return j, nil
}

// bareJID is localJID for operations on accounts: no resource.
func (o *Ops) bareJID(s string) (jid.JID, error) {
	j, err := o.localJID(s)
	if err != nil {
		return j, err
	}
	if j.Resource() != "" {
		return jid.JID{}, fmt.Errorf("admin: %q is not a bare JID user@domain: %w", s, ErrInvalid)
	}
	return j, nil
}

func (o *Ops) serves(domain string) bool { return slices.Contains(o.o.Domains, domain) }

// Announce sends a message with body text from the server's domain to
// every online (available) session of its domain, and returns how many
// sessions it went to.
func (o *Ops) Announce(ctx context.Context, text string) (int, error) {
	if strings.TrimSpace(text) == "" {
		return 0, fmt.Errorf("admin: an announcement needs a text: %w", ErrInvalid)
	}
	var targets []jid.JID
	for _, s := range o.o.Sessions.All() {
		if s.Available() && !s.Detached() {
			targets = append(targets, s.JID())
		}
	}
	for i, to := range targets {
		m := stanza.New(stanza.NSClient, "message", "from", to.Domain(), "to", to.String(), "type", "headline",
			"id", "announce-"+strconv.FormatInt(time.Now().UnixNano(), 36)+"-"+strconv.Itoa(i))
		m.Append(stanza.New(stanza.NSClient, "body").SetText(text))
		o.o.Route(ctx, m)
	}
	o.o.Log.Info("admin: announcement sent", "sessions", len(targets))
	return len(targets), nil
}

// Room describes one MUC room.
type Room struct {
	JID        string `json:"jid"`
	Name       string `json:"name,omitempty"`
	Occupants  int    `json:"occupants"`
	Persistent bool   `json:"persistent"`
	Public     bool   `json:"public"`
}

// Rooms lists the MUC rooms (live and stored), sorted by JID.
func (o *Ops) Rooms(ctx context.Context) ([]Room, error) {
	if o.o.Rooms == nil {
		return nil, fmt.Errorf("admin: rooms: the muc module is disabled: %w", ErrUnavailable)
	}
	return o.o.Rooms(ctx)
}

// LogLevels are the current log levels.
type LogLevels struct {
	// Default is the level of modules without an override.
	Default string `json:"default"`
	// Modules are the per-module overrides.
	Modules map[string]string `json:"modules,omitempty"`
}

// SetLogLevel sets the level (debug, info, warn or error) of one module
// (its loggers' "module" or "component" attribute: muc, router, c2s,
// s2s, ...), or the default level when module is "". The level "default"
// removes a module's override. It returns the levels now in force.
func (o *Ops) SetLogLevel(_ context.Context, module, level string) (LogLevels, error) {
	if o.o.Levels == nil {
		return LogLevels{}, fmt.Errorf("admin: log levels: %w", ErrUnavailable)
	}
	if module != "" && level == "default" {
		o.o.Levels.Reset(module)
	} else {
		lvl, err := loglevel.Parse(level)
		if err != nil {
			return LogLevels{}, fmt.Errorf("admin: %w: %w", err, ErrInvalid)
		}
		if module == "" {
			o.o.Levels.SetDefault(lvl)
		} else {
			o.o.Levels.Set(module, lvl)
		}
	}
	o.o.Log.Info("admin: log level changed", "module", module, "level", level)
	return o.LogLevels(), nil
}

// LogLevels returns the current log levels.
func (o *Ops) LogLevels() LogLevels {
	if o.o.Levels == nil {
		return LogLevels{}
	}
	out := LogLevels{Default: loglevel.Name(o.o.Levels.Default())}
	for m, l := range o.o.Levels.Overrides() {
		if out.Modules == nil {
			out.Modules = map[string]string{}
		}
		out.Modules[m] = loglevel.Name(l)
	}
	return out
}

// ReloadReport says what a reload changed.
type ReloadReport struct {
	// Applied lists the changes now in force ("limits", "log.level",
	// "tls certificates").
	Applied []string `json:"applied"`
	// NeedRestart lists the changed settings that take effect only
	// after a restart (listeners, storage, domains, ...).
	NeedRestart []string `json:"need_restart"`
}

// Reload re-reads the configuration and the certificates without ending
// any session, applies what can change live and reports the rest.
func (o *Ops) Reload(ctx context.Context) (ReloadReport, error) {
	if o.o.Reload == nil {
		return ReloadReport{}, fmt.Errorf("admin: reload: %w", ErrUnavailable)
	}
	r, err := o.o.Reload(ctx)
	if err != nil {
		return r, fmt.Errorf("admin: reload: %w", err)
	}
	return r, nil
}
