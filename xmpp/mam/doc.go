// Package mam is the protocol of XEP-0313 (Message Archive Management,
// urn:xmpp:mam:2 with urn:xmpp:mam:2#extended): the archive query with its
// XEP-0004 filter form (with, start, end, before-id, after-id, ids), XEP-0059
// paging and flipped pages; the result messages with their XEP-0297
// <forwarded/> and XEP-0203 <delay/>; the closing <fin/>; the archive
// metadata; and the archiving preferences of XEP-0441, which share the
// urn:xmpp:mam:2 namespace. Decoding errors are the *stanza.Error each XEP
// prescribes, so a server can send them as they are.
package mam
