// Package roster is the server side of RFC 6121 (XMPP IM): rosters (§2)
// with roster versioning (§2.6, XEP-0237), presence subscriptions (§3)
// with pre-approval (§3.4), and presence exchange (§4): initial presence,
// probes, broadcasts, directed presence and unavailable presence when a
// session ends, gracefully or not.
//
// Rosters and presence share one module because they share one state
// machine: the subscription states of RFC 6121 Appendix A. The machine is
// a pure function (Outbound and Inbound in state.go); the module loads a
// contact's state from storage, applies the function, stores the result and
// carries out what the Outcome says (route or deliver the stanza, push the
// roster item, answer on the user's behalf, send presence).
//
// Locking: every read-modify-write of a user's roster item happens under a
// lock striped by the user's bare JID, and no stanza is routed while that
// lock is held, so two users subscribing to each other at once cannot
// deadlock.
package roster
