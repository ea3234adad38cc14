// Package rsm is the Result Set Management payload of XEP-0059: the <set/>
// a requester sends to page through a result set (max, after, before,
// index) and the <set/> a responder returns (first with its index, last,
// count), decoded from and encoded to stanza elements.
package rsm
