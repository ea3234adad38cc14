package push

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// Namespaces and form types of XEP-0357.
const (
	NS                 = "urn:xmpp:push:0"
	FormSummary        = "urn:xmpp:push:summary"
	FormPublishOptions = "http://jabber.org/protocol/pubsub#publish-options"
	nsPubSub           = "http://jabber.org/protocol/pubsub"
	// FieldIncludeBody is the enable form's boolean field by which the
	// user allows the message body in notifications.
	FieldIncludeBody = "include-body"
)

// publishTimeout bounds how long a notification waits for the service.
const publishTimeout = 30 * time.Second

// Module implements XEP-0357 on the user's server.
type Module struct {
	host    module.Host
	log     *slog.Logger
	maxRegs int
	// enableMu serialises enables, so that racing ones cannot take an
	// account past maxRegs between the check and the write.
	enableMu sync.Mutex

	mu     sync.Mutex
	counts map[jid.JID]int // messages notified since the user was last reachable
	ctx    context.Context // the server's run context, set by Start
	// regs caches the registrations (an empty slice for none) of users
	// that have a session, so that a message to an online user does not
	// read the store. This module's own changes drop a user's entry, and
	// so do the user's next initial presence (for changes made behind the
	// server's back, such as an import) and the end of the user's last
	// session (so the map stays bounded by the online users, and an
	// account deleted and created again does not notify its
	// predecessor's services); regsGen counts the drops, so that a lookup
	// racing with one does not cache what it read before.
	regs    map[jid.JID][]storage.PushRegistration
	regsGen uint64
}

// DefaultMaxRegistrations is the quota of registrations per account when
// Options.MaxRegistrations is 0.
const DefaultMaxRegistrations = 20

// MaxOptionsBytes bounds the publish-options form of one registration
// (serialised): the form carries a client's secret and a few settings,
// some hundred bytes in practice.
const MaxOptionsBytes = 4096

// Options configure the module.
type Options struct {
	// MaxRegistrations is the most services and nodes one account may
	// enable; one more gets <policy-violation/>. 0 means
	// DefaultMaxRegistrations.
	MaxRegistrations int
}

// New returns the push module.
func New(o Options) module.Module {
	if o.MaxRegistrations <= 0 {
		o.MaxRegistrations = DefaultMaxRegistrations
	}
	return &Module{maxRegs: o.MaxRegistrations, counts: make(map[jid.JID]int), regs: make(map[jid.JID][]storage.PushRegistration)}
}

// Name implements module.Module.
func (m *Module) Name() string { return "push" }

type moduleError string

func (e moduleError) Error() string { return string(e) }

const errNoStore = moduleError("push: the storage backend has no push store")

// Register implements module.Module.
func (m *Module) Register(r module.Registrar) error {
	m.host = r.Host()
	m.log = m.host.Logger()
	if m.host.Stores().Push == nil {
		return errNoStore
	}
	r.HandleIQ(module.IQKey{Type: stanza.TypeSet, Name: xml.Name{Space: NS, Local: "enable"}, Target: module.TargetAccount}, m.enable)
	r.HandleIQ(module.IQKey{Type: stanza.TypeSet, Name: xml.Name{Space: NS, Local: "disable"}, Target: module.TargetAccount}, m.disable)
	r.Feature(module.TargetAccount, NS)
	r.Hook(module.PhaseInbound, stanza.KindMessage, module.PriorityNotify, m.inbound)
	r.OnSession(module.SessionAvailable, m.reachable)
	r.OnSession(module.SessionEnded, m.sessionEnded)
	r.OnAccountDeleted(m.accountDeleted)
	// Another node of a cluster changed registrations cached here.
	r.OnInvalidate(cacheTopic, func(_ context.Context, user jid.JID) { m.forget(user) })
	return nil
}

// accountDeleted drops the cached registrations and count of a deleted
// account.
func (m *Module) accountDeleted(_ context.Context, user jid.JID) {
	m.mu.Lock()
	delete(m.counts, user)
	m.mu.Unlock()
	m.forget(user)
}

// sessionEnded drops the cached registrations of a user whose last
// session ended.
func (m *Module) sessionEnded(_ context.Context, s *session.Session) {
	if user := s.JID().Bare(); !session.AnyLocal(m.host.Sessions().Sessions(user)) {
		m.forget(user)
	}
}

// Start implements module.Starter: notifications are published on the
// server's run context.
func (m *Module) Start(ctx context.Context) error {
	m.mu.Lock()
	m.ctx = ctx
	m.mu.Unlock()
	return nil
}

// serviceAttr reads the required 'jid' attribute of enable and disable.
func serviceAttr(p *stanza.Element) (jid.JID, error) {
	s := p.Get("jid")
	if s == "" {
		return jid.JID{}, stanza.Errorf(stanza.BadRequest, "the push service 'jid' is required")
	}
	j, err := jid.Parse(s)
	if err != nil {
		return jid.JID{}, stanza.Errorf(stanza.JIDMalformed, "invalid push service 'jid'")
	}
	return j, nil
}

// enable handles <enable/> (XEP-0357 §5).
func (m *Module) enable(ctx context.Context, q *module.IQ) (*stanza.Element, error) {
	if !q.FromSelf() {
		return nil, stanza.Err(stanza.Forbidden)
	}
	service, err := serviceAttr(q.Payload)
	if err != nil {
		return nil, err
	}
	reg := storage.PushRegistration{Service: service, Node: q.Payload.Get("node"), Resource: q.From.Resource(), Created: m.host.Now()}
	if x := q.Payload.Child(form.NS, "x"); x != nil {
		f, err := form.Parse(x)
		if err != nil || f.Type != form.TypeSubmit || f.FormType() != FormPublishOptions {
			return nil, stanza.Errorf(stanza.BadRequest, "the form must be a submitted %s form", FormPublishOptions)
		}
		kept := f.Fields[:0]
		for _, fd := range f.Fields {
			if fd.Var == FieldIncludeBody {
				if reg.IncludeBody, err = form.ParseBool(fd.Value()); err != nil {
					return nil, stanza.Errorf(stanza.BadRequest, "%s must be a boolean", FieldIncludeBody)
				}
				continue
			}
			kept = append(kept, fd)
		}
		f.Fields = kept
		reg.Options = f.Element().AppendXML(nil, "")
		if len(reg.Options) > MaxOptionsBytes {
			return nil, stanza.Errorf(stanza.NotAcceptable, "the publish options may take at most %d bytes", MaxOptionsBytes)
		}
	}
	if err := m.put(ctx, q.From.Bare(), reg); err != nil {
		return nil, err
	}
	m.log.Info("push: enabled", "user", q.From.Bare(), "service", service, "node", reg.Node)
	return nil, nil
}

// put stores reg for user unless it is a new one past the quota.
func (m *Module) put(ctx context.Context, user jid.JID, reg storage.PushRegistration) error {
	m.enableMu.Lock()
	defer m.enableMu.Unlock()
	regs, err := m.host.Stores().Push.PushRegistrations(ctx, user)
	if err != nil {
		return fmt.Errorf("push: registrations of %s: %w", user, err)
	}
	known := slices.ContainsFunc(regs, func(r storage.PushRegistration) bool {
		return r.Service.Equal(reg.Service) && r.Node == reg.Node
	})
	if !known && len(regs) >= m.maxRegs {
		m.log.Info("push: registration quota reached", "user", user, "limit", m.maxRegs)
		return stanza.Errorf(stanza.PolicyViolation, "an account may enable at most %d push registrations", m.maxRegs)
	}
	err = m.host.Stores().Push.PutPush(ctx, user, reg)
	m.changed(user)
	return err
}

// disable handles <disable/> (XEP-0357 §6).
func (m *Module) disable(ctx context.Context, q *module.IQ) (*stanza.Element, error) {
	if !q.FromSelf() {
		return nil, stanza.Err(stanza.Forbidden)
	}
	service, err := serviceAttr(q.Payload)
	if err != nil {
		return nil, err
	}
	err = m.host.Stores().Push.DeletePush(ctx, q.From.Bare(), service, q.Payload.Get("node"))
	m.changed(q.From.Bare())
	if err != nil {
		return nil, err
	}
	m.log.Info("push: disabled", "user", q.From.Bare(), "service", service, "node", q.Payload.Get("node"))
	return nil, nil
}

// reachable resets the user's count when a session comes online, and
// drops the cached registrations.
func (m *Module) reachable(_ context.Context, s *session.Session) {
	m.mu.Lock()
	delete(m.counts, s.JID().Bare())
	m.mu.Unlock()
	m.forget(s.JID().Bare())
}

// cacheTopic names the registration cache's invalidations between the
// nodes of a cluster (module.Host.Invalidate).
const cacheTopic = "push"

// changed drops user's cached registrations here and on the other nodes
// of a cluster, after a write (or its attempt).
func (m *Module) changed(user jid.JID) {
	m.forget(user)
	m.host.Invalidate(cacheTopic, user)
}

// forget drops user's cached registrations.
func (m *Module) forget(user jid.JID) {
	m.mu.Lock()
	delete(m.regs, user)
	m.regsGen++
	m.mu.Unlock()
}

// registrations returns user's registrations, from the cache when it
// holds them.
func (m *Module) registrations(ctx context.Context, user jid.JID) ([]storage.PushRegistration, error) {
	m.mu.Lock()
	regs, ok := m.regs[user]
	gen := m.regsGen
	m.mu.Unlock()
	if ok {
		return regs, nil
	}
	regs, err := m.host.Stores().Push.PushRegistrations(ctx, user)
	if err != nil {
		return nil, err
	}
	if regs == nil {
		regs = []storage.PushRegistration{}
	}
	if session.AnyLocal(m.host.Sessions().Sessions(user)) {
		m.mu.Lock()
		if m.regsGen == gen {
			m.regs[user] = regs
		}
		m.mu.Unlock()
	}
	return regs, nil
}

// NSJingleMessage is Jingle Message Initiation's namespace (XEP-0353).
const NSJingleMessage = "urn:xmpp:jingle-message:0"

// notifiable reports whether a message warrants a notification: one with
// a body, that a user reads, or a call invitation (a XEP-0353 <propose/>,
// which has no body), so that the phone rings.
func notifiable(st *stanza.Element) bool {
	switch st.MessageType() {
	case stanza.TypeError, stanza.TypeHeadline, stanza.TypeGroupchat:
		return false
	}
	return st.Child(stanza.NSClient, "body") != nil || st.Child(NSJingleMessage, "propose") != nil
}

// inbound notifies the push services of the devices that cannot receive a
// message now. It never stops the message.
func (m *Module) inbound(ctx context.Context, p *module.Packet) module.Verdict {
	if !notifiable(p.Stanza) {
		return module.Continue
	}
	user := p.To.Bare()
	regs, err := m.registrations(ctx, user)
	if err != nil {
		m.log.Error("push: cannot read registrations", "user", user, "err", err)
		return module.Continue
	}
	var due []storage.PushRegistration
	for _, r := range regs {
		if m.away(user, r.Resource) {
			due = append(due, r)
		}
	}
	if len(due) == 0 {
		return module.Continue
	}
	m.mu.Lock()
	m.counts[user]++
	count := m.counts[user]
	base := m.ctx
	m.mu.Unlock()
	if base == nil {
		base = context.WithoutCancel(ctx)
	}
	sender, body := p.From.String(), p.Stanza.ChildText(stanza.NSClient, "body")
	for _, r := range due {
		// Shutdown waits for the publication (Host.Go); it runs on
		// the server's run context, which ends first.
		m.host.Go(func(context.Context) { m.publish(base, user, r, count, sender, body) })
	}
	return module.Continue
}

// away reports whether the device that enabled a registration cannot
// receive messages: its session is detached (XEP-0198) or gone.
func (m *Module) away(user jid.JID, resource string) bool {
	if resource == "" {
		return len(m.host.Sessions().Available(user)) == 0
	}
	full, err := user.WithResource(resource)
	if err != nil {
		return true
	}
	s := m.host.Sessions().Get(full)
	return s == nil || s.Detached()
}

// Notification builds the publish request of XEP-0357 §7.
func Notification(domain string, r storage.PushRegistration, count int, sender, body string) (*stanza.Element, error) {
	summary := form.New(form.TypeSubmit, FormSummary)
	summary.Add(form.Field{Var: "message-count", Values: []string{strconv.Itoa(count)}})
	summary.Add(form.Field{Var: "last-message-sender", Values: []string{sender}})
	if r.IncludeBody && body != "" {
		summary.Add(form.Field{Var: "last-message-body", Values: []string{body}})
	}
	publish := stanza.New(nsPubSub, "publish")
	if r.Node != "" {
		publish.Set("node", r.Node)
	}
	publish.Append(stanza.New(nsPubSub, "item").Append(stanza.New(NS, "notification").Append(summary.Element())))
	ps := stanza.New(nsPubSub, "pubsub").Append(publish)
	if len(r.Options) > 0 {
		opts, err := stream.ParseElement(r.Options, stream.DefaultLimits())
		if err != nil {
			return nil, err
		}
		ps.Append(stanza.New(nsPubSub, "publish-options").Append(opts))
	}
	iq := stanza.NewIQ(stanza.TypeSet, "", r.Service.String(), ps)
	iq.Set("from", domain)
	return iq, nil
}

// publish sends one notification and disables the registration when the
// service refuses it.
func (m *Module) publish(ctx context.Context, user jid.JID, r storage.PushRegistration, count int, sender, body string) {
	iq, err := Notification(user.Domain(), r, count, sender, body)
	if err != nil {
		m.log.Error("push: stored publish options unreadable", "user", user, "service", r.Service, "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	_, err = m.host.SendIQ(ctx, iq)
	var se *stanza.Error
	switch {
	case err == nil:
		m.log.Debug("push: notified", "user", user, "service", r.Service, "node", r.Node, "count", count)
	case errors.As(err, &se) && transient(se):
		m.log.Info("push: notification failed, keeping the service", "user", user, "service", r.Service, "condition", se.Condition)
	case errors.As(err, &se):
		m.log.Info("push: service refused a notification, disabling it", "user", user, "service", r.Service, "node", r.Node, "condition", se.Condition)
		dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
		defer dcancel()
		if err := m.host.Stores().Push.DeletePush(dctx, user, r.Service, r.Node); err != nil {
			m.log.Error("push: cannot disable a failing service", "user", user, "err", err)
		}
		m.changed(user)
	default:
		m.log.Warn("push: notification not answered", "user", user, "service", r.Service, "err", err)
	}
}

// transient reports whether a publish error may go away by itself, so
// the service stays enabled (XEP-0357 §7.1 allows it): a remote domain
// not reachable yet, a busy service.
func transient(e *stanza.Error) bool {
	switch e.Condition {
	case stanza.RemoteServerNotFound, stanza.RemoteServerTimeout, stanza.ResourceConstraint, stanza.InternalServerError:
		return true
	}
	return e.Type == stanza.ErrWait
}
