package client

import (
	"bytes"
	"errors"
	"testing"

	"github.com/parley-xmpp/parley/xmpp/stream"
)

// FuzzFromFrame: whatever message a WebSocket server sends, fromFrame
// returns stream bytes or an error without panicking; a <close/> with
// see-other-uri is a *SeeOtherURIError naming the URI, any other
// <close/> the closing tag.
func FuzzFromFrame(f *testing.F) {
	for _, s := range []string{
		`<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" from="localhost" id="x" version="1.0"/>`,
		`<close xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>`,
		`<close xmlns="urn:ietf:params:xml:ns:xmpp-framing" see-other-uri="wss://other.example/xmpp-websocket"/>`,
		`<message xmlns="jabber:client" to="a@b"><body>hi</body></message>`,
		`<close xmlns="urn:ietf:params:xml:ns:xmpp-framing" see-other-uri=""/>`,
		``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		out, err := fromFrame(msg)
		var redirect *SeeOtherURIError
		if errors.As(err, &redirect) {
			if redirect.URI == "" || !bytes.Contains(msg, []byte("see-other-uri")) {
				t.Fatalf("redirect %q from %q", redirect.URI, msg)
			}
			return
		}
		if err == nil && bytes.Equal(out, []byte(stream.Close)) && !bytes.Contains(msg, []byte("close")) {
			t.Fatalf("closing tag from %q", msg)
		}
	})
}
