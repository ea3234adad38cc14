// Package muc is the server module for XEP-0045 (Multi-User Chat): each
// served domain gets a chat service at "<prefix>.<domain>" (prefix
// "conference" by default), served as a whole service domain.
//
// Supported: service and room discovery (conference/text identities, the
// muc_* features and the muc#roominfo form); entering rooms with the
// status codes 110, 100, 201 and 210 and the errors XEP-0045 §7.2 names
// (<conflict/>, <not-authorized/>, <registration-required/>,
// <forbidden/>, <service-unavailable/>, <item-not-found/> for a room still
// being created); instant and reserved rooms (muc#owner with a
// muc#roomconfig form, cancel destroys a new room); discussion history
// with maxstanzas, maxchars, seconds and since, stamped with XEP-0203
// delays from the room; groupchat messages reflected to every occupant
// from the sender's occupant JID with their id kept; subject changes as
// the configuration allows; private messages and IQs relayed between
// occupants; nickname and status changes; leaving; roles and affiliations
// (kick, ban, voice, moderator, member, admin, owner and their lists via
// muc#admin, owner and admin lists in the configuration form); moderated,
// members-only, password-protected and size-limited rooms; destruction
// with an alternate venue; mediated invitations and declines (XEP-0045
// §7.8.2; direct invitations, XEP-0249, go from user to user and need no
// service); and XEP-0410 self-pings.
//
// Persistent rooms (muc#roomconfig_persistentroom) keep their
// configuration, subject and affiliations in storage.MUC and are loaded on
// first use after a restart; occupants and history live in memory only.
// A temporary room disappears when its last occupant leaves.
//
// An occupant is removed when its session ends (the presence module sends
// unavailable presence to rooms, which received directed presence, and
// the module's SessionEnded callback catches the rest, with status 333),
// and when its client answers a room stanza with an error (status 333).
//
// Nicknames are compared with RFC 8266's Nickname profile (spaces mapped
// and trimmed, case folded, NFKC, so full-width forms match): "Alice",
// "ALICE" and "alice " are one nickname, and the room shows the enforced
// form, with status 210 when it differs from the one asked for. RFC 8266
// does not map letters of one script to look-alikes of another, and
// neither does the room. One account may hold a nickname from several
// resources (a multi-session nick, XEP-0045 §7.2.8): each gets the room's
// traffic, the others see one occupant, which leaves with its last
// resource.
//
// Concurrency: each room has a mutex held while a stanza to it is
// processed. Nothing is routed under it: what the room sends is queued in
// the room's outbox and routed once the mutex is released, by one
// goroutine at a time, so every occupant sees the room's events in one
// order and a delivery that comes back to the room (a bounced error, a
// stanza another module sends in reaction) never waits for a lock its own
// goroutine holds. The module's own mutex guards the room table and the
// index of rooms per real JID and is never held while taking a room's
// lock. See docs/locks.md.
//
// Bounds: a room's history is bounded in messages (muc#maxhistoryfetch,
// capped by Options.MaxHistory) and in bytes (Options.HistoryBytes); its
// outbox in bytes (Options.QueueBytes), beyond which messages to the room
// are refused with <resource-constraint/> until it drains.
//
// Fan-out: a broadcast builds one prototype stanza (two for presence in a
// semi-anonymous room: with and without the real JID) and gives each
// occupant a shallow copy sharing the prototype's children, differing
// only in its 'to'.
package muc
