// Package load is the engine of "parley bench", an XMPP load generator that
// drives any server (Parley, Prosody, ejabberd, …) over real TCP and TLS.
//
// It does not use xmpp/client: to keep the generator from becoming the
// bottleneck with thousands of sessions it logs in with a lean, sequential
// negotiation built directly on xmpp/stream and xmpp/stanza (STARTTLS or
// direct TLS, SASL SCRAM-SHA-1/SCRAM-SHA-256/PLAIN, bind, roster get,
// initial presence), and it caches the SCRAM client keys per (password, salt,
// iteration count) so PBKDF2 runs once per account, not once per login.
//
// Scenarios (see [Run]): a login storm, idle sessions with the server's
// memory per session read from /proc/PID/smaps_rollup, 1:1 chat with
// per-message latency, the same chat between the users of two federating
// servers (every message crossing their server-to-server link), MUC
// fan-out in temporary rooms or persistent archived ones, and presence
// broadcast over rosters set up with the roster protocol itself.
// Connections are spread over loopback source addresses so that more than
// 64k can be opened.
package load
