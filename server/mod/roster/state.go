package roster

import (
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// State is the subscription state between a user and one contact, from
// the user's point of view (RFC 6121 Appendix A.1): the primary state plus
// its pending sub-states and the pre-approval flag of §3.4.
type State struct {
	Sub         storage.Subscription
	PendingOut  bool // the user asked the contact for a subscription (ask='subscribe')
	PendingIn   bool // the contact asked the user and the user has not answered
	PreApproved bool // the user pre-approved a request from the contact
}

// HasTo reports whether the user is subscribed to the contact's presence.
func (s State) HasTo() bool { return s.Sub == storage.SubTo || s.Sub == storage.SubBoth }

// HasFrom reports whether the contact is subscribed to the user's presence.
func (s State) HasFrom() bool { return s.Sub == storage.SubFrom || s.Sub == storage.SubBoth }

// visible reports the part of the state a roster item shows.
func (s State) visible() State { s.PendingIn = false; return s }

func (s State) withTo(on bool) State {
	switch {
	case on && s.Sub == storage.SubNone:
		s.Sub = storage.SubTo
	case on && s.Sub == storage.SubFrom:
		s.Sub = storage.SubBoth
	case !on && s.Sub == storage.SubTo:
		s.Sub = storage.SubNone
	case !on && s.Sub == storage.SubBoth:
		s.Sub = storage.SubFrom
	}
	return s
}

func (s State) withFrom(on bool) State {
	switch {
	case on && s.Sub == storage.SubNone:
		s.Sub = storage.SubFrom
	case on && s.Sub == storage.SubTo:
		s.Sub = storage.SubBoth
	case !on && s.Sub == storage.SubFrom:
		s.Sub = storage.SubNone
	case !on && s.Sub == storage.SubBoth:
		s.Sub = storage.SubTo
	}
	return s
}

// Outcome is what the server does after a subscription stanza.
type Outcome struct {
	// State is the new state.
	State State
	// Route: for an outbound stanza, route it to the contact; for an
	// inbound one, deliver it to the user (RFC 6121 Appendix A "Route?"
	// and "Deliver?" columns).
	Route bool
	// Push: the roster item changed (subscription, ask or approved) and
	// is pushed to the user's interested resources.
	Push bool
	// AutoReply is a presence type the user's server sends back to the
	// contact on the user's behalf ("subscribed"), or "".
	AutoReply string
	// SendPresence: the contact just gained a subscription to the user;
	// the current presence of the user's available resources is sent to
	// it (RFC 6121 §3.1.5).
	SendPresence bool
	// SendUnavailable: the contact just lost its subscription to the
	// user; unavailable presence is sent to it from the user's available
	// resources (RFC 6121 §3.2.2, §3.3.3).
	SendUnavailable bool
}

// Outbound applies a subscription stanza of type typ that the user sends
// to the contact (RFC 6121 Appendix A.2, and §3.4 for pre-approval). ok is
// false for a type that is not a subscription type.
func Outbound(s State, typ string) (o Outcome, ok bool) {
	n := s
	switch typ {
	case stanza.TypeSubscribe:
		// A.2.1: not routed when the user is already subscribed.
		if !s.HasTo() {
			o.Route = true
			n.PendingOut = true
		}
	case stanza.TypeUnsubscribe:
		// A.2.2: always routed; the 'to' half and pending-out end.
		o.Route = true
		n = n.withTo(false)
		n.PendingOut = false
	case stanza.TypeSubscribed:
		switch {
		case s.PendingIn:
			// A.2.3: approving a pending request.
			o.Route = true
			n.PendingIn = false
			n.PreApproved = false
			n = n.withFrom(true)
			o.SendPresence = true
		case s.HasFrom():
			// Already approved: silently ignored.
		default:
			// §3.4.1: None, None + Pending Out and To note a pre-approval.
			n.PreApproved = true
		}
	case stanza.TypeUnsubscribed:
		// A.2.4: refuse a pending request or cancel the contact's
		// subscription; either way a pre-approval is withdrawn.
		n.PreApproved = false
		if s.PendingIn {
			o.Route = true
			n.PendingIn = false
		}
		if s.HasFrom() {
			o.Route = true
			n = n.withFrom(false)
			o.SendUnavailable = true
		}
	default:
		return Outcome{State: s}, false
	}
	o.State = n
	o.Push = n.visible() != s.visible()
	return o, true
}

// Inbound applies a subscription stanza of type typ that the contact sent
// to the user (RFC 6121 Appendix A.3, and §3.4 for pre-approval). ok is
// false for a type that is not a subscription type.
func Inbound(s State, typ string) (o Outcome, ok bool) {
	n := s
	switch typ {
	case stanza.TypeSubscribe:
		switch {
		case s.HasFrom():
			// A.3.1: already subscribed; the server answers for the user.
			o.AutoReply = stanza.TypeSubscribed
		case s.PendingIn:
			// A.3.1: a duplicate request is not delivered again.
		case s.PreApproved:
			// §3.4.2: approved without asking the user.
			o.AutoReply = stanza.TypeSubscribed
			n.PreApproved = false
			n = n.withFrom(true)
			o.SendPresence = true
		default:
			o.Route = true
			n.PendingIn = true
		}
	case stanza.TypeUnsubscribe:
		// A.3.2: the contact withdraws a request or ends its subscription.
		if s.PendingIn {
			o.Route = true
			n.PendingIn = false
		}
		if s.HasFrom() {
			o.Route = true
			n = n.withFrom(false)
			o.SendUnavailable = true
		}
	case stanza.TypeSubscribed:
		// A.3.3: only an answer to the user's own request counts.
		if s.PendingOut {
			o.Route = true
			n.PendingOut = false
			n = n.withTo(true)
		}
	case stanza.TypeUnsubscribed:
		// A.3.4: the contact refuses the request or cancels the user's
		// subscription.
		if s.PendingOut || s.HasTo() {
			o.Route = true
			n.PendingOut = false
			n = n.withTo(false)
		}
	default:
		return Outcome{State: s}, false
	}
	o.State = n
	o.Push = n.visible() != s.visible()
	return o, true
}

// IsSubscriptionType reports whether typ is one of the four presence types
// that manage subscriptions.
func IsSubscriptionType(typ string) bool {
	switch typ {
	case stanza.TypeSubscribe, stanza.TypeSubscribed, stanza.TypeUnsubscribe, stanza.TypeUnsubscribed:
		return true
	}
	return false
}
