// Package last is the server module for XEP-0012 (Last Activity).
//
// A query to a served domain returns the server's uptime (§5). A query to
// a local account's bare JID (§3) is answered by the server on the
// account's behalf, and only for the account itself or for an entity
// authorised to see the account's presence (roster subscription "from" or
// "both"); anyone else gets <forbidden/>. While the account has a
// connected resource the answer is seconds='0'; otherwise it is the time
// since its last session ended, with the status text of the last
// unavailable presence that session broadcast. An account that never
// logged out gets <item-not-found/>.
//
// A query to a full JID (§4) from an unauthorised entity is refused with
// <forbidden/> before delivery, as the XEP requires; authorised queries
// go to the client, which answers with its idle time.
//
// The module records last activity itself: it remembers the status of
// each session's last unavailable broadcast (PhaseOutbound) and writes the
// time and status to the LastActivity store when an account's last
// session ends.
package last
