package mam

import (
	"context"
	"errors"
	"fmt"
	"github.com/parley-xmpp/parley/server/session"
	"math"
	"slices"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/mam"
	"github.com/parley-xmpp/parley/xmpp/rsm"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stanzaid"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// owner checks that a request comes from the account whose archive it
// targets (XEP-0313 §8.1: forbidden otherwise).
func owner(q *module.IQ) error {
	if !q.FromSelf() {
		return stanza.Errorf(stanza.Forbidden, "only the account may access its archive")
	}
	return nil
}

// queryForm answers an IQ get of <query/> with the supported fields (§4.1.6).
func (m *Module) queryForm(_ context.Context, q *module.IQ) (*stanza.Element, error) {
	if err := owner(q); err != nil {
		return nil, err
	}
	return mam.QueryForm(), nil
}

// storageQuery turns a protocol query into a storage query.
func (m *Module) storageQuery(mq mam.Query) storage.ArchiveQuery {
	sq := storage.ArchiveQuery{
		With: mq.With, Start: mq.Start, End: mq.End,
		AfterID: mq.AfterID, BeforeID: mq.BeforeID, IDs: mq.IDs,
		Index: mq.RSM.Index, Max: mq.RSM.Max,
	}
	if sq.Max < 0 || sq.Max > m.opts.MaxPage {
		sq.Max = m.opts.MaxPage
	}
	switch {
	case mq.RSM.Index >= 0:
	case mq.RSM.HasBefore:
		// RSM leaves <before/> with <after/> undefined; before wins.
		sq.Last, sq.Before = true, mq.RSM.Before
	case mq.RSM.HasAfter:
		sq.After = mq.RSM.After
	}
	return sq
}

// query runs an archive query: the matching messages first, each in its
// own <message/>, then the IQ result with <fin/> (§4).
func (m *Module) query(ctx context.Context, q *module.IQ) (*stanza.Element, error) {
	if err := owner(q); err != nil {
		return nil, err
	}
	mq, err := mam.ParseQuery(q.Payload)
	if err != nil {
		return nil, err
	}
	user := q.To.Bare()
	if q.Session != nil && q.FromSelf() {
		q.Session.SetValue(module.ArchiveSync{}, true) // its unacknowledged messages stay MAM-only
	}
	sq := m.storageQuery(mq)
	page, err := m.store.QueryArchive(ctx, user, sq)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, stanza.Errorf(stanza.ItemNotFound, "no such message in the archive")
	}
	if err != nil {
		return nil, fmt.Errorf("mam: query of %s: %w", user, err)
	}
	if q.Session != nil {
		page = fitBacklog(page, q.Session, sq.Last)
	}
	msgs := page.Messages
	if mq.FlipPage {
		msgs = slices.Clone(msgs)
		slices.Reverse(msgs)
	}
	for _, am := range msgs {
		el, err := stream.ParseElement(am.Stanza, stream.DefaultLimits())
		if err != nil {
			m.log.Error("mam: archived message unreadable", "user", user, "id", am.ID, "err", err)
			continue
		}
		res := mam.Result{QueryID: mq.QueryID, ID: am.ID, Stamp: am.At, Message: el}
		out := res.Element(user.String(), q.From.String(), stanzaid.New())
		if q.Session != nil {
			if err := q.Session.Deliver(out); err != nil {
				return nil, fmt.Errorf("mam: delivering results to %s: %w", q.From, err)
			}
			continue
		}
		m.host.Route(ctx, out)
	}
	fin := mam.Fin{Complete: page.Complete, Set: rsm.Result{FirstIndex: -1, Count: page.Count}}
	if len(page.Messages) > 0 {
		fin.Set.First, fin.Set.FirstIndex = page.Messages[0].ID, page.FirstIndex
		fin.Set.Last = page.Messages[len(page.Messages)-1].ID
	}
	return fin.Element(), nil
}

// metadata answers the archive metadata query (§5).
func (m *Module) metadata(ctx context.Context, q *module.IQ) (*stanza.Element, error) {
	if err := owner(q); err != nil {
		return nil, err
	}
	first, last, ok, err := m.store.ArchiveBounds(ctx, q.To.Bare())
	if err != nil {
		return nil, fmt.Errorf("mam: metadata of %s: %w", q.To.Bare(), err)
	}
	var md mam.Metadata
	if ok {
		md.Start = mam.Bound{ID: first.ID, Stamp: first.At}
		md.End = mam.Bound{ID: last.ID, Stamp: last.At}
	}
	return md.Element(), nil
}

// getPrefs returns the preferences (XEP-0441 §2.1).
func (m *Module) getPrefs(ctx context.Context, q *module.IQ) (*stanza.Element, error) {
	if err := owner(q); err != nil {
		return nil, err
	}
	p, err := m.userPrefs(ctx, q.To.Bare())
	if err != nil {
		return nil, fmt.Errorf("mam: prefs of %s: %w", q.To.Bare(), err)
	}
	return mam.Prefs{Default: p.Default, Always: p.Always, Never: p.Never}.Element(), nil
}

// setPrefs stores the preferences and returns them as applied.
func (m *Module) setPrefs(ctx context.Context, q *module.IQ) (*stanza.Element, error) {
	if err := owner(q); err != nil {
		return nil, err
	}
	mp, err := mam.ParsePrefs(q.Payload)
	if err != nil {
		return nil, err
	}
	user := q.To.Bare()
	p := storage.ArchivePrefs{Default: mp.Default, Always: mp.Always, Never: mp.Never}
	if err := m.store.SetArchivePrefs(ctx, user, p); err != nil {
		return nil, fmt.Errorf("mam: set prefs of %s: %w", user, err)
	}
	m.prefsMu.Lock()
	m.prefsGen++
	if len(m.host.Sessions().Sessions(user)) > 0 {
		m.prefs[user] = p
	} else {
		delete(m.prefs, user)
	}
	m.prefsMu.Unlock()
	return mp.Element(), nil
}

// fitBacklog shortens page to what s can take at once on top of what it
// holds: at most half of each of its connection's limits, so that an
// archive page of large messages (up to 100 of the largest stanzas) does
// not make the client a slow consumer; XEP-0313 lets a page hold fewer
// messages than asked for, and the client pages on from <fin/>. A
// forward page keeps its first messages, a backward one (RSM <before/>)
// its last; at least one message is kept.
func fitBacklog(page storage.ArchivePage, s *session.Session, backward bool) storage.ArchivePage {
	b, ok := s.Backlog()
	if !ok || len(page.Messages) <= 1 {
		return page
	}
	roomBytes, roomStanzas := math.MaxInt, math.MaxInt
	if b.MaxBytes > 0 {
		roomBytes = max(0, b.MaxBytes/2-b.Bytes)
	}
	if b.MaxStanzas > 0 {
		roomStanzas = max(0, b.MaxStanzas/2-b.Stanzas)
	}
	n, size := 0, 0
	for n < len(page.Messages) {
		i := n
		if backward {
			i = len(page.Messages) - 1 - n
		}
		size += len(page.Messages[i].Stanza) + resultOverhead
		if n > 0 && (size > roomBytes || n+1 > roomStanzas) {
			break
		}
		n++
	}
	if n == len(page.Messages) {
		return page
	}
	if backward {
		dropped := len(page.Messages) - n
		page.Messages = page.Messages[dropped:]
		if page.FirstIndex >= 0 {
			page.FirstIndex += dropped
		}
	} else {
		page.Messages = page.Messages[:n]
	}
	page.Complete = false
	return page
}

// resultOverhead is roughly what wrapping an archived message in its
// <result/> and <forwarded/> adds.
const resultOverhead = 256
