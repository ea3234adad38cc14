package carbons

import (
	"errors"
	"fmt"

	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// Namespaces used by carbons.
const (
	// NS is the Message Carbons namespace (XEP-0280).
	NS = "urn:xmpp:carbons:2"
	// NSRules is the feature promising the rules of XEP-0280 §6.1.
	NSRules = "urn:xmpp:carbons:rules:0"
	// NSForward is the Stanza Forwarding namespace (XEP-0297).
	NSForward = "urn:xmpp:forward:0"
	// NSHints is the Message Processing Hints namespace (XEP-0334).
	NSHints = "urn:xmpp:hints"

	nsReceipts   = "urn:xmpp:receipts"
	nsChatStates = "http://jabber.org/protocol/chatstates"
	nsMarkers    = "urn:xmpp:chat-markers:0"
	nsConference = "jabber:x:conference"
	nsMUCUser    = "http://jabber.org/protocol/muc#user"
)

// Direction says whether a carbon copies a message the account sent or
// one it received.
type Direction uint8

// Directions, named after the wrapper element.
const (
	Sent Direction = iota + 1
	Received
)

// String returns the wrapper's element name.
func (d Direction) String() string {
	if d == Sent {
		return "sent"
	}
	return "received"
}

// ErrInvalid is wrapped by every decoding error of this package.
var ErrInvalid = errors.New("carbons: invalid carbon")

// Enable returns the <enable/> payload of an IQ set.
func Enable() *stanza.Element { return stanza.New(NS, "enable") }

// Disable returns the <disable/> payload of an IQ set.
func Disable() *stanza.Element { return stanza.New(NS, "disable") }

// Private returns the <private/> element that keeps a message from being
// copied (§7); senders also add [NoCopy].
func Private() *stanza.Element { return stanza.New(NS, "private") }

// NoCopy returns the XEP-0334 <no-copy/> hint.
func NoCopy() *stanza.Element { return stanza.New(NSHints, "no-copy") }

// Eligible applies the rules of §6.1 and §7 to a message the account sent
// (d == Sent) or received (d == Received): never when it carries
// <private/> or <no-copy/>, never for groupchat or errors, nor for a
// private message from a MUC occupant; otherwise chat messages, normal
// messages with a body, messages with receipts, chat states or markers,
// and MUC invitations.
func Eligible(msg *stanza.Element, d Direction) bool {
	if msg.Child(NS, "private") != nil || msg.Child(NSHints, "no-copy") != nil {
		return false
	}
	if msg.Child(NS, "sent") != nil || msg.Child(NS, "received") != nil {
		return false // a carbon itself is never copied again
	}
	typ := msg.MessageType()
	switch typ {
	case stanza.TypeGroupchat, stanza.TypeError:
		return false
	}
	if msg.Child(nsConference, "x") != nil {
		return true // direct MUC invitation (XEP-0249)
	}
	if x := msg.Child(nsMUCUser, "x"); x != nil {
		if x.Child(nsMUCUser, "invite") != nil {
			return true // mediated invitation
		}
		if d == Received {
			return false // the MUC service copies private messages itself
		}
	}
	if typ == stanza.TypeChat {
		return true
	}
	if b := msg.Child("", "body"); typ == stanza.TypeNormal && b != nil && stanza.IsContentNS(b.Name.Space) {
		return true
	}
	for _, c := range msg.Elements() {
		switch c.Name.Space {
		case nsReceipts, nsChatStates, nsMarkers:
			return true
		}
	}
	return false
}

// Wrap returns the carbon of msg for the resource to of the account bare:
// a message from the bare JID, of msg's type, holding <sent/> or
// <received/> around <forwarded/> around msg (§6, §8). msg is not copied:
// the caller must not modify it afterwards.
func Wrap(d Direction, bare, to jid.JID, msg *stanza.Element) *stanza.Element {
	w := stanza.New(stanza.NSClient, "message", "from", bare.Bare().String(), "to", to.String())
	if t := msg.Type(); t != "" {
		w.Set("type", t)
	}
	fw := stanza.New(NSForward, "forwarded").Append(msg)
	return w.Append(stanza.New(NS, d.String()).Append(fw))
}

// Unwrap returns the direction and the forwarded message of a carbon
// received by the account own. It fails unless the carbon comes from
// own's bare JID (§11): anyone else's carbons are forgeries.
func Unwrap(carbon *stanza.Element, own jid.JID) (Direction, *stanza.Element, error) {
	var (
		d Direction
		w *stanza.Element
	)
	if w = carbon.Child(NS, "sent"); w != nil {
		d = Sent
	} else if w = carbon.Child(NS, "received"); w != nil {
		d = Received
	} else {
		return 0, nil, fmt.Errorf("%w: no <sent/> or <received/>", ErrInvalid)
	}
	from, err := jid.Parse(carbon.From())
	if carbon.From() != "" && err != nil {
		return 0, nil, fmt.Errorf("%w: from %q: %w", ErrInvalid, carbon.From(), err)
	}
	if carbon.From() != "" && !from.Equal(own.Bare()) {
		return 0, nil, fmt.Errorf("%w: carbon from %s, not from the account %s", ErrInvalid, carbon.From(), own.Bare())
	}
	fw := w.Child(NSForward, "forwarded")
	if fw == nil {
		return 0, nil, fmt.Errorf("%w: no <forwarded/>", ErrInvalid)
	}
	inner := fw.Child("", "message")
	if inner == nil || !stanza.IsContentNS(inner.Name.Space) {
		return 0, nil, fmt.Errorf("%w: <forwarded/> holds no message", ErrInvalid)
	}
	return d, inner, nil
}
