// Package client is an XMPP client library: it connects to a server,
// negotiates the stream (RFC 6120: STARTTLS or XEP-0368 direct TLS, SASL
// with channel binding, resource binding) and then exchanges stanzas.
//
// It is used by the parley CLI and, heavily, by Parley's integration tests,
// so it favours convenience and observability over cleverness:
//
//   - [Dial] performs the whole negotiation and returns a ready [Client].
//   - [Client.Send] and [Client.SendRaw] write a stanza or arbitrary bytes.
//   - [Client.SendIQ] sends a get/set IQ and waits for the matching reply
//     from the addressed entity; an error reply is returned as a
//     *stanza.Error.
//   - [Client.Handle] registers handlers; IQ requests nobody handles are
//     answered with service-unavailable (RFC 6120 §8.4) and unhandled
//     messages and presences are queued for [Client.Recv].
//   - [Client.Done] and [Client.Err] report why the stream ended: a
//     *stream.Error sent by the server, an I/O error or [ErrClosed].
//
// Instead of TCP, the stream may run over XMPP over WebSocket (RFC 7395,
// [Config.WebSocket]) or BOSH (XEP-0124 and XEP-0206, [Config.BOSH]), the
// negotiation unchanged; a BOSH session the server terminates with a
// binding condition ends the stream with a *[BOSHError], and a WebSocket
// stream the server closes naming another endpoint with a
// *[SeeOtherURIError]. The client does not follow either by itself.
//
// Authentication failures are reported as *[AuthError], which carries the
// RFC 6120 §6.5 failure condition.
//
// Channel binding: on TLS 1.3 the tls-exporter binding (RFC 9266) is
// offered, and tls-server-end-point (RFC 5929) always on TLS; the types the
// server advertises with XEP-0440 restrict the choice, and the SCRAM client
// verifies the XEP-0474 downgrade-protection hash when the server sends one.
package client
