package muc

import (
	"context"
	"errors"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/muc"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stanzaid"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// Namespaces of message retraction (XEP-0424), its tombstones, and
// moderation (XEP-0425), and of fallback indication (XEP-0428).
const (
	nsRetract   = "urn:xmpp:message-retract:1"
	nsTombstone = nsRetract + "#tombstone"
	nsModerate  = "urn:xmpp:message-moderate:1"
	nsFallback  = "urn:xmpp:fallback:0"
	// Version 0.2 of XEP-0425, over message fastening (XEP-0422), which
	// clients of before 2023 speak.
	nsModerate0 = "urn:xmpp:message-moderate:0"
	nsRetract0  = "urn:xmpp:message-retract:0"
	nsFasten    = "urn:xmpp:fasten:0"
)

// moderatedBody is the fallback body of a moderator's retraction.
const moderatedBody = "This message was retracted by a moderator."

// retracting returns the <retract/> of a groupchat message, or nil.
func retracting(st *stanza.Element) *stanza.Element { return st.Child(nsRetract, "retract") }

// authorRetract checks an occupant's retraction of its own message
// (XEP-0424 in a room): the message it names by the room's stanza-id must
// be one the same account sent (same occupant id). The caller holds
// rm.mu; on success the caller reflects the retraction and tombstones the
// message (tombstone).
func (m *Module) authorRetract(ctx context.Context, rm *room, o *occupant, r *stanza.Element) error {
	if r.Child(nsModerate, "moderated") != nil {
		return &stanza.Error{Type: stanza.ErrAuth, Condition: stanza.Forbidden, Text: "only the room announces a moderation"}
	}
	orig, err := m.findMessage(ctx, rm, r.Get("id"))
	if err != nil {
		return err
	}
	if senderID(orig) != o.oid {
		return &stanza.Error{Type: stanza.ErrAuth, Condition: stanza.Forbidden, Text: "you may retract only your own messages"}
	}
	return nil
}

// moderateRequest reads a moderation request (the payload of an IQ set
// to the room): XEP-0425's <moderate id='…'/> (urn:xmpp:message-moderate:1)
// or, for older clients, version 0.2's <apply-to id='…'/> (XEP-0422)
// holding <moderate/> in urn:xmpp:message-moderate:0. ok is false when q
// is neither.
func moderateRequest(q *stanza.Element) (id, reason string, ok bool, err error) {
	switch {
	case q.Name.Space == nsModerate && q.Name.Local == "moderate":
		if q.Child(nsRetract, "retract") == nil {
			return "", "", true, stanza.Errorf(stanza.BadRequest, "a moderation holds <retract/>")
		}
		return q.Get("id"), q.ChildText(nsModerate, "reason"), true, nil
	case q.Name.Space == nsFasten && q.Name.Local == "apply-to":
		mod := q.Child(nsModerate0, "moderate")
		if mod == nil || mod.Child(nsRetract0, "retract") == nil {
			return "", "", false, nil
		}
		return q.Get("id"), mod.ChildText(nsModerate0, "reason"), true, nil
	}
	return "", "", false, nil
}

// moderate serves a moderator's request to retract message id (XEP-0425):
// the room announces the retraction to every occupant (and archives the
// announcement), in the current form and in version 0.2's, and the
// message is replaced by a tombstone in the history and the archive. The
// caller holds rm.mu.
func (m *Module) moderate(ctx context.Context, rm *room, from jid.JID, id, reason string) error {
	o := rm.real[from]
	if o == nil || o.role != muc.RoleModerator {
		return &stanza.Error{Type: stanza.ErrAuth, Condition: stanza.Forbidden, Text: "only moderators may retract others' messages"}
	}
	if id == "" {
		return stanza.Errorf(stanza.BadRequest, "a moderation names a message by its stanza-id")
	}
	if _, err := m.findMessage(ctx, rm, id); err != nil {
		return err
	}
	moderated := func() *stanza.Element {
		return stanza.New(nsModerate, "moderated", "by", o.jid.String()).Append(occupantIDElement(o.oid))
	}
	msgID := stanzaid.New()
	retract := stanza.New(nsRetract, "retract", "id", id).Append(moderated())
	if reason != "" {
		retract.Append(stanza.New(nsRetract, "reason").AppendText(reason))
	}
	msg := stanza.New(stanza.NSClient, "message", "type", stanza.TypeGroupchat, "from", rm.jid.String(), "id", msgID)
	sid := stanzaid.New()
	legacy := stanza.New(nsModerate0, "moderated", "by", o.jid.String()).Append(stanza.New(nsRetract0, "retract"))
	if reason != "" {
		legacy.Append(stanza.New(nsModerate0, "reason").AppendText(reason))
	}
	msg.Append(retract,
		stanza.New(nsFasten, "apply-to", "id", id).Append(legacy),
		stanza.New(nsFallback, "fallback", "for", nsRetract),
		stanza.New(stanza.NSClient, "body").AppendText(moderatedBody),
		stanzaid.StanzaID{ID: sid, By: rm.jid.String()}.Element())
	m.reflect(ctx, rm, msg, sid, rm.jid)
	tomb := stanza.New(nsRetract, "retracted", "id", msgID, "stamp", m.host.Now().UTC().Format(time.RFC3339)).Append(moderated())
	if reason != "" {
		tomb.Append(stanza.New(nsRetract, "reason").AppendText(reason))
	}
	m.tombstone(ctx, rm, id, tomb)
	return nil
}

// senderID is the occupant id a message from the room carries.
func senderID(msg *stanza.Element) string {
	if c := msg.Child(nsOccupantID, "occupant-id"); c != nil {
		return c.Get("id")
	}
	return ""
}

// findMessage returns the message of the room with stanza-id id: from the
// history, else from the archive. <item-not-found/> when the room has
// neither. The caller holds rm.mu.
func (m *Module) findMessage(ctx context.Context, rm *room, id string) (*stanza.Element, error) {
	notFound := stanza.Errorf(stanza.ItemNotFound, "no such message in this room")
	if id == "" {
		return nil, notFound
	}
	if i := rm.hist.find(rm.jid.String(), id); i >= 0 {
		return rm.hist.entries[i].msg, nil
	}
	am, err := m.archived(ctx, rm, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, notFound
	}
	if err != nil {
		return nil, err
	}
	return stream.ParseElement(am.Stanza, stream.DefaultLimits())
}

// archived reads one message of the room's archive; ErrNotFound when the
// room keeps no archive or the archive no such message.
func (m *Module) archived(ctx context.Context, rm *room, id string) (storage.ArchivedMessage, error) {
	if !m.archiving(rm) {
		return storage.ArchivedMessage{}, storage.ErrNotFound
	}
	page, err := m.archives.QueryArchive(ctx, rm.jid, storage.ArchiveQuery{IDs: []string{id}, Index: -1, Max: 1})
	if err != nil {
		return storage.ArchivedMessage{}, err
	}
	if len(page.Messages) == 0 {
		return storage.ArchivedMessage{}, storage.ErrNotFound
	}
	return page.Messages[0], nil
}

// tombstone replaces the contents of message id by retracted, in the
// history and in the archive (where the store can rewrite a message).
// Failures are logged: the retraction itself has gone out.
func (m *Module) tombstone(ctx context.Context, rm *room, id string, retracted *stanza.Element) {
	if i := rm.hist.find(rm.jid.String(), id); i >= 0 {
		rm.hist.replace(i, tombstoneOf(rm.hist.entries[i].msg, retracted))
	}
	rw, ok := m.archives.(storage.ArchiveRewriter)
	if !ok || !m.archiving(rm) {
		return
	}
	am, err := m.archived(ctx, rm, id)
	if err != nil {
		if !errors.Is(err, storage.ErrNotFound) {
			m.log.ErrorContext(ctx, "muc: cannot read a retracted message", "room", rm.jid, "id", id, "err", err)
		}
		return
	}
	orig, err := stream.ParseElement(am.Stanza, stream.DefaultLimits())
	if err != nil {
		m.log.ErrorContext(ctx, "muc: archived message unreadable", "room", rm.jid, "id", id, "err", err)
		return
	}
	if err := rw.ReplaceArchived(ctx, rm.jid, id, tombstoneOf(orig, retracted).AppendXML(nil, "")); err != nil {
		m.log.ErrorContext(ctx, "muc: cannot tombstone a retracted message", "room", rm.jid, "id", id, "err", err)
	}
}

// tombstoneOf is msg with its contents replaced by retracted: its
// attributes, occupant id, stanza-ids and delay stay, nothing else.
func tombstoneOf(msg, retracted *stanza.Element) *stanza.Element {
	t := &stanza.Element{Name: msg.Name, Attr: append([]stanza.Attr(nil), msg.Attr...)}
	for _, n := range msg.Children {
		if n.Elem == nil {
			continue
		}
		switch n.Elem.Name.Space {
		case nsOccupantID, stanzaid.NS, muc.NSDelay:
			t.Children = append(t.Children, n)
		}
	}
	return t.Append(retracted)
}
