// Package offline stores messages for users who have no resource able to
// take them and delivers them at the user's next initial presence with a
// non-negative priority (XEP-0160, Best Practices for Handling Offline
// Messages), each marked with a delayed-delivery notation (XEP-0203).
//
// Only messages of type normal and chat are kept (XEP-0160 §3); chat
// messages that carry nothing but a chat state notification (XEP-0085) are
// dropped. When the user's store is full the sender gets
// <service-unavailable/>. A stored message is deleted only after it was
// handed to the session, so a failed delivery loses nothing.
package offline
