// Package stanzaid is XEP-0359 (Unique and Stable Stanza IDs): the
// <stanza-id/> an archiving entity adds to a message, the <origin-id/> a
// client sets, and the business rule that an entity removes any
// <stanza-id/> claiming to be its own before adding one.
package stanzaid
