// Package entitytime is the server module for XEP-0202 (Entity Time): it
// answers urn:xmpp:time queries addressed to a served domain with the
// server clock's UTC time and its zone offset, both formatted as XEP-0082
// requires.
//
// Queries to an account's bare JID are not answered (service-unavailable):
// the server does not know its users' time zones, and the XEP's queries
// are meant for a client's full JID, which the client answers itself.
package entitytime
