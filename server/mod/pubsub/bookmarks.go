package pubsub

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/jid"
	xpubsub "github.com/parley-xmpp/parley/xmpp/pubsub"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// Namespaces of XEP-0402, XEP-0048 and XEP-0049.
const (
	nsBookmarks       = "urn:xmpp:bookmarks:1"
	nsBookmarksCompat = nsBookmarks + "#compat"
	nsLegacyBookmarks = "storage:bookmarks"
	nsPrivate         = "jabber:iq:private"
	// privateKey is the storage.Private key of <storage xmlns='storage:bookmarks'/>.
	privateKey = nsLegacyBookmarks + " storage"
)

// bookmarksConfig is the node configuration XEP-0402 §5 requires.
func bookmarksConfig(c *xpubsub.Config) {
	c.PersistItems = true
	c.MaxItems = xpubsub.MaxItemsMax
	c.AccessModel = xpubsub.AccessWhitelist
	c.SendLastPublishedItem = xpubsub.SendNever
}

// afterPublish runs the PEP conversions after an item was published.
func (m *Module) afterPublish(ctx context.Context, owner jid.JID, node string, it xpubsub.Item) {
	var err error
	switch node {
	case nsAvatarMetadata:
		err = m.metadataToVCard(ctx, owner, it)
	case nsBookmarks:
		err = m.bookmarksToPrivate(ctx, owner)
	}
	if err != nil {
		m.log.ErrorContext(ctx, "pubsub: conversion after publish", "user", owner, "node", node, "err", err)
	}
}

// afterRetract runs the PEP conversions after items were removed.
func (m *Module) afterRetract(ctx context.Context, owner jid.JID, node string) {
	if node != nsBookmarks {
		return
	}
	if err := m.bookmarksToPrivate(ctx, owner); err != nil {
		m.log.ErrorContext(ctx, "pubsub: bookmarks to private storage", "user", owner, "err", err)
	}
}

// bookmarksToPrivate rewrites the XEP-0048 bookmarks in private storage
// from the XEP-0402 items, keeping the <url/> bookmarks XEP-0402 dropped.
func (m *Module) bookmarksToPrivate(ctx context.Context, owner jid.JID) error {
	if ctx.Value(keyFromPrivate) != nil || m.stores.Private == nil {
		return nil
	}
	out := stanza.New(nsLegacyBookmarks, "storage")
	if b, err := m.stores.Private.PrivateXML(ctx, owner, privateKey); err == nil {
		if old, err := stream.ParseElement(b, stream.DefaultLimits()); err == nil {
			out.Append(old.ChildrenNamed(nsLegacyBookmarks, "url")...)
		}
	} else if !errNotFound(err) {
		return fmt.Errorf("pubsub: private bookmarks of %s: %w", owner, err)
	}
	items, err := m.stores.PubSub.PubSubItems(ctx, owner, nsBookmarks, 0)
	if err != nil {
		return fmt.Errorf("pubsub: bookmarks of %s: %w", owner, err)
	}
	slices.Reverse(items)
	for _, s := range items {
		it, err := decodeItem(s)
		if err != nil || it.Payload == nil || it.Payload.Name.Space != nsBookmarks {
			continue
		}
		c := it.Payload
		conf := stanza.New(nsLegacyBookmarks, "conference", "jid", it.ID)
		conf.Set("name", c.Get("name"))
		if auto, _ := form.ParseBool(c.Get("autojoin")); auto {
			conf.Set("autojoin", "true")
		}
		if nick := c.ChildText(nsBookmarks, "nick"); nick != "" {
			conf.Append(stanza.New(nsLegacyBookmarks, "nick").AppendText(nick))
		}
		if pw := c.ChildText(nsBookmarks, "password"); pw != "" {
			conf.Append(stanza.New(nsLegacyBookmarks, "password").AppendText(pw))
		}
		out.Append(conf)
	}
	if err := m.stores.Private.SetPrivateXML(ctx, owner, privateKey, out.Bytes()); err != nil {
		return fmt.Errorf("pubsub: private bookmarks of %s: %w", owner, err)
	}
	return nil
}

// privateToPEP mirrors XEP-0048 bookmarks being stored in private storage
// into the XEP-0402 node: changed conferences are published, vanished
// ones retracted. The private module stores the XML itself.
func (m *Module) privateToPEP(ctx context.Context, owner jid.JID, st *stanza.Element) error {
	ctx = context.WithValue(ctx, keyFromPrivate, true)
	rq := &request{svc: owner, pep: true, from: owner}
	if err := m.ensureNode(ctx, rq, nsBookmarks, bookmarksConfig); err != nil {
		return err
	}
	stored, err := m.stores.PubSub.PubSubItems(ctx, owner, nsBookmarks, 0)
	if err != nil {
		return fmt.Errorf("pubsub: bookmarks of %s: %w", owner, err)
	}
	old := map[string]*stanza.Element{}
	for _, s := range stored {
		if it, err := decodeItem(s); err == nil && it.Payload != nil {
			old[it.ID] = it.Payload
		}
	}
	keep := map[string]bool{}
	for _, c := range st.ChildrenNamed(nsLegacyBookmarks, "conference") {
		room, err := jid.Parse(c.Get("jid"))
		if err != nil {
			continue
		}
		id := room.String()
		keep[id] = true
		conf := stanza.New(nsBookmarks, "conference")
		conf.Set("name", c.Get("name"))
		if auto, _ := form.ParseBool(c.Get("autojoin")); auto {
			conf.Set("autojoin", "true")
		}
		if nick := c.ChildText(nsLegacyBookmarks, "nick"); nick != "" {
			conf.Append(stanza.New(nsBookmarks, "nick").AppendText(nick))
		}
		if pw := c.ChildText(nsLegacyBookmarks, "password"); pw != "" {
			conf.Append(stanza.New(nsBookmarks, "password").AppendText(pw))
		}
		if prev := old[id]; prev != nil {
			// XEP-0402 §3: <extensions/> must survive edits.
			conf.Append(prev.Child(nsBookmarks, "extensions"))
			if bytes.Equal(prev.Bytes(), conf.Bytes()) {
				continue
			}
		}
		if _, err := m.doPublish(ctx, rq, nsBookmarks, xpubsub.Item{ID: id, Payload: conf}, nil); err != nil {
			return err
		}
	}
	var gone []string
	for id := range old {
		if !keep[id] {
			gone = append(gone, id)
		}
	}
	if len(gone) == 0 {
		return nil
	}
	slices.Sort(gone)
	retract := stanza.New(xpubsub.NS, "retract", "node", nsBookmarks, "notify", "true")
	for _, id := range gone {
		retract.Append(stanza.New(xpubsub.NS, "item", "id", id))
	}
	_, err = m.retract(ctx, rq, retract)
	return err
}

// outboundIQ watches the requests of local sessions that feed the
// conversions: vCard sets (XEP-0398) and private bookmark sets
// (XEP-0402 #compat). It never consumes the request.
func (m *Module) outboundIQ(ctx context.Context, p *module.Packet) module.Verdict {
	st := p.Stanza
	if st.Type() != stanza.TypeSet || (!p.To.IsZero() && p.To != p.From.Bare()) {
		return module.Continue
	}
	pl := st.Payload()
	if pl == nil {
		return module.Continue
	}
	owner := p.From.Bare()
	var err error
	switch {
	case pl.Name.Space == nsVCard && pl.Name.Local == "vCard":
		err = m.vcardToPEP(ctx, owner, pl)
	case pl.Name.Space == nsPrivate && pl.Name.Local == "query":
		if bm := pl.Child(nsLegacyBookmarks, "storage"); bm != nil {
			err = m.privateToPEP(ctx, owner, bm)
		}
	}
	if err != nil {
		m.log.ErrorContext(ctx, "pubsub: conversion", "user", owner, "payload", pl.Name.Space, "err", err)
	}
	return module.Continue
}
