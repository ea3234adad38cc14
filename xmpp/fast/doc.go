// Package fast is XEP-0484 (Fast Authentication Streamlining Tokens): the
// SASL2 inline <fast/> feature, the <request-token/>, <fast/> and <token/>
// elements, and the Hashed Token SASL mechanisms it relies on
// (draft-schmaus-kitten-sasl-ht: HT-SHA-256-NONE, -ENDP and -EXPR), for
// both the client and the server side. There is no I/O here.
//
// Tokens made by [NewToken] are longer than SHA-256's 64-byte block, so
// HMAC-SHA-256 keyed with a token is keyed with the token's SHA-256 digest
// (RFC 2104 §2): a server verifies HT proofs from that digest alone and
// never needs to keep the token itself.
package fast
