// Package tcp is the TCP transport of client streams (RFC 6120 §3,
// XEP-0368): a Listener accepts connections, caps the unauthenticated
// ones per client address, and hands each to the stream engine
// (server/stream) as a stream.Transport. The transport runs TLS, at once
// on a direct TLS listener or on STARTTLS (stream.TLSUpgrader), with
// server/tlsrec carrying TLS 1.3 records after crypto/tls's handshake;
// it decodes the stream (xmpp/stream) through a deadline reader that
// enforces the session's time limits and byte rate (idle.go); and it
// parks the reader of an idle session (stream.Parker): on Linux with
// server/poller (park_linux.go), on other Unix systems with a small
// goroutine (park_unix.go), and nowhere else (park_other.go).
package tcp
