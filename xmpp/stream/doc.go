// Package stream reads and writes the XML streams of XMPP.
//
// The Decoder is an incremental, streaming parser for the restricted subset
// of XML that RFC 6120 §11 permits on an XMPP stream (XML 1.0 Fifth Edition
// with Namespaces in XML 1.0, UTF-8 only). It reads the stream header
// (RFC 6120 §4.7) and then returns each top-level child of the stream as a
// namespace-resolved stanza.Element. Anything the restricted profile forbids
// (DTDs, comments, processing instructions, entity references other than the
// five predefined ones) is rejected with <restricted-xml/>, malformed input
// with <not-well-formed/> and oversized input with <policy-violation/>: the
// stream errors of RFC 6120 §4.9.3, all of which are defined here as
// Condition constants.
//
// The decoder never resynchronises after an error, so invalid UTF-8 cannot be
// used to smuggle markup past it (CVE-2022-22784), and it bounds the memory a
// peer can make it hold by Limits.
//
// References: RFC 6120 (XMPP Core) §4 and §11; XML 1.0 Fifth Edition;
// Namespaces in XML 1.0 Third Edition; RFC 3629 (UTF-8).
package stream
