package interop

import (
	"testing"
	"time"
)

// Two slixmpp clients (xep_0065 at its defaults) move a 1 MiB file
// through the server's SOCKS5 proxy, which slixmpp finds by disco: the
// bytes match, and the server's log shows the stream went through the
// proxy. (That nobody but the sender can activate a stream is tested in
// server/mod/proxy65.)
func TestSlixmppFileThroughProxy(t *testing.T) {
	needSlixmpp(t)
	// A server of its own: the shared one's components (the echo
	// component, biboumi) come and go with scenarios that run in
	// parallel, and slixmpp's proxy discovery asks each of the server's
	// items for its disco#info.
	s := ownServer(t, "fay", "fred")
	mark := s.log.Len()
	fred := startScriptPeer(t, s, "s5b_peer.py", "fred", "files", "--receive")
	fay := startScriptPeer(t, s, "s5b_peer.py", "fay", "files", "--send-to", fred.online.JID)

	proxies := fay.expect("the proxy discovered", 20*time.Second, func(e event) bool { return e.Event == "proxies" })
	if got := proxies.Items["proxy."+domain]; got != s.proxy65 {
		t.Fatalf("slixmpp found proxies %v, want proxy.%s at %s", proxies.Items, domain, s.proxy65)
	}
	sent := fay.expect("the file sent", 30*time.Second, func(e event) bool { return e.Event == "sent" })
	got := fred.expect("the file received", 30*time.Second, func(e event) bool { return e.Event == "received" })
	if got.Text != "1048576" || got.Body != sent.Body {
		t.Fatalf("received %s bytes with SHA-256 %s; sent %s bytes with %s", got.Text, got.Body, sent.Text, sent.Body)
	}
	waitLogged(t, s, mark, "the proxy's line for the stream", "bytestreams: stream ended", "requester="+bare("fay"), "to_target=1048576")
}
