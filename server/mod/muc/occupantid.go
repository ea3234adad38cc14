package muc

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"

	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// nsOccupantID is XEP-0421's namespace (Anonymous unique occupant
// identifiers).
const nsOccupantID = "urn:xmpp:occupant-id:0"

// cfgOccupantKey is the key of a room's occupant-id secret among its
// stored configuration values; it is not a form field and never shown.
const cfgOccupantKey = "parley#occupant_id_key"

// occupantKeySize is the size of a room's occupant-id secret.
const occupantKeySize = 32

// newOccupantKey returns a fresh random occupant-id secret.
func newOccupantKey() []byte {
	k := make([]byte, occupantKeySize)
	_, _ = rand.Read(k) // crypto/rand.Read never fails
	return k
}

// occupantID is the XEP-0421 identifier of an account in the room: an
// HMAC-SHA-256, under the room's own random secret, of the room's JID and
// the account's bare JID. It is stable (the secret of a persistent room is
// stored with its configuration), and neither reveals the account nor
// links it across rooms (every room has its own secret).
func (rm *room) occupantID(bare jid.JID) string {
	mac := hmac.New(sha256.New, rm.occKey)
	mac.Write([]byte(rm.jid.String()))
	mac.Write([]byte{0})
	mac.Write([]byte(bare.Bare().String()))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:20])
}

// occupantIDElement is the <occupant-id/> of an occupant.
func occupantIDElement(id string) *stanza.Element {
	return stanza.New(nsOccupantID, "occupant-id", "id", id)
}

// encodeKey and decodeKey store the secret among the configuration values.
func encodeKey(k []byte) []string { return []string{base64.StdEncoding.EncodeToString(k)} }

func decodeKey(v []string) ([]byte, bool) {
	if len(v) != 1 {
		return nil, false
	}
	k, err := base64.StdEncoding.DecodeString(v[0])
	if err != nil || len(k) != occupantKeySize {
		return nil, false
	}
	return k, true
}
