// Package jid implements XMPP addresses (JIDs) as defined by RFC 7622,
// "Extensible Messaging and Presence Protocol (XMPP): Address Format".
//
// A JID has the form [localpart "@"] domainpart ["/" resourcepart]. Parsing
// splits the input at the first '/' (everything after it, including further
// '/' and '@' characters, is the resourcepart) and then at the last '@'
// before that. Each part is then enforced:
//
//   - the localpart with the PRECIS UsernameCaseMapped profile (RFC 8265),
//     additionally rejecting the characters " & ' / : < > @ as required by
//     RFC 7622 §3.3.1;
//   - the domainpart with IDNA2008 (RFC 5890–5893, via UTS #46 lookup
//     mapping) converted to its Unicode form, lower-cased and NFC-normalised,
//     with a single trailing dot removed; IPv4 literals and bracketed IPv6
//     literals are also accepted (IPv6 literals are canonicalised);
//   - the resourcepart with the PRECIS OpaqueString profile (RFC 8265).
//
// Every part must be between 1 and 1023 bytes long after enforcement; an
// absent localpart or resourcepart is allowed, an empty one is not.
//
// A [JID] is a small comparable value holding the already-enforced parts, so
// the == operator (and [JID.Equal]) compares addresses exactly as RFC 7622
// requires. All parse failures wrap [ErrMalformed], which servers map to the
// <jid-malformed/> stanza error.
//
// Inputs made only of printable ASCII that need no mapping take a fast path
// that skips the PRECIS and IDNA machinery while producing identical results.
package jid
