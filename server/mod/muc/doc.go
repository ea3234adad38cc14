// Package muc is the server module for XEP-0045 (Multi-User Chat): each
// served domain gets a chat service at "<prefix>.<domain>" (prefix
// "conference" by default), served as a whole service domain.
//
// Supported: service and room discovery (conference/text identities, the
// muc_* features, the muc#roominfo form with the owners as contacts in a
// non-anonymous room, and the occupant list as disco#items for occupants
// and for whoever could enter an open public room); entering rooms with the
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
// members-only, password-protected and size-limited rooms; voice requests
// (§7.13: a visitor's muc#request form reaches every moderator as the
// approval form of §8.6, one request per occupant every 30 seconds; a
// moderator's approval grants voice); destruction
// with an alternate venue; mediated invitations and declines (XEP-0045
// §7.8.2; direct invitations, XEP-0249, go from user to user and need no
// service); and XEP-0410 self-pings.
//
// Persistent rooms (muc#roomconfig_persistentroom) keep their
// configuration, subject and affiliations in storage.MUC and are loaded on
// first use after a restart; occupants live in memory only. A temporary
// room disappears when its last occupant leaves. A persistent room
// without occupants leaves memory too (at the end of whatever request
// found it empty) when nothing is lost by it: stored, and its history
// empty or kept in its archive; the next stanza to it loads it again. So
// an idle persistent room costs no memory and no goroutine.
//
// Occupant identifiers (XEP-0421): every presence and groupchat message
// from the room carries the sender's <occupant-id/>, an HMAC-SHA-256 of
// the room's JID and the occupant's real bare JID under a random secret
// of the room's own (stored among a persistent room's configuration
// values, never shown in the form): stable for one account across
// nicknames, resources, visits and restarts, unlinkable across rooms.
// Whatever occupant id a client put in its stanza is replaced.
//
// Every reflected groupchat message carries the room's <stanza-id/>
// (XEP-0359, by the room's JID; one a client forged is removed). A
// persistent room with muc#roomconfig_enablearchiving (on by default,
// Options.NoArchive) appends its messages with a body to its archive in
// storage.Archive, keyed by the room's bare JID, bounded by
// Options.ArchiveQuota and, where the store implements
// storage.ArchiveRewriter, purged past Options.ArchiveRetention; the
// archive is deleted with the room (or when it
// stops being persistent). It answers XEP-0313 queries (urn:xmpp:mam:2,
// with RSM paging, through server/archive, the code the accounts' archive
// uses) from whoever may enter an open room, only members of a
// members-only room, only occupants of a password-protected one. A room
// loaded from storage fills its history from the archive, so the
// discussion history survives restarts.
//
// Retraction (XEP-0424) and moderation (XEP-0425): an occupant retracts
// its own message (a groupchat message with <retract id='stanza-id'/>,
// refused unless the message named carries the sender's occupant id), a
// moderator anyone's (an IQ with <moderate/>, or version 0.2's
// <apply-to/> with urn:xmpp:message-moderate:0 that older clients send;
// the room announces the retraction with <moderated by='its occupant
// JID'/>, in both forms). The retraction goes
// to every occupant and to the archive; the retracted message becomes a
// tombstone (<retracted/>, its contents gone) in the history and, where
// the store implements storage.ArchiveRewriter, in the archive.
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
// Entering a large room (pace.go): a session entering a room of
// paceMinList occupants or more gets the occupant list paced to what it
// takes. The room keeps a lane for it — the list as it stood at entry,
// a compact snapshot whose presences are built only when sent, then
// everything the room sends that session meanwhile, in order — and a
// goroutine routes the lane as the session's backlog drains. Only that
// session's copies wait; the room and other rooms do not. The lane is
// bounded (Options.PacedBytes): past it, or when the session takes
// nothing for a while, the rest goes at once, and a client that does not
// read meets its session's own bound (cut off as a slow consumer).
//
// Bounds: a room's history is bounded in messages (muc#maxhistoryfetch,
// capped by Options.MaxHistory) and in bytes (Options.HistoryBytes); its
// outbox in bytes (Options.QueueBytes), beyond which messages to the room
// are refused with <resource-constraint/> until it drains; what it holds
// for a session whose occupant list is paced by Options.PacedBytes; its
// archive by
// Options.ArchiveQuota; its subject by Options.MaxSubject
// (<not-acceptable/>); each occupant's groupchat messages by a token
// bucket (Options.MessageRate, <resource-constraint/>).
//
// Fan-out: a broadcast builds one prototype stanza (two for presence in a
// semi-anonymous room: with and without the real JID) and gives each
// occupant a shallow copy sharing the prototype's children, differing
// only in its 'to'.
//
// Cluster (cluster.go, with SetCluster): each room is served by the node
// holding its lease; stanzas to it reaching another node are forwarded
// there, and the serving node saves the room's occupants (and a
// temporary room's configuration) for the node that serves it next,
// which rebuilds it and, when the previous node died, announces it
// again to the surviving occupants. Without a cluster this costs
// nothing.
package muc
