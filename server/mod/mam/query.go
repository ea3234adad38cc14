package mam

import (
	"context"
	"fmt"

	"github.com/parley-xmpp/parley/server/archive"
	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/mam"
	"github.com/parley-xmpp/parley/xmpp/stanza"
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
	sq := archive.StorageQuery(mq, m.opts.MaxPage)
	page, err := archive.Run(ctx, m.store, user, sq)
	if err != nil {
		return nil, err
	}
	if q.Session != nil {
		page = archive.FitBacklog(page, q.Session, sq.Last)
	}
	for _, am := range archive.Ordered(page, mq.FlipPage) {
		out, err := archive.Result(am, mq.QueryID, user.String(), q.From.String())
		if err != nil {
			m.log.Error("mam: archived message unreadable", "user", user, "id", am.ID, "err", err)
			continue
		}
		if q.Session != nil {
			if err := q.Session.Deliver(out); err != nil {
				return nil, fmt.Errorf("mam: delivering results to %s: %w", q.From, err)
			}
			continue
		}
		m.host.Route(ctx, out)
	}
	return archive.Fin(page), nil
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
	if session.AnyLocal(m.host.Sessions().Sessions(user)) {
		m.prefs[user] = p
	} else {
		delete(m.prefs, user)
	}
	m.prefsMu.Unlock()
	m.host.Invalidate(prefsTopic, user)
	return mp.Element(), nil
}
