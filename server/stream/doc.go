// Package stream is the engine of client-to-server streams (RFC 6120),
// whatever carries them: it negotiates the stream (STARTTLS where the
// transport can upgrade, SASL with channel binding per XEP-0440 and
// downgrade protection per XEP-0474, resource binding), then reads
// stanzas, stamps their 'from' and hands them to the router. It knows
// nothing of features: those are modules, except the ones that live on
// the stream itself: Stream Management (XEP-0198: acks, resumption,
// detached sessions; sm.go) and Client State Indication (XEP-0352;
// csi.go).
//
// Before authentication it also offers SASL2 (XEP-0388) with Bind 2
// (XEP-0386) and FAST tokens (XEP-0484) inline, and in-band registration
// (XEP-0077) with invitations (XEP-0401, XEP-0445).
//
// A transport (server/transport/tcp, server/transport/pipe) frames the
// stream over its channel and hands each connection to Server.Accept; the
// engine reads and writes through the Transport interface
// (transport.go) and never sees a socket. Each connection is owned by one
// reader goroutine, which transports that implement Parker let go while
// the session is idle; a writer goroutine runs only while the session's
// bounded outbound queue has something in it.
package stream
