package cluster_test

import (
	"testing"

	"github.com/parley-xmpp/parley/server/cluster"
)

// A node's advertised web URIs: the endpoint of the kind asked for, a
// secure one first, a plain one only for a client that is not over TLS.
func TestPickWeb(t *testing.T) {
	all := []string{"ws://n/xmpp-websocket", "http://n/http-bind", "wss://n/xmpp-websocket", "https://n/http-bind", "ftp://n/x", "wss:///nohost"}
	plain := []string{"ws://n/xmpp-websocket", "http://n/http-bind"}
	for _, c := range []struct {
		uris    []string
		kind    string
		overTLS bool
		want    string
	}{
		{all, cluster.WebSocket, false, "wss://n/xmpp-websocket"},
		{all, cluster.WebSocket, true, "wss://n/xmpp-websocket"},
		{all, cluster.BOSH, false, "https://n/http-bind"},
		{all, cluster.BOSH, true, "https://n/http-bind"},
		{plain, cluster.WebSocket, false, "ws://n/xmpp-websocket"},
		{plain, cluster.WebSocket, true, ""},
		{plain, cluster.BOSH, false, "http://n/http-bind"},
		{plain, cluster.BOSH, true, ""},
		{nil, cluster.BOSH, false, ""},
		{[]string{"ftp://n/x", "wss:///nohost"}, cluster.WebSocket, false, ""},
	} {
		if got := cluster.PickWeb(c.uris, c.kind, c.overTLS); got != c.want {
			t.Errorf("pickWeb(%v, %s, TLS %v) = %q, want %q", c.uris, c.kind, c.overTLS, got, c.want)
		}
	}
}
