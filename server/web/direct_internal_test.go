package web

import (
	"bufio"
	"bytes"
	"net/http"
	"net/textproto"
	"reflect"
	"testing"

	"golang.org/x/net/http/httpguts"
)

// FuzzParseHead: a request head the direct path takes is one net/http
// takes too, read the same way (method, path, host, length, close and
// headers); a head it does not take goes to net/http, so only the first
// direction needs to hold.
func FuzzParseHead(f *testing.F) {
	for _, s := range []string{
		"POST /http-bind HTTP/1.1\r\nHost: localhost:5280\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: 42\r\n\r\n",
		"POST /http-bind HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: keep-alive, close\r\nOrigin: https://example.org\r\n\r\n",
		"POST /http-bind HTTP/1.1\r\nhost: x\r\ncontent-length: 007\r\nX-Forwarded-For: 192.0.2.1, 198.51.100.2\r\nX-Forwarded-For: 203.0.113.3\r\n\r\n",
		"POST /http-bind HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
		"POST /http-bind HTTP/1.1\r\nHost: x\r\nHost: y\r\nContent-Length: 5\r\n\r\n",
		"POST /http-bind HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n folded\r\n\r\n",
		"POST /http-bind HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nPragma: no-cache\r\n\r\n",
		"POST /http-bind HTTP/1.1\r\nHost: x\r\nContent-Length:  5 \t\r\nX: \x01\r\n\r\n",
		"POST /http-bind?x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n",
		"GET /http-bind HTTP/1.1\r\nHost: x\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		end := bytes.Index(raw, []byte("\r\n\r\n"))
		if end < 0 {
			return
		}
		var h head
		if !parseHead(raw[:end+2], &h) {
			return
		}
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw[:end+4])))
		if err != nil {
			t.Fatalf("taken by the direct path, refused by net/http: %v\n%q", err, raw[:end+4])
		}
		// What net/http's server checks beyond ReadRequest (which takes
		// the Host header out).
		mh, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw[bytes.Index(raw, []byte("\r\n"))+2 : end+4]))).ReadMIMEHeader()
		if err != nil {
			t.Fatalf("headers: %v", err)
		}
		hosts := mh["Host"]
		if len(hosts) != 1 || !httpguts.ValidHostHeader(hosts[0]) {
			t.Fatalf("Host %q taken\n%q", hosts, raw[:end+4])
		}
		for k, vs := range r.Header {
			if !httpguts.ValidHeaderFieldName(k) {
				t.Fatalf("header name %q taken", k)
			}
			for _, v := range vs {
				if !httpguts.ValidHeaderFieldValue(v) {
					t.Fatalf("header value %q taken", v)
				}
			}
		}
		delete(r.Header, "Host")
		if r.Method != http.MethodPost || r.URL.Path != "/http-bind" || r.URL.RawQuery != "" || r.Host != h.host ||
			r.ContentLength != h.contentLength || r.Close != h.close || r.ProtoMajor != 1 || r.ProtoMinor != 1 {
			t.Fatalf("net/http: %s %v host %q length %d close %v; direct: host %q length %d close %v\n%q",
				r.Method, r.URL, r.Host, r.ContentLength, r.Close, h.host, h.contentLength, h.close, raw[:end+4])
		}
		if !reflect.DeepEqual(r.Header, h.header) {
			t.Fatalf("headers: net/http %q, direct %q\n%q", r.Header, h.header, raw[:end+4])
		}
	})
}
