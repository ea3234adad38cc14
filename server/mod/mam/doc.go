// Package mam implements Message Archive Management for accounts
// (XEP-0313, urn:xmpp:mam:2 and urn:xmpp:mam:2#extended) with Unique and
// Stable Stanza IDs (XEP-0359) and archiving preferences (XEP-0441).
//
// Every message of type chat or normal with a body (or a XEP-0334 <store/>
// hint, and without <no-store/> or <no-permanent-store/>) that a local
// account sends or receives is archived once for that account: outgoing
// messages in the outbound phase, incoming ones in the inbound phase, so a
// message between two local users lands once in each archive and never
// once per resource. An incoming message is delivered with the
// <stanza-id by='account'/> of its archive entry; a <stanza-id/> claiming a
// local 'by' is removed from every message first, so it cannot be forged.
// Queries page with XEP-0059 over the archive order; preferences decide
// per contact; a retention period, when configured, purges old messages
// periodically.
package mam
