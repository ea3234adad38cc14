package mam

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/parley-xmpp/parley/server/archive"
	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/mam"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stanzaid"
)

// Hook priorities: spoofed stanza-ids go first; archiving runs after the
// hooks that may refuse a message (blocking), so refused messages are
// never archived, and before carbons, so received copies carry the
// stanza-id.
const (
	stripPriority   = module.PriorityStrip
	archivePriority = module.PriorityArchive
)

// nsHints is the Message Processing Hints namespace (XEP-0334).
const nsHints = "urn:xmpp:hints"

// Options configure the module.
type Options struct {
	// Default is the archiving default of users who never set
	// preferences: mam.DefaultAlways (when empty), DefaultRoster or
	// DefaultNever.
	Default string
	// Retention deletes archived messages older than this; 0 keeps them.
	Retention time.Duration
	// PurgeEvery is how often the retention purge runs; 0 means hourly.
	PurgeEvery time.Duration
	// MaxPage bounds the messages sent for one query; 0 means 100.
	MaxPage int
	// Quota bounds each account's archive, in messages and bytes of
	// stored stanzas; past it the oldest messages are deleted. A zero
	// field sets no bound.
	Quota storage.Quota
	// QueueBytes bounds the stanza bytes waiting to be archived (messages
	// being routed wait for room past it); 0 means
	// archive.DefaultQueueBytes.
	QueueBytes int
}

// Module implements XEP-0313 for local accounts.
type Module struct {
	opts  Options
	host  module.Host
	log   *slog.Logger
	store storage.Archive

	// prefs caches the preferences (stored or default) of accounts that
	// have a session, so that a message to or from an online user does
	// not read the store. An entry goes when the account's last session
	// ends: the map stays bounded by the online users, and an account
	// deleted and created again does not inherit its predecessor's
	// preferences. prefsGen counts changes, so that a lookup racing with
	// one does not cache what it read before.
	prefsMu  sync.Mutex
	prefs    map[jid.JID]storage.ArchivePrefs
	prefsGen uint64

	writer *archive.Writer
}

// New returns the MAM module.
func New(opts Options) module.Module {
	if opts.Default == "" {
		opts.Default = mam.DefaultAlways
	}
	if opts.PurgeEvery <= 0 {
		opts.PurgeEvery = time.Hour
	}
	if opts.MaxPage <= 0 {
		opts.MaxPage = 100
	}
	return &Module{opts: opts, prefs: make(map[jid.JID]storage.ArchivePrefs)}
}

// Name implements module.Module.
func (m *Module) Name() string { return "mam" }

type moduleError string

func (e moduleError) Error() string { return string(e) }

const errNoStore = moduleError("mam: the storage backend has no archive store")

// Register implements module.Module.
func (m *Module) Register(r module.Registrar) error {
	m.host = r.Host()
	m.log = m.host.Logger()
	m.store = m.host.Stores().Archive
	if m.store == nil {
		return errNoStore
	}
	m.writer = archive.NewWriterQueue("mam", m.store, m.log, m.opts.Quota, m.opts.QueueBytes)
	switch m.opts.Default {
	case mam.DefaultAlways, mam.DefaultNever, mam.DefaultRoster:
	default:
		return moduleError("mam: default must be always, never or roster, not " + m.opts.Default)
	}
	key := func(typ, local string) module.IQKey {
		return module.IQKey{Type: typ, Name: xml.Name{Space: mam.NS, Local: local}, Target: module.TargetAccount}
	}
	r.HandleIQ(key(stanza.TypeSet, "query"), m.query)
	r.HandleIQ(key(stanza.TypeGet, "query"), m.queryForm)
	r.HandleIQ(key(stanza.TypeGet, "metadata"), m.metadata)
	r.HandleIQ(key(stanza.TypeGet, "prefs"), m.getPrefs)
	r.HandleIQ(key(stanza.TypeSet, "prefs"), m.setPrefs)
	r.Feature(module.TargetAccount, mam.NS)
	r.Feature(module.TargetAccount, mam.NSExtended)
	r.Feature(module.TargetAccount, stanzaid.NS)
	r.Hook(module.PhaseOutbound, stanza.KindMessage, stripPriority, m.strip)
	r.Hook(module.PhaseInbound, stanza.KindMessage, stripPriority, m.strip)
	r.Hook(module.PhaseOutbound, stanza.KindMessage, archivePriority, m.outgoing)
	r.Hook(module.PhaseInbound, stanza.KindMessage, archivePriority, m.incoming)
	// Messages are delivered before their archive entries are committed:
	// nothing acknowledges them to a client before they are.
	r.Barrier(m.barrier)
	r.OnSession(module.SessionEnded, m.sessionEnded)
	r.OnAccountDeleted(m.accountDeleted)
	// Another node of a cluster changed preferences cached here.
	r.OnInvalidate(prefsTopic, func(_ context.Context, user jid.JID) { m.dropPrefs(user) })
	return nil
}

// prefsTopic names the preference cache's invalidations between the nodes
// of a cluster (module.Host.Invalidate).
const prefsTopic = "mam"

// dropPrefs drops user's cached preferences.
func (m *Module) dropPrefs(user jid.JID) {
	m.prefsMu.Lock()
	delete(m.prefs, user)
	m.prefsGen++
	m.prefsMu.Unlock()
}

// accountDeleted drops the cached preferences of a deleted account.
func (m *Module) accountDeleted(_ context.Context, user jid.JID) {
	m.dropPrefs(user)
	m.host.Invalidate(prefsTopic, user)
	if m.writer != nil {
		m.writer.Forget(user)
	}
}

// sessionEnded drops the cached preferences of an account whose last
// session ended.
func (m *Module) sessionEnded(_ context.Context, s *session.Session) {
	user := s.JID().Bare()
	if session.AnyLocal(m.host.Sessions().Sessions(user)) {
		return
	}
	m.dropPrefs(user)
}

// barrier waits until every message queued in the archive so far, those
// of s's earlier stanzas among them, is committed (module.BarrierFunc).
// It waits for what other sessions queued too: a client that was
// delivered a message, then queries its archive, finds it there.
func (m *Module) barrier(ctx context.Context, _ *session.Session) {
	if err := m.writer.Settle(ctx); err != nil {
		m.log.Warn("mam: acknowledging before the archive caught up", "err", err)
	}
}

// Stop implements module.Stopper: the messages queued in the archive
// are committed before storage closes.
func (m *Module) Stop(ctx context.Context) error {
	if m.writer == nil {
		return nil
	}
	if err := m.writer.Settle(ctx); err != nil {
		return fmt.Errorf("mam: draining the archive queue: %w", err)
	}
	return nil
}

// Start implements module.Starter: it runs the retention purge.
func (m *Module) Start(ctx context.Context) error {
	if m.opts.Retention <= 0 {
		return nil
	}
	// ctx ends at shutdown; Host.Go makes shutdown wait for the purge
	// before storage closes.
	m.host.Go(func(context.Context) {
		t := time.NewTicker(m.opts.PurgeEvery)
		defer t.Stop()
		for {
			m.purge(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
	return nil
}

func (m *Module) purge(ctx context.Context) {
	n, err := m.store.PurgeArchives(ctx, m.host.Now().Add(-m.opts.Retention))
	switch {
	case err != nil && ctx.Err() == nil:
		m.log.Error("mam: retention purge failed", "err", err)
	case n > 0:
		m.log.Info("mam: retention purge", "deleted", n)
	}
}

// ownBy reports whether a stanza-id 'by' names an archive this server
// keeps: a local account or a served domain (XEP-0359 §4 rule 2).
func (m *Module) ownBy(by string) bool {
	j, err := jid.Parse(by)
	return err == nil && j.Resource() == "" && m.host.IsLocal(j.Domain())
}

// strip removes stanza-ids that claim one of our archives. The stanza is
// replaced by a cleaned copy: the original may be shared.
func (m *Module) strip(_ context.Context, p *module.Packet) module.Verdict {
	if stanzaid.NeedsStrip(p.Stanza, m.ownBy) {
		c := p.Stanza.Clone()
		n := stanzaid.Strip(c, m.ownBy)
		p.Stanza = c
		m.log.Debug("mam: removed forged stanza-ids", "from", p.From, "count", n)
	}
	return module.Continue
}

// archivable applies XEP-0313 §6.1.1 and XEP-0334: chat and normal
// messages with a body, or with a <store/> hint, unless a hint says not to
// store them.
func archivable(st *stanza.Element) bool {
	switch st.MessageType() {
	case stanza.TypeChat, stanza.TypeNormal:
	default:
		return false
	}
	if st.Child(nsHints, "no-store") != nil || st.Child(nsHints, "no-permanent-store") != nil {
		return false
	}
	if b := st.Child("", "body"); b != nil && stanza.IsContentNS(b.Name.Space) {
		return true
	}
	return st.Child(nsHints, "store") != nil
}

// outgoing archives a message a local session sends to someone else; a
// message to the account itself is archived once, as incoming. For a
// local account, the sender's copy is held (module.Packet.Hold) and
// queued with the recipient's when the router hands the message to that
// account (incoming), next to each other. Where no such step comes (the
// account does not exist, a hook refused the message), it is queued once
// the router is done with the message. Queuing waits only for room in
// the archive's queue, never for the commit: the message is delivered
// while its entries are being committed, and the barrier (Barrier) keeps
// the server from acknowledging it before they are.
func (m *Module) outgoing(ctx context.Context, p *module.Packet) module.Verdict {
	if (p.Origin == nil && !p.OnBehalf) || p.To.IsZero() || p.To.Bare().Equal(p.From.Bare()) || !archivable(p.Stanza) {
		return module.Continue
	}
	user := p.From.Bare()
	if !m.shouldArchive(ctx, user, p.To) {
		return module.Continue
	}
	e := m.writer.Prepare(user, storage.ArchivedMessage{ID: stanzaid.New(), With: p.To, Outgoing: true}, p.Stanza, m.host.Now())
	if p.To.Local() != "" && m.host.IsLocal(p.To.Domain()) {
		p.Hold(heldKey{}, e, m.appendHeld)
		return module.Continue
	}
	m.append(ctx, e)
	return module.Continue
}

// heldKey is the key of the sender's copy a packet holds (outgoing).
type heldKey struct{}

// appendHeld appends the sender's copy no hook took.
func (m *Module) appendHeld(ctx context.Context, v any) { m.append(ctx, v.(archive.Entry)) }

// incoming archives a message to a local account and delivers it with its
// stanza-id; the sender's copy, when the packet holds it (outgoing), is
// queued with it. The stanza-id is added once the entry is queued, before
// it is committed: should the commit fail (logged), the delivered message
// carries a stanza-id its archive lacks.
func (m *Module) incoming(ctx context.Context, p *module.Packet) module.Verdict {
	var es []archive.Entry
	if v, ok := p.Take(heldKey{}); ok {
		es = append(make([]archive.Entry, 0, 2), v.(archive.Entry))
	}
	if p.To.Local() == "" || !archivable(p.Stanza) {
		m.append(ctx, es...)
		return module.Continue
	}
	user := p.To.Bare()
	if !m.shouldArchive(ctx, user, p.From) {
		m.append(ctx, es...)
		return module.Continue
	}
	id := stanzaid.New()
	es = append(es, m.writer.Prepare(user, storage.ArchivedMessage{ID: id, With: p.From}, p.Stanza, m.host.Now()))
	if !m.append(ctx, es...) {
		return module.Continue
	}
	c := p.Stanza.Clone()
	stanzaid.Add(c, stanzaid.StanzaID{ID: id, By: user.String()})
	p.Stanza = c
	return module.Continue
}

// append queues messages to be archived, next to each other, and reports
// whether the last one was queued; a failure is logged and the message
// still delivered.
func (m *Module) append(ctx context.Context, es ...archive.Entry) bool {
	if len(es) == 0 {
		return false
	}
	errs := make([]error, len(es))
	m.writer.EnqueueEntries(ctx, es, errs)
	for _, err := range errs {
		if err != nil {
			m.log.Error("mam: cannot archive a message", "err", err)
		}
	}
	return errs[len(errs)-1] == nil
}

// userPrefs returns user's preferences, or the configured default.
func (m *Module) userPrefs(ctx context.Context, user jid.JID) (storage.ArchivePrefs, error) {
	m.prefsMu.Lock()
	p, ok := m.prefs[user]
	gen := m.prefsGen
	m.prefsMu.Unlock()
	if ok {
		return p, nil
	}
	p, err := m.store.ArchivePrefs(ctx, user)
	if errors.Is(err, storage.ErrNotFound) {
		// Cached too: otherwise every message to or from an account
		// without preferences (most of them) reads the store.
		p, err = storage.ArchivePrefs{Default: m.opts.Default}, nil
	}
	if err != nil {
		return p, err
	}
	if session.AnyLocal(m.host.Sessions().Sessions(user)) {
		m.prefsMu.Lock()
		if m.prefsGen == gen {
			m.prefs[user] = p
		}
		m.prefsMu.Unlock()
	}
	return p, nil
}

// shouldArchive applies user's preferences to the other party target
// (XEP-0441 §2.3): a listed full JID matches exactly, a listed bare JID
// any resource; 'never' wins over 'always'; otherwise the default, where
// 'roster' means the contact's bare JID is in the roster.
func (m *Module) shouldArchive(ctx context.Context, user, target jid.JID) bool {
	p, err := m.userPrefs(ctx, user)
	if err != nil {
		m.log.Error("mam: cannot read preferences; archiving", "user", user, "err", err)
		return true
	}
	listed := func(js []jid.JID) bool {
		for _, j := range js {
			if j.Equal(target) || (j.IsBare() && j.Equal(target.Bare())) {
				return true
			}
		}
		return false
	}
	switch {
	case listed(p.Never):
		return false
	case listed(p.Always):
		return true
	}
	switch p.Default {
	case mam.DefaultNever:
		return false
	case mam.DefaultRoster:
		if target.Bare().Equal(user) {
			return true
		}
		_, err := m.host.Roster().RosterItem(ctx, user, target.Bare())
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			m.log.Error("mam: roster lookup failed", "user", user, "err", err)
		}
		return err == nil
	}
	return true
}
