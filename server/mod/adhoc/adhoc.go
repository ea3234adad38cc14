package adhoc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/parley-xmpp/parley/server/module"
	xadhoc "github.com/parley-xmpp/parley/xmpp/adhoc"
	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// Limits of execution sessions.
const (
	// SessionLifetime is how long an execution session waits for the
	// next stage before it expires.
	SessionLifetime = 10 * time.Minute
	// maxSessions bounds the open execution sessions of the server, and
	// maxPerRequester those of one requester.
	maxSessions     = 10_000
	maxPerRequester = 16
)

// Command is one ad-hoc command.
type Command struct {
	// Node identifies the command (XEP-0050 §2.2); Name labels it.
	Node, Name string
	// Allowed reports whether a requester may see and run the command.
	Allowed func(from jid.JID) bool
	// Form returns the form of the first stage, or nil for a command
	// that runs at once.
	Form func(ctx context.Context) *form.Form
	// Run executes the command with the submitted form (nil for a command
	// without form). It returns the result form (or nil) and notes; a
	// *stanza.Error aborts with that error.
	Run func(ctx context.Context, from jid.JID, f *form.Form) (*form.Form, []xadhoc.Note, error)
}

// session is an execution session waiting for its form.
type session struct {
	node    string
	owner   jid.JID // the requester's full JID (XEP-0050 §3.2: one pair)
	expires time.Time
}

// Module serves ad-hoc commands.
type Module struct {
	admins   []jid.JID
	host     module.Host
	commands []*Command // in listing order

	mu       sync.Mutex
	sessions map[string]*session
}

var _ module.Module = (*Module)(nil)

// New returns the module; admins are the bare JIDs allowed to run the
// XEP-0133 commands.
func New(admins []jid.JID) *Module {
	return &Module{admins: admins, sessions: make(map[string]*session)}
}

// Name implements module.Module.
func (m *Module) Name() string { return "adhoc" }

// Register implements module.Module.
func (m *Module) Register(r module.Registrar) error {
	m.host = r.Host()
	m.commands = append([]*Command{m.pingCommand()}, m.adminCommands()...)
	m.commands = append(m.commands, m.s2sCommand())
	r.Feature(module.TargetServer, xadhoc.NS)
	r.HandleIQ(module.IQKey{Type: stanza.TypeSet, Name: xml.Name{Space: xadhoc.NS, Local: "command"}, Target: module.TargetServer}, m.execute)
	r.DiscoNode(module.TargetServer, xadhoc.NS, module.DiscoNode{
		Info: func(context.Context, jid.JID) ([]module.Identity, []string, error) {
			return []module.Identity{{Category: "automation", Type: "command-list"}}, nil, nil
		},
		Items: m.list,
	})
	for _, c := range m.commands {
		r.DiscoNode(module.TargetServer, c.Node, module.DiscoNode{
			Info: func(_ context.Context, from jid.JID) ([]module.Identity, []string, error) {
				if !c.Allowed(from) {
					return nil, nil, stanza.Err(stanza.Forbidden) // XEP-0050 §2.2
				}
				return []module.Identity{{Category: "automation", Type: "command-node", Name: c.Name}},
					[]string{xadhoc.NS, form.NS}, nil
			},
		})
	}
	return nil
}

// PingNode is the node of the ping command every user may run, as
// Prosody offers it: a client tests its ad-hoc command support with it.
const PingNode = "ping"

// pingCommand completes at once with a note saying pong and the server's
// time.
func (m *Module) pingCommand() *Command {
	return &Command{
		Node: PingNode, Name: "Ping",
		Allowed: func(jid.JID) bool { return true },
		Run: func(_ context.Context, _ jid.JID, _ *form.Form) (*form.Form, []xadhoc.Note, error) {
			now := m.host.Now().UTC().Format(time.RFC3339)
			return nil, []xadhoc.Note{{Type: xadhoc.NoteInfo, Text: "Pong\n" + now}}, nil
		},
	}
}

// isAdmin reports whether from is a configured administrator.
func (m *Module) isAdmin(from jid.JID) bool { return slices.Contains(m.admins, from.Bare()) }

// list answers disco#items on the commands node with the commands the
// requester may run (XEP-0050 §2.2).
func (m *Module) list(_ context.Context, from jid.JID) ([]module.DiscoItem, error) {
	var items []module.DiscoItem
	for _, c := range m.commands {
		if !c.Allowed(from) {
			continue
		}
		// The command lives on the domain the requester asked; with one
		// listing per server, the requester's own domain is the best
		// guess that is always served.
		d, err := jid.New("", m.domainFor(from), "")
		if err != nil {
			return nil, fmt.Errorf("adhoc: domain JID: %w", err)
		}
		items = append(items, module.DiscoItem{JID: d, Node: c.Node, Name: c.Name})
	}
	return items, nil
}

func (m *Module) domainFor(from jid.JID) string {
	if m.host.IsLocal(from.Domain()) {
		return from.Domain()
	}
	return m.host.Domains()[0]
}

func (m *Module) command(node string) *Command {
	for _, c := range m.commands {
		if c.Node == node {
			return c
		}
	}
	return nil
}

// execute runs one stage of a command (XEP-0050 §3.4).
func (m *Module) execute(ctx context.Context, q *module.IQ) (*stanza.Element, error) {
	req, err := xadhoc.Parse(q.Payload)
	if errors.Is(err, xadhoc.ErrMalformedAction) {
		return nil, xadhoc.Error(xadhoc.MalformedAction, "")
	}
	if err != nil {
		return nil, xadhoc.Error(xadhoc.BadPayload, err.Error())
	}
	c := m.command(req.Node)
	if c == nil {
		return nil, stanza.Err(stanza.ItemNotFound)
	}
	if !c.Allowed(q.From) {
		return nil, stanza.Err(stanza.Forbidden)
	}
	if req.SessionID == "" {
		switch req.Action {
		case "", xadhoc.ActionExecute:
		default:
			return nil, xadhoc.Error(xadhoc.BadSessionID, "a sessionid is required after the first stage")
		}
		return m.start(ctx, q.From, c)
	}
	if err := m.take(req, q.From); err != nil {
		return nil, err
	}
	switch req.Action {
	case xadhoc.ActionCancel:
		m.end(req.SessionID)
		return (&xadhoc.Command{Node: c.Node, SessionID: req.SessionID, Status: xadhoc.StatusCanceled}).Element(), nil
	case xadhoc.ActionPrev, xadhoc.ActionNext:
		// Every command here has a single form: only complete is allowed.
		return nil, xadhoc.Error(xadhoc.BadAction, "only complete or cancel are allowed at this stage")
	}
	if req.Form == nil {
		return nil, xadhoc.Error(xadhoc.BadPayload, "the form is missing")
	}
	// XEP-0050 §3.4.3: a cancel form is treated as submitted.
	if req.Form.Type != form.TypeSubmit && req.Form.Type != form.TypeCancel {
		return nil, xadhoc.Error(xadhoc.BadPayload, "the form must be of type submit")
	}
	if err := checkRequired(c.Form(ctx), req.Form); err != nil {
		return nil, err
	}
	return m.finish(ctx, q.From, c, req.SessionID, req.Form)
}

// start opens a command: a command without form runs at once, others
// answer with their form and an open session.
func (m *Module) start(ctx context.Context, from jid.JID, c *Command) (*stanza.Element, error) {
	id := newSessionID()
	if c.Form == nil {
		return m.finish(ctx, from, c, id, nil)
	}
	if err := m.open(id, c.Node, from); err != nil {
		return nil, err
	}
	return (&xadhoc.Command{
		Node: c.Node, SessionID: id, Status: xadhoc.StatusExecuting,
		Actions: &xadhoc.Actions{Execute: xadhoc.ActionComplete, Allowed: []xadhoc.Action{xadhoc.ActionComplete}},
		Form:    c.Form(ctx),
	}).Element(), nil
}

// finish runs the command and closes its session.
func (m *Module) finish(ctx context.Context, from jid.JID, c *Command, id string, f *form.Form) (*stanza.Element, error) {
	m.end(id)
	res, notes, err := c.Run(ctx, from, f)
	if err != nil {
		return nil, err
	}
	if c.Node == PingNode {
		m.host.Logger().DebugContext(ctx, "adhoc: command run", "node", c.Node, "by", from.String())
	} else {
		m.host.Logger().InfoContext(ctx, "adhoc: command run", "node", c.Node, "by", from.String())
	}
	return (&xadhoc.Command{Node: c.Node, SessionID: id, Status: xadhoc.StatusCompleted, Form: res, Notes: notes}).Element(), nil
}

// checkRequired fails with <bad-payload/> when a field the form marks
// required was not submitted (XEP-0050 §4.4).
func checkRequired(want, got *form.Form) error {
	if want == nil {
		return nil
	}
	for _, f := range want.Fields {
		if !f.Required {
			continue
		}
		if g := got.Field(f.Var); g == nil || len(g.Values) == 0 || (len(g.Values) == 1 && g.Values[0] == "") {
			return xadhoc.Error(xadhoc.BadPayload, "the required field "+f.Var+" is missing")
		}
	}
	return nil
}

// open records a new session, enforcing the limits.
func (m *Module) open(id, node string, owner jid.JID) error {
	now := m.host.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	mine := 0
	for k, s := range m.sessions {
		if now.After(s.expires) {
			delete(m.sessions, k)
			continue
		}
		if s.owner == owner {
			mine++
		}
	}
	if mine >= maxPerRequester || len(m.sessions) >= maxSessions {
		return stanza.Errorf(stanza.ResourceConstraint, "too many open command sessions")
	}
	m.sessions[id] = &session{node: node, owner: owner, expires: now.Add(SessionLifetime)}
	return nil
}

// take checks that the request continues a live session of its requester
// for the same command.
func (m *Module) take(req *xadhoc.Command, from jid.JID) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[req.SessionID]
	if ok && m.host.Now().After(s.expires) {
		delete(m.sessions, req.SessionID)
		ok = false
	}
	switch {
	case !ok:
		return xadhoc.Error(xadhoc.SessionExpired, "")
	case s.owner != from || s.node != req.Node:
		return xadhoc.Error(xadhoc.BadSessionID, "")
	}
	return nil
}

func (m *Module) end(id string) {
	m.mu.Lock()
	delete(m.sessions, id)
	m.mu.Unlock()
}

func newSessionID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}
