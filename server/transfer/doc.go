// Package transfer moves a Parley data set between backends and to and
// from XEP-0227 (Portable Import/Export Format for XMPP-IM Servers) files.
//
// It works only through the storage interfaces (storage.Stores, with
// storage.Importer and storage.Lister), so every backend is handled alike.
// The per-store reading and writing of one account (ReadAccount,
// WriteAccount), of a publish-subscribe service (ReadService,
// WriteService) and the paging of archives are shared by the three users
// of this package: Copy (parley migrate), Export and Import (parley export
// and parley import).
//
// # XEP-0227
//
// Export writes one <host/> per domain and one <user/> per account with
// the SCRAM credentials (urn:xmpp:pie:0#scram), the roster
// (jabber:iq:roster, with the RFC 6121 approved attribute for
// pre-approvals and the roster version in ver), pending subscription
// requests (<presence type='subscribe'/>, with a delay giving their time),
// offline messages, the vCard, private XML (jabber:iq:private), PEP nodes
// (pubsub#owner configuration, affiliations and subscriptions, and pubsub
// items) and the message archive (urn:xmpp:pie:0#mam), as XEP-0227 1.1
// defines them. Data the XEP does not cover travels in elements of the
// namespace NS, which other servers ignore: the block list (as XEP-0191's
// <blocklist/>), the archiving preferences (XEP-0441's <prefs/>), the
// disabled flag, last activity, push registrations and FAST tokens of an
// account, item publishers and times, node creation times, and, after the
// hosts, publish-subscribe services, invitations and persistent
// multi-user chat rooms (<muc-room/>: configuration form, subject,
// affiliations).
//
// Import reads such files as written by Parley, Prosody (prosody-migrator
// to the xep0227 store) and ejabberd (ejabberdctl export_piefxis),
// following XInclude <include href/> children of <server-data/> and
// <host/> as XEP-0227 §5 requires. A plaintext password attribute is
// turned into SCRAM keys and never stored. Unknown elements are skipped
// and counted. The reader and the writer stream: one account's data is
// held in memory at a time, except its archive, which is paged.
//
// An import is one transaction of the target (storage.Transactor): on any
// error — a malformed dump, a storage failure — nothing of it is stored.
// Without the force option, records that already exist (accounts, pubsub
// services, invitations, rooms) do not stop it at the first one: the rest
// of the dump is read for more, and the import fails with a
// *ConflictError naming the first 20 and counting them all.
//
// References: XEP-0227 1.1; RFC 6121 §2 (roster); XEP-0313, XEP-0441
// (archives); XEP-0060, XEP-0163 (pubsub, PEP); XEP-0191 (blocking).
package transfer
