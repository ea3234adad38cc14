// Package sm holds the payloads of XEP-0198 Stream Management (namespace
// urn:xmpp:sm:3): the <sm/> stream feature, <enable/> and <enabled/>,
// <resume/> and <resumed/>, <failed/>, the ack request <r/> and answer
// <a/>, and the <handled-count-too-high/> stream error. It does no I/O;
// the server's stream engine (server/stream) and the client library (xmpp/client)
// share it.
//
// Handled counts are unsigned 32-bit integers that wrap at 2^32
// (XEP-0198 §4): compare them with Delta, never with < or >.
package sm
