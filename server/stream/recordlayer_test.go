package stream_test

import (
	"crypto/tls"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// TestRecordLayerSwitch logs in and chats over TLS 1.3 with
// tls.record_layer set to parley and to go, through STARTTLS and direct
// TLS. With parley the idle sessions park (only tlsrec's record layer
// can); with go they never do, as crypto/tls carries the whole
// connection.
func TestRecordLayerSwitch(t *testing.T) {
	for _, layer := range []config.RecordLayer{config.RecordLayerParley, config.RecordLayerGo} {
		t.Run(string(layer), func(t *testing.T) {
			s, alice, bob := newServer(t, parkQuickly, func(c *config.Config) { c.TLS.RecordLayer = layer })
			if st, ok := alice.TLSConnectionState(); !ok || st.Version != tls.VersionTLS13 {
				t.Fatalf("alice's TLS: %v %x, want TLS 1.3", ok, st.Version)
			}
			for range 3 {
				alive(t, alice, bob)
				alive(t, bob, alice)
			}
			carol := loginRawTLS(t, s, "carol", "pw", "direct")
			carol.write(string(stanza.NewMessage(stanza.TypeChat, alice.JID().String(), "over direct TLS").AppendXML(nil, stanza.NSClient)))
			if got := nextMessage(t, alice); got.ChildText(stanza.NSClient, "body") != "over direct TLS" {
				t.Fatalf("alice got %s", got)
			}
			switch layer {
			case config.RecordLayerParley:
				waitParks(t, s, 3)
			case config.RecordLayerGo:
				// Three sessions idle for five times park_after.
				time.Sleep(500 * time.Millisecond)
				if n := s.App.Parks(); n != 0 {
					t.Fatalf("%d readers parked with record_layer go", n)
				}
			}
			alive(t, alice, bob)
			alive(t, bob, alice)
		})
	}
}
