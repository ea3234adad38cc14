package muc

import (
	"context"
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
	"github.com/parley-xmpp/parley/xmpp/muc"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// DefaultPrefix is the label prepended to each served domain to name its
// MUC service.
const DefaultPrefix = "conference"

// DefaultHistoryBytes is the default bound on the size of a room's
// history.
const DefaultHistoryBytes = 256 << 10

// DefaultQueueBytes is the default bound on a room's routing backlog.
const DefaultQueueBytes = 8 << 20

// DefaultMaxUserRooms is the default bound on the rooms a session
// occupies (ejabberd's max_user_conferences has the same default).
const DefaultMaxUserRooms = 100

// DefaultMaxAffiliations is the default bound on a room's affiliations.
const DefaultMaxAffiliations = 10000

// DefaultArchiveMessages and DefaultArchiveBytes bound each room's
// archive (rolling: the oldest messages go first).
const (
	DefaultArchiveMessages = 10000
	DefaultArchiveBytes    = 32 << 20
)

// DefaultMaxSubject is the default bound on a room subject, in bytes.
const DefaultMaxSubject = 1024

// Room creation policies (Options.Create).
const (
	// CreateLocal lets accounts of the served domains create rooms.
	CreateLocal = "local"
	// CreateAdmins lets only the server admins create rooms.
	CreateAdmins = "admins"
)

// Options configure the module.
type Options struct {
	// Prefix names the service domain "<Prefix>.<domain>"; empty means
	// DefaultPrefix, "-" disables the service.
	Prefix string
	// History is how many messages a room keeps for new occupants by
	// default (muc#maxhistoryfetch); 0 means 20, negative means none.
	History int
	// MaxHistory caps what a room owner may configure; 0 means 100.
	MaxHistory int
	// HistoryBytes bounds the serialised size of the history a room keeps
	// in memory, whatever its length in messages; the oldest messages go
	// first. 0 means DefaultHistoryBytes, negative means no history.
	HistoryBytes int
	// QueueBytes bounds what a room has decided to send and not routed
	// yet: beyond it, messages to the room are refused with
	// <resource-constraint/> until it drains. 0 means DefaultQueueBytes.
	QueueBytes int
	// PacedBytes bounds what a room holds for one session while it
	// paces that session's occupant list out as the session drains
	// (entering a room of many occupants, see pace.go): past it the rest
	// goes at once, and a client that does not read meets its session's
	// own bound. 0 means DefaultPacedBytes.
	PacedBytes int
	// MaxVCardBytes bounds a room's vCard (XEP-0486 avatars), serialised;
	// a larger one is refused with <not-acceptable/>. 0 means
	// DefaultMaxVCardBytes.
	MaxVCardBytes int
	// MaxUserRooms bounds the rooms one session (full JID) may occupy at
	// once, creating included; server admins are exempt. 0 means
	// DefaultMaxUserRooms, negative means no limit.
	MaxUserRooms int
	// MaxAffiliations bounds the affiliations (owners, admins, members,
	// outcasts) one room keeps; 0 means DefaultMaxAffiliations, negative
	// means no limit.
	MaxAffiliations int
	// MaxUsers is the default occupant limit of new rooms; 0 means none.
	MaxUsers int
	// Create is who may create rooms: CreateLocal (also when empty) or
	// CreateAdmins.
	Create string
	// Admins are the server admins (bare JIDs): they may create rooms
	// when Create is CreateAdmins and own every room.
	Admins []jid.JID
	// NoArchive makes new persistent rooms start without an archive
	// (muc#roomconfig_enablearchiving off); owners may still turn it on.
	NoArchive bool
	// ArchiveQuota bounds each room's archive (XEP-0313 on the room JID)
	// in messages and bytes of stored stanzas; past it the oldest
	// messages go. Zero fields mean DefaultArchiveMessages and
	// DefaultArchiveBytes.
	ArchiveQuota storage.Quota
	// ArchiveRetention deletes the messages of room archives older than
	// this (checked at start and hourly); 0 keeps them (within the
	// quota). It needs a store implementing storage.ArchiveRewriter.
	ArchiveRetention time.Duration
	// MaxSubject bounds a room subject in bytes; a longer one is refused
	// with <not-acceptable/>. 0 means DefaultMaxSubject.
	MaxSubject int
	// MessageRate bounds the groupchat messages one occupant sends, per
	// second on average, with bursts of MessageBurst (0: twice the rate,
	// at least 1); beyond it a message is refused with
	// <resource-constraint/>. 0 means no limit; moderators are exempt.
	MessageRate  int
	MessageBurst int
}

// Module is the multi-user chat service.
type Module struct {
	opts  Options
	host  module.Host
	log   *slog.Logger
	store storage.MUC
	// archives holds the room archives (nil: the backend has none, and
	// no room archives); writer appends to them under the quota.
	archives storage.Archive
	writer   *archive.Writer

	mu       sync.Mutex
	rooms    map[jid.JID]*room
	services map[string]bool
	// joined indexes the rooms each real full JID occupies, for the
	// end of its session.
	joined map[jid.JID]map[jid.JID]struct{}
	// cl is the module's state in a cluster, nil outside one
	// (cluster.go).
	cl *clustered
}

// New returns the module.
func New(opts Options) *Module {
	return &Module{
		opts:     opts.normalized(),
		rooms:    make(map[jid.JID]*room),
		services: make(map[string]bool),
		joined:   make(map[jid.JID]map[jid.JID]struct{}),
	}
}

// normalized returns opts with the defaults in place of zero values.
func (opts Options) normalized() Options {
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	switch {
	case opts.History == 0:
		opts.History = 20
	case opts.History < 0:
		opts.History = 0
	}
	if opts.MaxHistory <= 0 {
		opts.MaxHistory = 100
	}
	if opts.History > opts.MaxHistory {
		opts.History = opts.MaxHistory
	}
	if opts.Create == "" {
		opts.Create = CreateLocal
	}
	switch {
	case opts.HistoryBytes == 0:
		opts.HistoryBytes = DefaultHistoryBytes
	case opts.HistoryBytes < 0:
		opts.HistoryBytes = 0
	}
	if opts.QueueBytes <= 0 {
		opts.QueueBytes = DefaultQueueBytes
	}
	if opts.MaxVCardBytes <= 0 {
		opts.MaxVCardBytes = DefaultMaxVCardBytes
	}
	if opts.PacedBytes <= 0 {
		opts.PacedBytes = DefaultPacedBytes
	}
	switch {
	case opts.MaxUserRooms == 0:
		opts.MaxUserRooms = DefaultMaxUserRooms
	case opts.MaxUserRooms < 0:
		opts.MaxUserRooms = 0
	}
	switch {
	case opts.MaxAffiliations == 0:
		opts.MaxAffiliations = DefaultMaxAffiliations
	case opts.MaxAffiliations < 0:
		opts.MaxAffiliations = 0
	}
	if opts.ArchiveQuota.Count <= 0 {
		opts.ArchiveQuota.Count = DefaultArchiveMessages
	}
	if opts.ArchiveQuota.Bytes <= 0 {
		opts.ArchiveQuota.Bytes = DefaultArchiveBytes
	}
	if opts.MaxSubject <= 0 {
		opts.MaxSubject = DefaultMaxSubject
	}
	if opts.MessageRate < 0 {
		opts.MessageRate = 0
	}
	if opts.MessageRate > 0 && opts.MessageBurst <= 0 {
		opts.MessageBurst = max(1, 2*opts.MessageRate)
	}
	return opts
}

var (
	_ module.Module       = (*Module)(nil)
	_ module.Configurable = (*Module)(nil)
	_ module.Starter      = (*Module)(nil)
)

// Name implements module.Module.
func (*Module) Name() string { return "muc" }

// Register implements module.Module.
func (m *Module) Register(r module.Registrar) error {
	m.host = r.Host()
	m.log = m.host.Logger()
	m.store = m.host.Stores().MUC
	if a := m.host.Stores().Archive; a != nil {
		m.archives = a
		m.writer = archive.NewWriter("muc", a, m.log, m.opts.ArchiveQuota)
	}
	if m.opts.Prefix == "-" {
		return nil
	}
	if m.store == nil {
		return errors.New("muc: the storage backend has no MUC store")
	}
	for _, d := range m.host.Domains() {
		svc, err := jid.New("", m.opts.Prefix+"."+d, "")
		if err != nil {
			return fmt.Errorf("muc: service name for %s: %w", d, err)
		}
		m.services[svc.Domain()] = true
		r.ServiceDomain(svc.Domain(), m.serviceHook(svc))
	}
	r.OnSession(module.SessionEnded, m.sessionEnded)
	return nil
}

// goBackground runs fn in a goroutine the server waits for at shutdown
// (module.Host.Go). It is
// how work that would re-enter a room lock (errors bounced by a delivery
// made under that lock) is deferred.
func (m *Module) goBackground(fn func(ctx context.Context)) { m.host.Go(fn) }

// serviceHook serves every stanza addressed to a MUC service domain.
func (m *Module) serviceHook(svc jid.JID) module.Hook {
	return func(ctx context.Context, p *module.Packet) module.Verdict {
		if m.services[p.From.Domain()] {
			// Rooms do not join rooms, nor answer each other.
			return module.Handled
		}
		if p.To.Local() == "" {
			return m.toService(ctx, svc, p)
		}
		if m.cl != nil {
			m.roomStanza(ctx, p, 0)
			return module.Handled
		}
		m.roomPacket(ctx, p)
		return module.Handled
	}
}

// roomPacket serves a stanza to a room or an occupant JID.
func (m *Module) roomPacket(ctx context.Context, p *module.Packet) {
	{
		switch p.Kind {
		case stanza.KindPresence:
			m.presence(ctx, p)
		case stanza.KindMessage:
			m.message(ctx, p)
		case stanza.KindIQ:
			m.iq(ctx, p)
		}
	}
}

// sessionEnded removes the occupants a session left behind: normally the
// presence module already sent unavailable presence to the rooms (it
// tracks directed presence), so this only catches what that missed.
func (m *Module) sessionEnded(ctx context.Context, s *session.Session) {
	full := s.JID()
	for _, rj := range m.roomsOf(full) {
		rm := m.loaded(rj)
		if rm == nil {
			continue
		}
		rm.mu.Lock()
		if o := rm.real[full]; o != nil {
			if os := o.session(full); os != nil && (os.sess == nil || os.sess == s) {
				m.removeSession(ctx, rm, o, full, stanza.New(stanza.NSClient, "presence"), leaveInfo{codes: []int{muc.StatusTechnicalError}})
			}
		}
		m.release(ctx, rm)
	}
}

// roomsOf lists the rooms a real full JID occupies.
func (m *Module) roomsOf(full jid.JID) []jid.JID {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []jid.JID
	for rj := range m.joined[full] {
		out = append(out, rj)
	}
	return out
}

// occupying counts the rooms a real full JID occupies.
func (m *Module) occupying(full jid.JID) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.joined[full])
}

// track records (or with in false, forgets) that full occupies room.
func (m *Module) track(full, room jid.JID, in bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	set := m.joined[full]
	if in {
		if set == nil {
			set = make(map[jid.JID]struct{})
			m.joined[full] = set
		}
		set[room] = struct{}{}
		return
	}
	delete(set, room)
	if len(set) == 0 {
		delete(m.joined, full)
	}
}

// loaded returns a room that is in memory, or nil.
func (m *Module) loaded(rj jid.JID) *room {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rooms[rj]
}

// lookup returns a room, loading a persistent one from storage; nil when
// the room does not exist. The room is returned locked, and never one that
// was closed meanwhile.
func (m *Module) lookup(ctx context.Context, rj jid.JID) (*room, error) {
	for {
		rm := m.loaded(rj)
		if rm == nil {
			stored, err := m.store.MUCRoom(ctx, rj)
			if errors.Is(err, storage.ErrNotFound) {
				return nil, nil
			}
			if err != nil {
				return nil, fmt.Errorf("muc: loading %s: %w", rj, err)
			}
			affs, err := m.store.RoomAffiliations(ctx, rj)
			if err != nil {
				return nil, fmt.Errorf("muc: loading %s: %w", rj, err)
			}
			rm = m.roomFromStore(stored, affs)
			m.loadHistory(ctx, rm)
			m.mu.Lock()
			if other := m.rooms[rj]; other != nil {
				rm = other
			} else {
				m.rooms[rj] = rm
			}
			m.mu.Unlock()
		}
		rm.mu.Lock()
		if !rm.closed {
			if rm.keyUnsaved {
				rm.keyUnsaved = false
				m.persist(ctx, rm)
			}
			return rm, nil
		}
		rm.mu.Unlock()
	}
}

// create makes a new room owned by owner, returned locked; if another
// request created it meanwhile, that room is returned (created false).
func (m *Module) create(rj, owner jid.JID) (rm *room, created bool) {
	fresh := m.newRoom(rj)
	fresh.affs[owner.Bare()] = affEntry{aff: affOwnerVal}
	fresh.locked = true
	// Locked before it is published (the order of close: a room's lock,
	// then the module's), so that nobody sees it half made.
	fresh.mu.Lock()
	for {
		m.mu.Lock()
		other := m.rooms[rj]
		if other == nil {
			m.rooms[rj] = fresh
			m.mu.Unlock()
			return fresh, true
		}
		m.mu.Unlock()
		fresh.mu.Unlock()
		other.mu.Lock()
		if !other.closed {
			return other, false
		}
		// Closed meanwhile (emptied, destroyed): it left the table.
		other.mu.Unlock()
		fresh.mu.Lock()
	}
}

// close forgets a room (emptied temporary room, destroyed room); the
// caller holds its lock.
func (m *Module) close(rm *room) {
	rm.closed = true
	if m.cl != nil {
		m.cl.closed(rm.jid)
	}
	m.mu.Lock()
	if m.rooms[rm.jid] == rm {
		delete(m.rooms, rm.jid)
	}
	m.mu.Unlock()
}

// route sends a stanza the service built; no room lock may be held (see
// outbox).
func (m *Module) route(ctx context.Context, st *stanza.Element) {
	m.host.Route(ctx, st)
}

// replyErr answers a stanza with an error; errors other than
// *stanza.Error are logged and sent as <internal-server-error/>. No room
// lock may be held: within a room, use replyErrIn.
func (m *Module) replyErr(ctx context.Context, st *stanza.Element, err error) {
	if reply := m.errorReply(ctx, st, err); reply != nil {
		m.route(ctx, reply)
	}
}

// replyErrIn queues the error answer to a stanza in a room's outbox; the
// caller holds the room's lock.
func (m *Module) replyErrIn(rm *room, st *stanza.Element, err error) {
	if reply := m.errorReply(context.Background(), st, err); reply != nil {
		rm.post(reply, approxSize(reply))
	}
}

// errorReply builds the error answer to st, or nil when st may not be
// answered with an error.
func (m *Module) errorReply(ctx context.Context, st *stanza.Element, err error) *stanza.Element {
	var se *stanza.Error
	if !errors.As(err, &se) {
		m.log.ErrorContext(ctx, "muc: request failed", "from", st.From(), "to", st.To(), "err", err)
		se = stanza.Err(stanza.InternalServerError)
	}
	if !stanza.MayBounce(st) {
		return nil
	}
	return stanza.ErrorReply(st, se)
}

// isAdmin reports whether a JID is a server admin.
func (m *Module) isAdmin(j jid.JID) bool {
	b := j.Bare()
	for _, a := range m.opts.Admins {
		if a == b {
			return true
		}
	}
	return false
}
