// Package push implements XEP-0357 Push Notifications on the user's
// server: a client enables (or disables) an app server's XMPP Push
// Service and node for its account with <enable/> and <disable/> in the
// urn:xmpp:push:0 namespace, and when a message with a body or a call
// invitation (a XEP-0353 <propose/>, which has no body) arrives for
// the account while the device that enabled it cannot receive it — its
// session is detached (XEP-0198 hibernation) or gone — the server
// publishes a <notification/> to that node with a urn:xmpp:push:summary
// form: message-count, last-message-sender and, only when the user
// allowed it, last-message-body.
//
// The user allows the body with a boolean field "include-body" in the
// enable request's publish-options form; the server removes that field
// before passing the form on as publish options. A service that answers a
// publish with an error is disabled (XEP-0357 §7.1).
package push
