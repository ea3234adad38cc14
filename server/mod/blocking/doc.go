// Package blocking is the server module for XEP-0191 (Blocking Command).
//
// Users get their block list, block and unblock JIDs, and unblock all;
// every change is pushed to each of the user's sessions that requested the
// block list (§3.3–§3.5). Blocking a JID sends the user's unavailable
// presence to it, and unblocking sends the user's current presence, in
// both cases only to contacts that may receive the user's presence (roster
// subscription "from" or "both").
//
// Enforcement follows §3.3 and the matching order of §5 (full JID, bare
// JID, domain/resource, domain):
//
//   - Outbound (PhaseOutbound): a stanza a user's session sends to a JID
//     the user blocks is not routed; requests and messages are answered
//     with <not-acceptable/> carrying <blocked
//     xmlns='urn:xmpp:blocking:errors'/>, results and errors are dropped.
//   - Inbound (PhaseInbound): a stanza from a blocked JID is never
//     delivered: presence is dropped silently, messages and IQ get/set are
//     answered with <service-unavailable/> (so the user appears offline),
//     IQ results and errors are dropped.
//   - Presence the server sends on a local user's behalf (broadcasts,
//     probe answers) to a local contact the user blocks is dropped in the
//     contact's inbound phase, since no outbound hook sees it.
//
// Stanzas between the resources of one account are never blocked. Block
// lists are cached per account and reloaded after every change.
package blocking
