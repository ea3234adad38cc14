// Package stanza holds the element tree every XMPP stanza is parsed into,
// its serialiser, typed helpers for the three stanza kinds and the stanza
// errors of RFC 6120 §8.3.
//
// An Element is built by the decoder in xmpp/stream (or by code) and is
// written only by this package's own writer: bytes received from a peer are
// never forwarded, so a parser differential between two implementations
// cannot smuggle markup (CVE-2022-22784).
package stanza
