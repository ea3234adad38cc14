package muc

import (
	"sort"
	"sync"
	"time"

	"github.com/parley-xmpp/parley/server/sm"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/muc"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// Short names for the affiliations and roles of xmpp/muc.
const (
	affOutcastVal = muc.AffOutcast
	affNoneVal    = muc.AffNone
	affMemberVal  = muc.AffMember
	affAdminVal   = muc.AffAdmin
	affOwnerVal   = muc.AffOwner
)

// affEntry is one affiliation with its reason and reserved nickname.
type affEntry struct {
	aff    muc.Affiliation
	reason string
	nick   string
}

// occupant is one user in a room.
type occupant struct {
	nick string
	jid  jid.JID // room@service/nick
	real jid.JID // the user's full JID
	sess *sm.Session
	role muc.Role
	// pres is the user's last available presence, with its addresses
	// and the MUC join payload removed; what other occupants are shown.
	pres *stanza.Element
}

// room is one chat room. Every field is guarded by mu.
type room struct {
	jid jid.JID

	mu        sync.Mutex
	closed    bool // destroyed or emptied: lookups must retry
	locked    bool // created, waiting for its owner's configuration
	persisted bool // has a row in storage
	created   time.Time
	cfg       roomConfig
	affs      map[jid.JID]affEntry // bare JIDs, or domains
	occ       map[string]*occupant // by nickname
	real      map[jid.JID]*occupant
	order     []*occupant // in joining order, for stable broadcasts
	hist      history
	subject   string
	subjectBy string
}

// newRoom returns an empty room with the service's default configuration.
func (m *Module) newRoom(rj jid.JID) *room {
	return &room{
		jid:     rj,
		created: m.host.Now(),
		cfg:     m.defaultConfig(),
		affs:    make(map[jid.JID]affEntry),
		occ:     make(map[string]*occupant),
		real:    make(map[jid.JID]*occupant),
	}
}

// roomFromStore rebuilds a persistent room.
func (m *Module) roomFromStore(s storage.MUCRoom, affs []storage.MUCAffiliation) *room {
	rm := m.newRoom(s.JID)
	rm.persisted = true
	rm.created = s.Created
	rm.cfg = m.configFromValues(s.Config)
	rm.cfg.Persistent = true
	rm.subject, rm.subjectBy = s.Subject, s.SubjectBy
	for _, a := range affs {
		aff, err := muc.ParseAffiliation(a.Affiliation)
		if err != nil || aff == affNoneVal {
			m.log.Warn("muc: ignoring a stored affiliation", "room", s.JID, "jid", a.JID, "affiliation", a.Affiliation)
			continue
		}
		rm.affs[a.JID] = affEntry{aff: aff, reason: a.Reason, nick: a.Nick}
	}
	rm.hist.limit = rm.cfg.MaxHistory
	return rm
}

// stored returns the room as storage keeps it.
func (rm *room) stored() storage.MUCRoom {
	return storage.MUCRoom{JID: rm.jid, Config: rm.cfg.values(), Subject: rm.subject, SubjectBy: rm.subjectBy, Created: rm.created}
}

// affiliation returns a user's affiliation: that of its bare JID, else
// that of its domain; server admins own every room.
func (m *Module) affiliation(rm *room, user jid.JID) muc.Affiliation {
	if m.isAdmin(user) {
		return affOwnerVal
	}
	if e, ok := rm.affs[user.Bare()]; ok {
		return e.aff
	}
	if d, err := jid.New("", user.Domain(), ""); err == nil {
		if e, ok := rm.affs[d]; ok {
			return e.aff
		}
	}
	return affNoneVal
}

// defaultRole is the role an affiliation gets on entering (XEP-0045
// §5.1.2).
func (rm *room) defaultRole(a muc.Affiliation) muc.Role {
	switch {
	case a >= affAdminVal:
		return muc.RoleModerator
	case a == affOutcastVal:
		return muc.RoleNone
	case rm.cfg.Moderated && a < affMemberVal:
		return muc.RoleVisitor
	}
	return muc.RoleParticipant
}

// occupants returns the occupants in joining order.
func (rm *room) occupants() []*occupant { return rm.order }

// add enters an occupant.
func (rm *room) add(o *occupant) {
	rm.occ[o.nick] = o
	rm.real[o.real] = o
	rm.order = append(rm.order, o)
}

// remove takes an occupant out.
func (rm *room) remove(o *occupant) {
	delete(rm.occ, o.nick)
	delete(rm.real, o.real)
	for i, x := range rm.order {
		if x == o {
			rm.order = append(rm.order[:i], rm.order[i+1:]...)
			break
		}
	}
}

// affList returns the JIDs with an affiliation, sorted.
func (rm *room) affList(a muc.Affiliation) []jid.JID {
	var out []jid.JID
	for j, e := range rm.affs {
		if e.aff == a {
			out = append(out, j)
		}
	}
	sort.Slice(out, func(i, k int) bool { return out[i].String() < out[k].String() })
	return out
}

// countAff counts the JIDs with an affiliation.
func (rm *room) countAff(a muc.Affiliation) int {
	n := 0
	for _, e := range rm.affs {
		if e.aff == a {
			n++
		}
	}
	return n
}

// nickOwner returns the bare JID that reserved a nickname, if any.
func (rm *room) nickOwner(nick string) (jid.JID, bool) {
	for j, e := range rm.affs {
		if e.nick == nick {
			return j, true
		}
	}
	return jid.JID{}, false
}

// seesJIDs reports whether an occupant may see real JIDs (XEP-0045
// §4.2: non-anonymous rooms, or moderators of semi-anonymous ones).
func (rm *room) seesJIDs(o *occupant) bool {
	return rm.cfg.WhoIs == whoisAnyone || o.role == muc.RoleModerator
}

// addressedEl is an addressed copy and room for its attributes, so that
// a copy costs one allocation.
type addressedEl struct {
	el    stanza.Element
	attrs [6]stanza.Attr
}

// addressed returns a copy of proto addressed to 'to': a new attribute
// list, children shared with proto. Each copy is serialised once by the
// session that takes it; nothing may modify the shared children.
func addressed(proto *stanza.Element, to string) *stanza.Element {
	a := &addressedEl{}
	c := &a.el
	c.Name, c.Children = proto.Name, proto.Children
	c.Attr = a.attrs[:0]
	for _, at := range proto.Attr {
		if at.Name.Space == "" && at.Name.Local == "to" {
			continue
		}
		c.Attr = append(c.Attr, at)
	}
	c.Attr = append(c.Attr, stanza.Attr{Name: xmlName("to"), Value: to})
	return c
}
