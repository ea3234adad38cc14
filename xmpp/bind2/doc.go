// Package bind2 is XEP-0386 (Bind 2): the <bind/> inline feature of SASL2
// with the session features it can enable inline, the client's <bind/>
// request with its <tag/> and feature requests, the <bound/> result, and
// the RECOMMENDED resource form "tag/server-generated-id".
package bind2
