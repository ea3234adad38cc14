// Package tlsrec serves the server side of a TLS connection whose
// handshake crypto/tls performs, and then, for TLS 1.3, takes over the
// record layer itself (RFC 8446 §5) so that an idle connection holds no
// buffers and no cipher state.
//
// Why: crypto/tls keeps, for the life of a connection, an input buffer
// grown for the largest record it has seen (the ClientHello, several KiB
// with a post-quantum key share; golang/go#43563) and both directions'
// AEAD states. On a server holding tens of thousands of idle client
// sessions that is most of the memory of a session. Here, once the
// handshake is done, a connection keeps only its two traffic secrets and
// sequence numbers; read and write buffers come from pools while data is
// moving, and the AEADs are rebuilt from the secrets when a parked
// connection wakes (see [Conn.Park]).
//
// The handshake is crypto/tls's, unchanged: certificates, key exchange,
// session tickets and ALPN behave as configured. To take over at the
// right byte, the connection handed to crypto/tls delivers input one
// record at a time, so crypto/tls never reads past the client's Finished
// message; the traffic secrets come from the per-connection key log
// (tls.Config.KeyLogWriter) of a configuration cloned for each handshake.
// TLS 1.2 connections stay with crypto/tls for their whole life.
//
// Two behaviours of crypto/tls used here are not part of its API: the
// application traffic secrets reach the key log before the handshake
// returns, and a server sends at most one session ticket, as the last
// record of its handshake. TestCryptoTLSAssumptions checks both; should a
// Go release change them, [RecordLayerGo] (tls.record_layer: go in the
// configuration) keeps crypto/tls for whole connections.
//
// The record layer implements what a TLS 1.3 server receives and sends
// after the handshake: protected application data, alerts (close_notify
// ends the input; any other alert is an error), KeyUpdate in both
// directions (an update_requested from the peer is answered before the
// next record is sent), record padding, zero-length records within a
// limit, and the alerts RFC 8446 requires on bad input (bad_record_mac,
// record_overflow, unexpected_message, decode_error).
//
// A [Listener] serves listeners whose connections go to another server
// first (net/http on an https listener): each [ServerConn] runs its
// handshake on its first read or write, as crypto/tls's listener does,
// and can later be parked by whoever takes the connection over (an
// upgraded WebSocket).
package tlsrec
