package pubsub

import (
	"bytes"
	"context"
	"crypto/sha1" // XEP-0084 §4.2 and XEP-0153 §3.1 name SHA-1 for avatar ids.
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	_ "image/gif"  // decoders for the avatar's width and height
	_ "image/jpeg" // (XEP-0084 §4.2.1)
	_ "image/png"
	"strconv"
	"strings"
	"sync"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/xmpp/jid"
	xpubsub "github.com/parley-xmpp/parley/xmpp/pubsub"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// Namespaces of XEP-0084, XEP-0054, XEP-0153 and XEP-0398.
const (
	nsAvatarData         = "urn:xmpp:avatar:data"
	nsAvatarMetadata     = "urn:xmpp:avatar:metadata"
	nsVCard              = "vcard-temp"
	nsVCardUpdate        = "vcard-temp:x:update"
	nsPEPVCardConversion = "urn:xmpp:pep-vcard-conversion:0"
)

type ctxKey uint8

const (
	keyFromVCard ctxKey = iota + 1
	keyFromPrivate
)

// avatarCache holds the XEP-0153 hash of each account's vCard photo
// ("" for none), loaded on first use.
type avatarCache struct {
	mu     sync.Mutex
	hashes map[jid.JID]string
}

func newAvatarCache() *avatarCache { return &avatarCache{hashes: make(map[jid.JID]string)} }

func (c *avatarCache) set(user jid.JID, hash string) {
	c.mu.Lock()
	c.hashes[user] = hash
	c.mu.Unlock()
}

func (c *avatarCache) forget(user jid.JID) {
	c.mu.Lock()
	delete(c.hashes, user)
	c.mu.Unlock()
}

// avatarHash returns the hash of user's vCard photo.
func (m *Module) avatarHash(ctx context.Context, user jid.JID) (string, error) {
	m.avatars.mu.Lock()
	h, ok := m.avatars.hashes[user]
	m.avatars.mu.Unlock()
	if ok {
		return h, nil
	}
	v, err := m.loadVCard(ctx, user)
	if err != nil {
		return "", err
	}
	h = ""
	if data, _, ok := vcardPhoto(v); ok {
		h = sha1Hex(data)
	}
	m.avatars.set(user, h)
	return h, nil
}

func sha1Hex(b []byte) string {
	s := sha1.Sum(b)
	return hex.EncodeToString(s[:])
}

// loadVCard returns user's stored vCard, or an empty one.
func (m *Module) loadVCard(ctx context.Context, user jid.JID) (*stanza.Element, error) {
	if m.stores.VCards == nil {
		return stanza.New(nsVCard, "vCard"), nil
	}
	b, err := m.stores.VCards.VCard(ctx, user)
	if errNotFound(err) {
		return stanza.New(nsVCard, "vCard"), nil
	}
	if err != nil {
		return nil, fmt.Errorf("pubsub: vCard of %s: %w", user, err)
	}
	v, err := stream.ParseElement(b, stream.DefaultLimits())
	if err != nil {
		return nil, fmt.Errorf("pubsub: stored vCard of %s: %w", user, err)
	}
	return v, nil
}

// vcardPhoto returns the decoded BINVAL and TYPE of a vCard's PHOTO.
func vcardPhoto(v *stanza.Element) ([]byte, string, bool) {
	photo := v.Child(nsVCard, "PHOTO")
	if photo == nil {
		return nil, "", false
	}
	data, err := decodeBase64(photo.ChildText(nsVCard, "BINVAL"))
	if err != nil || len(data) == 0 {
		return nil, "", false
	}
	return data, strings.TrimSpace(photo.ChildText(nsVCard, "TYPE")), true
}

func decodeBase64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, s)
	return base64.StdEncoding.DecodeString(s)
}

// injectAvatarHash adds the XEP-0153 hash to an available presence
// (XEP-0398 §3.3) unless the client put a <photo/> in it itself.
func (m *Module) injectAvatarHash(ctx context.Context, p *module.Packet) {
	st := p.Stanza
	if x := st.Child(nsVCardUpdate, "x"); x != nil && x.Child(nsVCardUpdate, "photo") != nil {
		return
	}
	h, err := m.avatarHash(ctx, p.From.Bare())
	if err != nil {
		m.log.ErrorContext(ctx, "pubsub: avatar hash", "user", p.From.Bare(), "err", err)
		return
	}
	if h == "" {
		return
	}
	st.RemoveChildren(nsVCardUpdate, "x")
	st.Append(stanza.New(nsVCardUpdate, "x").Append(stanza.New(nsVCardUpdate, "photo").AppendText(h)))
}

// metadataToVCard copies a published XEP-0084 avatar into the vCard
// (XEP-0398 §3.1), when its data node is world-readable (§6).
func (m *Module) metadataToVCard(ctx context.Context, owner jid.JID, it xpubsub.Item) error {
	if ctx.Value(keyFromVCard) != nil || it.Payload == nil || m.stores.VCards == nil {
		return nil
	}
	v, err := m.loadVCard(ctx, owner)
	if err != nil {
		return err
	}
	infos := it.Payload.ChildrenNamed(nsAvatarMetadata, "info")
	if len(infos) == 0 {
		// The avatar was disabled (XEP-0084 §4.4).
		if v.RemoveChildren(nsVCard, "PHOTO") > 0 {
			if err := m.stores.VCards.SetVCard(ctx, owner, v.Bytes()); err != nil {
				return fmt.Errorf("pubsub: vCard of %s: %w", owner, err)
			}
		}
		m.avatars.set(owner, "")
		return nil
	}
	var info *stanza.Element
	for _, in := range infos {
		if in.Get("url") == "" {
			info = in
			break
		}
	}
	if info == nil {
		return nil
	}
	rq := &request{svc: owner, pep: true, from: owner}
	dn, err := m.loadNode(ctx, rq, nsAvatarData)
	if err != nil {
		return nil
	}
	if dn.cfg.AccessModel != xpubsub.AccessOpen {
		m.log.DebugContext(ctx, "pubsub: avatar not converted: data node is not open", "user", owner)
		return nil
	}
	id := info.Get("id")
	stored, err := m.stores.PubSub.PubSubItem(ctx, owner, nsAvatarData, id)
	if err != nil {
		if errNotFound(err) {
			return nil
		}
		return fmt.Errorf("pubsub: avatar data of %s: %w", owner, err)
	}
	item, err := decodeItem(stored)
	if err != nil || item.Payload == nil {
		return nil
	}
	data, err := decodeBase64(item.Payload.Text())
	if err != nil || sha1Hex(data) != id {
		m.log.DebugContext(ctx, "pubsub: avatar data does not match its id", "user", owner, "id", id)
		return nil
	}
	typ := info.Get("type")
	if typ == "" {
		typ = "image/png"
	}
	v.RemoveChildren(nsVCard, "PHOTO")
	v.Append(stanza.New(nsVCard, "PHOTO").Append(
		stanza.New(nsVCard, "TYPE").AppendText(typ),
		stanza.New(nsVCard, "BINVAL").AppendText(base64.StdEncoding.EncodeToString(data)),
	))
	if err := m.stores.VCards.SetVCard(ctx, owner, v.Bytes()); err != nil {
		return fmt.Errorf("pubsub: vCard of %s: %w", owner, err)
	}
	m.avatars.set(owner, id)
	return nil
}

// vcardToPEP publishes the PHOTO of a vCard being set as an XEP-0084
// avatar (XEP-0398 §3.2), in open nodes since the vCard is public.
func (m *Module) vcardToPEP(ctx context.Context, owner jid.JID, v *stanza.Element) error {
	data, typ, ok := vcardPhoto(v)
	if !ok {
		m.avatars.set(owner, "")
		return nil
	}
	id := sha1Hex(data)
	if h, _ := m.avatarHash(ctx, owner); h == id {
		if _, err := m.stores.PubSub.PubSubItem(ctx, owner, nsAvatarMetadata, id); err == nil {
			return nil
		}
	}
	if typ == "" {
		typ = "image/png"
	}
	ctx = context.WithValue(ctx, keyFromVCard, true)
	rq := &request{svc: owner, pep: true, from: owner}
	for _, name := range []string{nsAvatarData, nsAvatarMetadata} {
		if err := m.ensureNode(ctx, rq, name, func(c *xpubsub.Config) { c.AccessModel = xpubsub.AccessOpen }); err != nil {
			return err
		}
	}
	b64 := base64.StdEncoding.EncodeToString(data)
	if _, err := m.doPublish(ctx, rq, nsAvatarData, xpubsub.Item{ID: id,
		Payload: stanza.New(nsAvatarData, "data").AppendText(b64)}, nil); err != nil {
		return err
	}
	info := stanza.New(nsAvatarMetadata, "info", "id", id, "bytes", strconv.Itoa(len(data)), "type", typ)
	if cfg, _, err := image.DecodeConfig(bytes.NewReader(data)); err == nil {
		info.Set("width", strconv.Itoa(cfg.Width))
		info.Set("height", strconv.Itoa(cfg.Height))
	}
	if _, err := m.doPublish(ctx, rq, nsAvatarMetadata, xpubsub.Item{ID: id,
		Payload: stanza.New(nsAvatarMetadata, "metadata").Append(info)}, nil); err != nil {
		return err
	}
	m.avatars.set(owner, id)
	return nil
}

// ensureNode creates a PEP node with the defaults changed by tune when
// it does not exist yet.
func (m *Module) ensureNode(ctx context.Context, rq *request, name string, tune func(*xpubsub.Config)) error {
	unlock := m.lock(rq.svc)
	defer unlock()
	_, err := m.loadNode(ctx, rq, name)
	var se *stanza.Error
	if !errors.As(err, &se) || se.Condition != stanza.ItemNotFound {
		return err
	}
	cfg := m.defaults(rq.pep)
	tune(&cfg)
	return m.createNode(ctx, rq, name, cfg)
}
