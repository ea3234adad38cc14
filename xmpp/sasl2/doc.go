// Package sasl2 is XEP-0388 (Extensible SASL Profile, "SASL2"): the
// <authentication/> stream feature with its mechanisms and inline
// features, the <authenticate/> request with its optional initial
// response and <user-agent/>, <challenge/> and <response/>, and the
// <success/> and <failure/> outcomes. It only encodes and decodes; the
// mechanisms themselves are in xmpp/sasl and xmpp/fast, and the exchange
// is driven by the client and server transports.
package sasl2
