// Package archive is what the message archives of accounts (server/mod/mam)
// and of chat rooms (server/mod/muc) share over storage.Archive: appending
// a message under a quota (count and bytes, trimmed oldest first), turning
// a XEP-0313 query into a storage query bounded by a page limit,
// shortening a page to what the requesting session can take at once, and
// rendering a page as <result/> messages and the <fin/> that ends it.
//
// It knows storage's interfaces, the session and the xmpp/ library,
// nothing of the router or of modules: each module decides who may read
// which archive and how results reach the requester.
package archive
