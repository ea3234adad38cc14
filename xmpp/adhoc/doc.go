// Package adhoc holds the payloads of XEP-0050 Ad-Hoc Commands: the
// <command xmlns='http://jabber.org/protocol/commands'/> element with its
// actions, notes and data form, and the command-specific error conditions.
// It has no I/O and is shared by the client and the server.
package adhoc
