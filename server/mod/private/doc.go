// Package private is the server module for XEP-0049 (Private XML
// Storage): an account stores arbitrary XML fragments on the server and
// reads them back, each keyed by its root element's namespace and name.
//
// Only the account itself may use its storage (<forbidden/>, the condition
// the XEP prefers). A request without a child element gets <bad-request/>
// (RFC 6120's name for the XEP's "Bad Format"); a get asking for more than
// one element gets <bad-request/> too. Fragments qualified by the
// jabber:iq:private namespace itself or by a stanza content namespace
// (jabber:client, jabber:server, jabber:component:accept), which a
// fragment without its own xmlns inherits, get <not-acceptable/>, as does
// a fragment larger than the module's size limit. A set may carry several
// fragments; all are checked before any is stored. A get for a fragment
// never stored returns the empty element that was asked for.
package private
