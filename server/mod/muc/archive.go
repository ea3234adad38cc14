package muc

import (
	"context"
	"fmt"
	"time"

	"github.com/parley-xmpp/parley/server/archive"
	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/mam"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// archivePage bounds the messages sent for one query of a room archive.
const archivePage = 100

// nsHints is the Message Processing Hints namespace (XEP-0334).
const nsHints = "urn:xmpp:hints"

// archiving reports whether a room keeps an archive: a persistent room
// whose configuration enables it, on a storage backend with archives. A
// temporary room never does: its archive would outlive it, and the next
// room of that name would inherit it.
func (m *Module) archiving(rm *room) bool {
	return m.archives != nil && rm.cfg.Persistent && rm.cfg.Archive
}

// archivable reports whether a reflected message goes to the archive: one
// with a body, unless a hint says not to store it (XEP-0334), and every
// retraction (XEP-0424 §6: the archive keeps them).
func archivable(msg *stanza.Element) bool {
	if retracting(msg) != nil {
		return true
	}
	if msg.Child(nsHints, "no-store") != nil || msg.Child(nsHints, "no-permanent-store") != nil {
		return false
	}
	b := msg.Child("", "body")
	return b != nil && stanza.IsContentNS(b.Name.Space)
}

// archiveMessage stores a reflected message (without 'to') in the room's
// archive under its stanza-id; with is the sender's occupant JID. A
// failure is logged and the message still goes out. The caller holds
// rm.mu (a storage call, never a route).
func (m *Module) archiveMessage(ctx context.Context, rm *room, msg *stanza.Element, id string, with jid.JID) {
	if !m.archiving(rm) || !archivable(msg) {
		return
	}
	am := storage.ArchivedMessage{ID: id, With: with}
	if err := m.writer.Append(ctx, rm.jid, am, msg, m.host.Now()); err != nil {
		m.log.ErrorContext(ctx, "muc: cannot archive a message", "room", rm.jid, "err", err)
	}
}

// loadHistory fills a persistent room just loaded from storage with the
// newest messages of its archive, so that the discussion history new
// occupants get survives restarts. The room is not published yet.
func (m *Module) loadHistory(ctx context.Context, rm *room) {
	if !m.archiving(rm) || rm.cfg.MaxHistory <= 0 {
		return
	}
	page, err := m.archives.QueryArchive(ctx, rm.jid, storage.ArchiveQuery{Last: true, Index: -1, Max: rm.cfg.MaxHistory})
	if err != nil {
		m.log.ErrorContext(ctx, "muc: cannot read the room's archive for its history", "room", rm.jid, "err", err)
		return
	}
	for _, am := range page.Messages {
		el, err := stream.ParseElement(am.Stanza, stream.DefaultLimits())
		if err != nil {
			m.log.WarnContext(ctx, "muc: archived message unreadable", "room", rm.jid, "id", am.ID, "err", err)
			continue
		}
		rm.hist.add(delayed(el, rm.jid.String(), am.At), am.At)
	}
}

// mayReadArchive applies the room's configuration to a request for its
// archive: whoever may enter an open room may read it; only members (and
// above) that of a members-only room; only occupants that of a
// password-protected room. The caller holds rm.mu.
func (m *Module) mayReadArchive(rm *room, from jid.JID) error {
	aff := m.affiliation(rm, from)
	switch {
	case !m.archiving(rm):
		return stanza.Errorf(stanza.ServiceUnavailable, "this room keeps no archive")
	case rm.locked && aff != affOwnerVal:
		return stanza.Errorf(stanza.ItemNotFound, "no such room")
	case aff == affOutcastVal:
		return &stanza.Error{Type: stanza.ErrAuth, Condition: stanza.Forbidden, Text: "you are banned from this room"}
	case rm.cfg.MembersOnly && aff < affMemberVal:
		return &stanza.Error{Type: stanza.ErrAuth, Condition: stanza.Forbidden, Text: "only members may read the archive of a members-only room"}
	case rm.cfg.Protected && aff < affOwnerVal && rm.real[from] == nil:
		return &stanza.Error{Type: stanza.ErrAuth, Condition: stanza.Forbidden, Text: "only occupants may read the archive of a password-protected room"}
	}
	return nil
}

// archiveIQ serves a XEP-0313 request to the room (q in urn:xmpp:mam:2).
// It is called with rm locked and releases it: the query runs and its
// results are routed with no lock held.
func (m *Module) archiveIQ(ctx context.Context, rm *room, p *module.Packet, q *stanza.Element) {
	st := p.Stanza
	if err := m.mayReadArchive(rm, p.From); err != nil {
		m.replyErrIn(rm, st, err)
		m.release(ctx, rm)
		return
	}
	owner := rm.jid
	switch st.Type() + " " + q.Name.Local {
	case "get query":
		r := stanza.Result(st, mam.QueryForm())
		rm.post(r, approxSize(r))
		m.release(ctx, rm)
	case "get metadata":
		m.release(ctx, rm)
		first, last, ok, err := m.archives.ArchiveBounds(ctx, owner)
		if err != nil {
			m.replyErr(ctx, st, fmt.Errorf("muc: archive metadata of %s: %w", owner, err))
			return
		}
		var md mam.Metadata
		if ok {
			md.Start = mam.Bound{ID: first.ID, Stamp: first.At}
			md.End = mam.Bound{ID: last.ID, Stamp: last.At}
		}
		m.route(ctx, stanza.Result(st, md.Element()))
	case "set query":
		m.release(ctx, rm)
		mq, err := mam.ParseQuery(q)
		if err != nil {
			m.replyErr(ctx, st, err)
			return
		}
		sq := archive.StorageQuery(mq, archivePage)
		page, err := archive.Run(ctx, m.archives, owner, sq)
		if err != nil {
			m.replyErr(ctx, st, err)
			return
		}
		if p.Origin != nil {
			page = archive.FitBacklog(page, p.Origin, sq.Last)
		}
		for _, am := range archive.Ordered(page, mq.FlipPage) {
			out, err := archive.Result(am, mq.QueryID, owner.String(), p.From.String())
			if err != nil {
				m.log.ErrorContext(ctx, "muc: archived message unreadable", "room", owner, "id", am.ID, "err", err)
				continue
			}
			m.route(ctx, out)
		}
		m.route(ctx, stanza.Result(st, archive.Fin(page)))
	default:
		m.replyErrIn(rm, st, stanza.Err(stanza.ServiceUnavailable))
		m.release(ctx, rm)
	}
}

// purgeEvery is how often the room archives' retention runs.
const purgeEvery = time.Hour

// Start implements module.Starter: with Options.ArchiveRetention, it
// purges the room archives of messages past it, now and every hour, until
// ctx ends (shutdown waits for it, module.Host.Go).
func (m *Module) Start(ctx context.Context) error {
	if m.cl != nil && m.opts.Prefix != "-" {
		m.host.Go(m.runSaver)
	}
	if m.opts.ArchiveRetention <= 0 || m.archives == nil || m.opts.Prefix == "-" {
		return nil
	}
	rw, ok := m.archives.(storage.ArchiveRewriter)
	if !ok {
		m.log.Warn("muc: the archive store cannot purge one archive; modules.muc.archive_retention_days has no effect")
		return nil
	}
	m.host.Go(func(context.Context) {
		t := time.NewTicker(purgeEvery)
		defer t.Stop()
		for {
			m.purgeArchives(ctx, rw)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
	return nil
}

// purgeArchives deletes what is past the retention from every stored
// room's archive. Loaded rooms keep their history in memory (bounded).
func (m *Module) purgeArchives(ctx context.Context, rw storage.ArchiveRewriter) {
	rooms, err := m.store.MUCRooms(ctx, "")
	if err != nil {
		if ctx.Err() == nil {
			m.log.Error("muc: archive retention: cannot list the rooms", "err", err)
		}
		return
	}
	before := m.host.Now().Add(-m.opts.ArchiveRetention)
	var total int64
	for _, r := range rooms {
		n, err := rw.PurgeArchive(ctx, r.JID, before)
		if err != nil {
			if ctx.Err() == nil {
				m.log.Error("muc: archive retention failed", "room", r.JID, "err", err)
			}
			return
		}
		total += n
	}
	if total > 0 {
		m.log.Info("muc: archive retention", "deleted", total, "rooms", len(rooms))
	}
}

// forgetArchive deletes a room's archive (the room is destroyed, or no
// longer persistent). The caller holds rm.mu.
func (m *Module) forgetArchive(ctx context.Context, rm *room) {
	if m.archives == nil {
		return
	}
	if err := m.archives.DeleteArchive(ctx, rm.jid); err != nil {
		m.log.ErrorContext(ctx, "muc: cannot delete the room's archive", "room", rm.jid, "err", err)
	}
	m.writer.Forget(rm.jid)
}
