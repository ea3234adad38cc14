package muc

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"strings"

	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/muc"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// A room's vCard (XEP-0054 on the room's JID) and its avatar, XEP-0486:
// owners set it, anyone may read it, and the SHA-1 of each PHOTO's image
// (the XEP-0153 hash) is shown in the room's muc#roominfo form as
// muc#roominfo_avatarhash, so that clients find a room's avatar before
// entering it; occupants are told with status 104 that it changed. The
// vCard is part of what a persistent room stores. The room does not send
// the hash in presence from its bare JID: XEP-0486 §5.2 describes that
// older practice and advises against it.

// nsVCard is the vcard-temp namespace and disco feature.
const nsVCard = "vcard-temp"

// cfgVCard is the key of a room's vCard (serialised) among its stored
// configuration values.
const cfgVCard = "parley#vcard"

// DefaultMaxVCardBytes is the default bound on a room's vCard, serialised
// (Options.MaxVCardBytes).
const DefaultMaxVCardBytes = 64 << 10

// fAvatarHash is the muc#roominfo field of XEP-0486.
const fAvatarHash = "muc#roominfo_avatarhash"

// avatarHashes returns the XEP-0153 hash (hex SHA-1 of the decoded
// BINVAL) of each PHOTO of a vCard that has one; an undecodable BINVAL
// is an error.
func avatarHashes(v *stanza.Element) ([]string, error) {
	var out []string
	for _, p := range v.ChildrenNamed(nsVCard, "PHOTO") {
		b64 := p.ChildText(nsVCard, "BINVAL")
		if strings.TrimSpace(b64) == "" {
			continue // an EXTVAL, or nothing: no image to hash
		}
		data, err := base64.StdEncoding.DecodeString(strings.Map(func(r rune) rune {
			if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
				return -1
			}
			return r
		}, b64))
		if err != nil {
			return nil, stanza.Errorf(stanza.BadRequest, "a PHOTO's BINVAL is not base64")
		}
		sum := sha1.Sum(data)
		out = append(out, hex.EncodeToString(sum[:]))
	}
	return out, nil
}

// vcardGet answers a vCard request to the room: its vCard, or an empty
// one when it has none.
func (m *Module) vcardGet(rm *room) *stanza.Element {
	if rm.vcard == nil {
		return stanza.New(nsVCard, "vCard")
	}
	return rm.vcard
}

// vcardSet sets (an empty vCard: removes) the room's vCard: owners only,
// within Options.MaxVCardBytes. Occupants are told the configuration
// changed (status 104).
func (m *Module) vcardSet(ctx context.Context, rm *room, from jid.JID, v *stanza.Element) error {
	if m.affiliation(rm, from) != affOwnerVal {
		return forbidden("only owners set the room's vCard and avatar")
	}
	var hashes []string
	if len(v.Elements()) == 0 && strings.TrimSpace(v.Text()) == "" {
		v = nil
	} else {
		if n := len(v.Bytes()); n > m.opts.MaxVCardBytes {
			m.log.InfoContext(ctx, "muc: room vCard too large, refused", "room", rm.jid, "from", from, "bytes", n, "max", m.opts.MaxVCardBytes)
			return stanza.Errorf(stanza.NotAcceptable, "vCard larger than %d bytes", m.opts.MaxVCardBytes)
		}
		var err error
		if hashes, err = avatarHashes(v); err != nil {
			m.log.InfoContext(ctx, "muc: room vCard refused", "room", rm.jid, "from", from, "err", err)
			return err
		}
		v = v.Clone()
	}
	rm.vcard, rm.avatars = v, hashes
	m.persist(ctx, rm)
	m.announceConfig(rm, []int{muc.StatusConfigChanged})
	return nil
}

// loadVCard restores a stored room's vCard; a value that does not parse
// is logged and dropped.
func (m *Module) loadVCard(rm *room, vs []string) {
	if len(vs) != 1 || vs[0] == "" {
		return
	}
	v, err := stream.ParseElement([]byte(vs[0]), stream.DefaultLimits())
	if err == nil {
		rm.avatars, err = avatarHashes(v)
	}
	if err != nil {
		m.log.Warn("muc: stored room vCard unreadable, dropped", "room", rm.jid, "err", err)
		rm.avatars = nil
		return
	}
	rm.vcard = v
}
