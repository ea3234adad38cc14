// Package adhoc serves Ad-Hoc Commands (XEP-0050) on the server's domains
// and, on top of them, the Service Administration commands of XEP-0133 for
// the configured administrators: add, delete, disable and re-enable
// users, change a user's password, count and list online users, announce
// to online users and end a user's sessions. Administrators may also run
// "s2s-list", which lists the server-to-server links (module.Host's
// Federation service; parley s2s list runs it). Every user may run "ping",
// which completes at once with a note, so that clients can test their
// command support.
//
// Commands are listed per requester under the disco node
// http://jabber.org/protocol/commands; a command that needs input answers
// the first request with a form and keeps an execution session (sessionid)
// until the form is submitted, the session is canceled or it expires.
package adhoc
