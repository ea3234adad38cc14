package muc

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/disco"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/mam"
	"github.com/parley-xmpp/parley/xmpp/muc"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// nsPing is XEP-0199's namespace, for XEP-0410 self-pings.
const nsPing = "urn:xmpp:ping"

// toService serves stanzas to the service's own JID: disco#info and
// disco#items (XEP-0045 §6.1, §6.3).
func (m *Module) toService(ctx context.Context, svc jid.JID, p *module.Packet) module.Verdict {
	st := p.Stanza
	if p.Kind != stanza.KindIQ {
		if p.Kind == stanza.KindPresence {
			return module.Handled
		}
		return module.Continue
	}
	if !st.IsRequest() || p.To.Resource() != "" {
		return module.Continue
	}
	q := st.Payload()
	if q == nil || st.Type() != stanza.TypeGet {
		return module.Continue
	}
	switch {
	case q.Name.Space == disco.NSInfo && q.Name.Local == "query" && q.Get("node") == "":
		info := disco.Info{
			Identities: []disco.Identity{{Category: "conference", Type: "text", Name: "Chatrooms"}},
			Features:   []string{disco.NSInfo, disco.NSItems, muc.NS, muc.NSSelfPing, nsPing, nsOccupantID, nsVCard},
		}
		m.route(ctx, stanza.Result(st, info.Element()))
	case q.Name.Space == disco.NSItems && q.Name.Local == "query" && q.Get("node") == "":
		items, err := m.publicRooms(ctx, svc, p.From)
		if err != nil {
			m.replyErr(ctx, st, err)
			return module.Handled
		}
		m.route(ctx, stanza.Result(st, items.Element()))
	case q.Name.Space == nsPing && q.Name.Local == "ping":
		m.route(ctx, stanza.Result(st, nil))
	default:
		return module.Continue
	}
	return module.Handled
}

// publicRooms lists the public rooms of a service: persistent ones from
// storage, temporary ones from memory.
func (m *Module) publicRooms(ctx context.Context, svc, from jid.JID) (disco.Items, error) {
	stored, err := m.store.MUCRooms(ctx, svc.Domain())
	if err != nil {
		return disco.Items{}, fmt.Errorf("muc: rooms of %s: %w", svc, err)
	}
	seen := make(map[jid.JID]bool)
	var res disco.Items
	add := func(j jid.JID, cfg roomConfig) {
		if seen[j] {
			return
		}
		seen[j] = true
		if cfg.Public {
			res.Items = append(res.Items, disco.Item{JID: j, Name: cfg.Name})
		}
	}
	m.mu.Lock()
	var live []*room
	for j, rm := range m.rooms {
		if j.Domain() == svc.Domain() {
			live = append(live, rm)
		}
	}
	m.mu.Unlock()
	for _, rm := range live {
		rm.mu.Lock()
		if !rm.closed && !rm.locked {
			add(rm.jid, rm.cfg)
		} else if !rm.closed {
			seen[rm.jid] = true
		}
		rm.mu.Unlock()
	}
	for _, s := range stored {
		add(s.JID, m.configFromValues(s.Config))
	}
	if m.cl != nil {
		// The temporary public rooms other nodes of the cluster serve.
		for j, name := range m.cl.c.Listed(svc.Domain()) {
			add(j, roomConfig{Public: true, Name: name})
		}
	}
	sort.Slice(res.Items, func(i, k int) bool { return res.Items[i].JID.String() < res.Items[k].JID.String() })
	return res, nil
}

// iq serves an IQ to a room or to an occupant.
func (m *Module) iq(ctx context.Context, p *module.Packet) {
	st := p.Stanza
	if p.To.Resource() != "" {
		m.occupantIQ(ctx, p)
		return
	}
	if !st.IsRequest() {
		return
	}
	q := st.Payload()
	if q == nil {
		m.replyErr(ctx, st, stanza.Errorf(stanza.BadRequest, "an IQ request needs one payload element"))
		return
	}
	rm, err := m.lookup(ctx, p.To.Bare())
	if err != nil {
		m.replyErr(ctx, st, err)
		return
	}
	if rm == nil {
		m.replyErr(ctx, st, stanza.Errorf(stanza.ItemNotFound, "no such room"))
		return
	}
	if q.Name.Space == mam.NS {
		m.archiveIQ(ctx, rm, p, q) // releases rm
		return
	}
	defer m.release(ctx, rm)
	var res *stanza.Element
	key := st.Type() + " " + q.Name.Space + " " + q.Name.Local
	switch key {
	case "get " + disco.NSInfo + " query":
		if q.Get("node") != "" {
			err = stanza.Errorf(stanza.ItemNotFound, "no such node")
			break
		}
		name := rm.cfg.Name
		if name == "" {
			name = rm.jid.Local()
		}
		info := disco.Info{
			Identities: []disco.Identity{{Category: "conference", Type: "text", Name: name}},
			Features:   append([]string{disco.NSInfo, disco.NSItems, nsPing}, m.features(rm)...),
			Forms:      []*stanza.Element{m.infoForm(rm)},
		}
		res = info.Element()
	case "get " + disco.NSItems + " query":
		res = m.occupantItems(rm, p.From, q.Get("node")).Element()
	case "get " + nsPing + " ping":
	case "get " + muc.NSAdmin + " query":
		res, err = m.adminGet(rm, p.From, q)
	case "set " + muc.NSAdmin + " query":
		err = m.adminSet(ctx, rm, p.From, q)
	case "get " + muc.NSOwner + " query":
		res, err = m.ownerGet(rm, p.From)
	case "set " + muc.NSOwner + " query":
		err = m.ownerSet(ctx, rm, p.From, q)
	case "get " + nsVCard + " vCard":
		res = m.vcardGet(rm)
	case "set " + nsVCard + " vCard":
		err = m.vcardSet(ctx, rm, p.From, q)
	case "set " + nsModerate + " moderate", "set " + nsFasten + " apply-to":
		id, reason, ok, perr := moderateRequest(q)
		switch {
		case perr != nil:
			err = perr
		case !ok:
			err = stanza.Err(stanza.ServiceUnavailable)
		default:
			err = m.moderate(ctx, rm, p.From, id, reason)
		}
	default:
		err = stanza.Err(stanza.ServiceUnavailable)
	}
	if err != nil {
		m.replyErrIn(rm, st, err)
		return
	}
	r := stanza.Result(st, res)
	rm.post(r, approxSize(r))
}

// occupantIQ serves an IQ to an occupant JID: XEP-0410 self-pings are
// answered by the room, other requests are relayed between occupants with
// their occupant JIDs (XEP-0045 §7.5), and so are the replies. A request
// to a multi-session occupant goes to the session shown (an IQ has one
// recipient).
func (m *Module) occupantIQ(ctx context.Context, p *module.Packet) {
	st := p.Stanza
	rm, err := m.lookup(ctx, p.To.Bare())
	if err != nil {
		m.replyErr(ctx, st, err)
		return
	}
	if rm == nil {
		m.replyErr(ctx, st, stanza.Errorf(stanza.ItemNotFound, "no such room"))
		return
	}
	defer m.release(ctx, rm)
	from := rm.real[p.From]
	if !st.IsRequest() {
		// A reply from a real JID to the asker's occupant JID.
		to := m.occupantAt(rm, p.To)
		if from == nil || to == nil {
			return
		}
		// The room does not know which session of a multi-session
		// occupant asked: each gets the reply, and the others ignore an
		// id they never sent.
		proto := &stanza.Element{Name: st.Name, Attr: append([]stanza.Attr(nil), st.Attr...), Children: st.Children}
		proto.Set("from", from.jid.String())
		size := approxSize(proto)
		for _, s := range to.sessions {
			rm.postTo(proto, size, s.real.String())
		}
		return
	}
	if from == nil {
		m.replyErrIn(rm, st, stanza.Errorf(stanza.NotAcceptable, "you are not in the room"))
		return
	}
	q := st.Payload()
	if q != nil && q.Name.Space == nsPing && q.Name.Local == "ping" && st.Type() == stanza.TypeGet && from.jid == p.To {
		r := stanza.Result(st, nil)
		rm.post(r, approxSize(r))
		return
	}
	to := m.occupantAt(rm, p.To)
	if to == nil {
		m.replyErrIn(rm, st, stanza.Errorf(stanza.ItemNotFound, "no such occupant"))
		return
	}
	c := addressed(st, to.primary().real.String())
	c.Set("from", from.jid.String())
	rm.post(c, approxSize(c))
}

// persist writes a persistent room's configuration and subject; failures
// are logged (the room lives on in memory).
func (m *Module) persist(ctx context.Context, rm *room) {
	if !rm.cfg.Persistent {
		return
	}
	if err := m.store.PutRoom(ctx, rm.stored()); err != nil {
		m.log.ErrorContext(ctx, "muc: cannot store the room", "room", rm.jid, "err", err)
		return
	}
	if !rm.persisted {
		rm.persisted = true
		for j := range rm.affs {
			m.persistAff(ctx, rm, j)
		}
	}
}

// persistAff writes one affiliation of a persistent room.
func (m *Module) persistAff(ctx context.Context, rm *room, j jid.JID) {
	if !rm.persisted {
		return
	}
	e, ok := rm.affs[j]
	a := storage.MUCAffiliation{JID: j, Affiliation: "none"}
	if ok {
		a = storage.MUCAffiliation{JID: j, Affiliation: e.aff.String(), Reason: e.reason, Nick: e.nick}
	}
	if err := m.store.SetRoomAffiliation(ctx, rm.jid, a); err != nil {
		m.log.ErrorContext(ctx, "muc: cannot store an affiliation", "room", rm.jid, "jid", j, "err", err)
	}
}

// unpersist deletes a room's stored row.
func (m *Module) unpersist(ctx context.Context, rm *room) {
	if !rm.persisted {
		return
	}
	rm.persisted = false
	m.forgetArchive(ctx, rm)
	if err := m.store.DeleteRoom(ctx, rm.jid); err != nil && !errors.Is(err, storage.ErrNotFound) {
		m.log.ErrorContext(ctx, "muc: cannot delete the stored room", "room", rm.jid, "err", err)
	}
}
