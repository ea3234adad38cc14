// Package register holds the jabber:iq:register payload of In-Band
// Registration (XEP-0077): the query with its username, password,
// <remove/>, <registered/> and instructions, shared by the client, the
// account module (password change and cancellation, §3.2-§3.3) and the
// pre-authentication registration of the c2s transport (§3.1).
package register
