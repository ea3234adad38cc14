package muc

import (
	"sort"
	"sync"
	"time"

	"github.com/parley-xmpp/parley/server/session"
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

// occupant is one nickname in a room. An account may occupy it from
// several resources at once (a multi-session nick, XEP-0045 §7.2.8): the
// other occupants see one occupant, every session gets the room's traffic.
type occupant struct {
	nick string  // as shown: the RFC 8266 enforced form
	key  string  // the RFC 8266 comparison form, rm.occ's key
	jid  jid.JID // room@service/nick
	role muc.Role
	oid  string // XEP-0421 occupant id, of the account
	rate bucket // groupchat messages sent (Options.MessageRate)
	// voiceAsked is when the occupant last asked for voice.
	voiceAsked time.Time

	// sessions are the user's resources in the room, in joining order;
	// the last one's presence is what other occupants are shown.
	sessions []*occSession
}

// occSession is one resource of an occupant.
type occSession struct {
	real jid.JID // the user's full JID
	sess *session.Session
	// pres is the resource's last available presence, with its addresses
	// and the MUC join payload removed.
	pres *stanza.Element
}

// primary is the session whose presence the room shows.
func (o *occupant) primary() *occSession { return o.sessions[len(o.sessions)-1] }

// bare is the occupant's account.
func (o *occupant) bare() jid.JID { return o.sessions[0].real.Bare() }

// session returns the session of a full JID, or nil.
func (o *occupant) session(full jid.JID) *occSession {
	for _, s := range o.sessions {
		if s.real == full {
			return s
		}
	}
	return nil
}

// room is one chat room. Every field is guarded by mu.
type room struct {
	jid jid.JID

	mu        sync.Mutex
	closed    bool // destroyed or emptied: lookups must retry
	locked    bool // created, waiting for its owner's configuration
	persisted bool // has a row in storage
	// keyUnsaved: the stored row lacks occKey.
	keyUnsaved bool
	created    time.Time
	cfg        roomConfig
	affs       map[jid.JID]affEntry // bare JIDs, or domains
	occ        map[string]*occupant // by nickname comparison key
	real       map[jid.JID]*occupant
	order      []*occupant // in joining order, for stable broadcasts
	hist       history
	subject    string
	subjectBy  string
	// occKey is the secret of the room's occupant ids (XEP-0421).
	occKey []byte
	// vcard is the room's vCard (nil: none), avatars the hashes of its
	// photos (XEP-0486, vcard.go).
	vcard   *stanza.Element
	avatars []string
	// out holds what the room decided to send, routed once mu is
	// released (never under it: a delivery may come back to the room).
	out outbox
	// lanes are the sessions whose occupant list is being paced out,
	// by full JID (pace.go); nil when there are none.
	lanes map[string]*lane
}

// newRoom returns an empty room with the service's default configuration.
func (m *Module) newRoom(rj jid.JID) *room {
	cfg := m.defaultConfig()
	return &room{
		jid:     rj,
		created: m.host.Now(),
		cfg:     cfg,
		hist:    history{limit: cfg.MaxHistory, maxBytes: m.opts.HistoryBytes},
		affs:    make(map[jid.JID]affEntry),
		occKey:  newOccupantKey(),
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
	if k, ok := decodeKey(s.Config[cfgOccupantKey]); ok {
		rm.occKey = k
	} else {
		// A room stored before it had a secret keeps the fresh one from
		// now on (stored at its next change, see Module.lookup).
		rm.keyUnsaved = true
	}
	for _, a := range affs {
		aff, err := muc.ParseAffiliation(a.Affiliation)
		if err != nil || aff == affNoneVal {
			m.log.Warn("muc: ignoring a stored affiliation", "room", s.JID, "jid", a.JID, "affiliation", a.Affiliation)
			continue
		}
		rm.affs[a.JID] = affEntry{aff: aff, reason: a.Reason, nick: a.Nick}
	}
	m.loadVCard(rm, s.Config[cfgVCard])
	rm.hist.limit = rm.cfg.MaxHistory
	return rm
}

// stored returns the room as storage keeps it.
func (rm *room) stored() storage.MUCRoom {
	v := rm.cfg.values()
	v[cfgOccupantKey] = encodeKey(rm.occKey)
	if rm.vcard != nil {
		v[cfgVCard] = []string{string(rm.vcard.Bytes())}
	}
	return storage.MUCRoom{JID: rm.jid, Config: v, Subject: rm.subject, SubjectBy: rm.subjectBy, Created: rm.created}
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

// add enters an occupant with its first session.
func (rm *room) add(o *occupant) {
	rm.occ[o.key] = o
	for _, s := range o.sessions {
		rm.real[s.real] = o
	}
	rm.order = append(rm.order, o)
}

// remove takes an occupant out with all its sessions.
func (rm *room) remove(o *occupant) {
	delete(rm.occ, o.key)
	for _, s := range o.sessions {
		delete(rm.real, s.real)
	}
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

// nickOwner returns the bare JID that reserved a nickname (compared by
// RFC 8266 key), if any.
func (rm *room) nickOwner(key string) (jid.JID, bool) {
	for j, e := range rm.affs {
		if e.nick == "" {
			continue
		}
		if k, err := nickKey(e.nick); err == nil && k == key {
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
