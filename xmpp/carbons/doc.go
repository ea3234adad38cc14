// Package carbons is XEP-0280 (Message Carbons): the enable and disable
// requests, the rules of §6.1 that decide which messages are copied (with
// the <private/> element and the XEP-0334 <no-copy/> hint), and the
// <sent/> and <received/> wrappers with their XEP-0297 <forwarded/>
// payload, including the sender check §11 asks of clients.
package carbons
