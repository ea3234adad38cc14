// Package c2s is the client-to-server transport of RFC 6120: it accepts TCP
// connections (STARTTLS, or direct TLS per XEP-0368), negotiates the stream
// (TLS, SASL with channel binding per XEP-0440 and downgrade protection per
// XEP-0474, resource binding), then reads stanzas, stamps their 'from' and
// hands them to the router. It knows nothing of features: those are modules.
//
// Each connection is owned by one reader goroutine; a writer goroutine runs
// only while the session's bounded outbound queue has something in it.
package c2s
