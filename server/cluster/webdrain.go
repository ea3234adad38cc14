package cluster

import (
	"net/url"
	"slices"
	"sort"
)

// Web endpoints: each node writes the URIs of its WebSocket and BOSH
// endpoints in its lease, and a draining node sends its web clients to
// another live node's (RFC 7395 §3.6.1 and XEP-0124 §17.2,
// see-other-uri), as it sends its TCP clients to another node's client
// address (OtherHost).

// Kinds of web endpoints, for OtherWeb.
const (
	WebSocket = "websocket" // ws:// and wss:// URIs
	BOSH      = "bosh"      // http:// and https:// URIs
)

// SetAdvertiseWeb sets the URIs of this node's web endpoints, written in
// its lease from its next renewal (SetAdvertise writes it at once).
func (n *Node) SetAdvertiseWeb(uris []string) {
	n.mu.Lock()
	n.advertiseWeb = slices.Clone(uris)
	n.mu.Unlock()
}

// OtherWeb returns the URI of an endpoint of kind (WebSocket or BOSH) of
// another live node, for a client of this node's endpoint of that kind,
// or "" when no other live node advertises one. A client whose endpoint
// is secure (TLS) is only sent to a secure one (wss://, https://): RFC
// 7395 §3.6.1 forbids lowering the security context. Successive calls go
// round the live nodes, as OtherHost's do.
func (n *Node) OtherWeb(kind string, secure bool) string {
	var uris []string
	n.mu.Lock()
	names := make([]string, 0, len(n.nodes))
	for name, l := range n.nodes {
		if l.alive {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		if u := pickWeb(n.nodes[name].Web, kind, secure); u != "" {
			uris = append(uris, u)
		}
	}
	n.mu.Unlock()
	if len(uris) == 0 {
		return ""
	}
	return uris[(n.rotate.Add(1)-1)%uint64(len(uris))]
}

// pickWeb returns the first of uris of kind that a client, secure or
// not, may be sent to: a secure one first, a plain one only to a client
// that is not secure.
func pickWeb(uris []string, kind string, secure bool) string {
	var plain string
	for _, s := range uris {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			continue
		}
		var isKind, tls bool
		switch u.Scheme {
		case "wss":
			isKind, tls = kind == WebSocket, true
		case "ws":
			isKind = kind == WebSocket
		case "https":
			isKind, tls = kind == BOSH, true
		case "http":
			isKind = kind == BOSH
		}
		switch {
		case !isKind:
		case tls:
			return s
		case !secure && plain == "":
			plain = s
		}
	}
	return plain
}
