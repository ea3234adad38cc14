// Package sasl implements the SASL mechanisms used by Parley for XMPP
// authentication, for both the receiving (server) and the initiating (client)
// side. The package performs no I/O: each mechanism consumes and produces the
// raw (already base64-decoded) SASL payloads that the XMPP layer carries in
// <auth/>, <challenge/>, <response/> and <success/> elements.
//
// Implemented specifications:
//
//   - RFC 4422: Simple Authentication and Security Layer (framework).
//   - RFC 5802: SCRAM-SHA-1 and SCRAM-SHA-1-PLUS, including GS2 header
//     handling, SASLname escaping and channel binding.
//   - RFC 7677: SCRAM-SHA-256 and SCRAM-SHA-256-PLUS. SCRAM-SHA-512(-PLUS)
//     follows the same construction with SHA-512.
//   - RFC 4616: PLAIN.
//   - RFC 4422 Appendix A: EXTERNAL (minimal), RFC 4505: ANONYMOUS (minimal).
//   - RFC 5929 §4: the tls-server-end-point channel binding (see
//     [EndPointBinding]).
//   - RFC 9266: the tls-exporter channel binding (the caller supplies the
//     exported keying material).
//   - RFC 6120 §6.5: SASL failure conditions (see [Failure]).
//   - XEP-0440: SASL Channel-Binding Type Capability (the advertised types
//     feed channel-binding selection and downgrade protection).
//   - XEP-0474: SASL SCRAM Downgrade Protection. The server adds the "h"
//     attribute to its server-first-message and the client verifies it (see
//     [DowngradeHash]).
//
// Passwords are prepared with the PRECIS OpaqueString profile (RFC 8265),
// which replaces SASLprep for XMPP. Servers store only [Credentials]
// (salt, iteration count, StoredKey and ServerKey), never the password.
//
// Unknown users are handled without revealing their (non-)existence: the
// server continues the SCRAM exchange with a salt derived deterministically
// from the username and a per-server secret and then fails with
// not-authorized, exactly as for a wrong password.
package sasl
