package dialback_test

import (
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/s2s/dialback"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// decode parses one element of a jabber:server stream that declares the
// db prefix, as peers send them.
func decode(t testing.TB, xml string) (*stanza.Element, error) {
	t.Helper()
	src := "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' version='1.0'>" + xml
	d := stream.NewDecoder(strings.NewReader(src), stream.Limits{})
	if _, err := d.ReadHeader(); err != nil {
		return nil, err
	}
	return d.Next()
}

func TestParseExamples(t *testing.T) {
	for _, tc := range []struct {
		xml  string
		want dialback.Message
	}{
		{"<db:result from='capulet.example' to='montague.example'>\n b4835385f37fe2895af6c196b59097b16862406db80559900d96bf6fa7d23df3\n</db:result>",
			dialback.Message{Kind: dialback.Result, From: "capulet.example", To: "montague.example", Key: "b4835385f37fe2895af6c196b59097b16862406db80559900d96bf6fa7d23df3"}},
		{"<db:result from='montague.example' to='capulet.example' type='valid'/>",
			dialback.Message{Kind: dialback.Result, From: "montague.example", To: "capulet.example", Type: dialback.TypeValid}},
		{"<db:verify from='montague.example' id='417GAF25' to='capulet.example'>225cc5aa6a071133249d25fef42ae516fc7a86c523aa1c6980a7f73e784c972d</db:verify>",
			dialback.Message{Kind: dialback.Verify, From: "montague.example", To: "capulet.example", ID: "417GAF25", Key: "225cc5aa6a071133249d25fef42ae516fc7a86c523aa1c6980a7f73e784c972d"}},
		{"<db:verify from='capulet.example' id='417GAF25' to='montague.example' type='invalid'/>",
			dialback.Message{Kind: dialback.Verify, From: "capulet.example", To: "montague.example", ID: "417GAF25", Type: dialback.TypeInvalid}},
	} {
		el, err := decode(t, tc.xml)
		if err != nil {
			t.Fatal(err)
		}
		got, err := dialback.Parse(el)
		if err != nil || got != tc.want {
			t.Errorf("Parse(%s) = %+v, %v; want %+v", tc.xml, got, err, tc.want)
			continue
		}
		// What Element and AppendXML write parses back the same.
		again, err := dialback.Parse(got.Element())
		if err != nil || again != got {
			t.Errorf("round trip of %+v: %+v, %v", got, again, err)
		}
		el, err = decode(t, string(got.AppendXML(nil)))
		if err != nil {
			t.Fatalf("AppendXML wrote %s: %v", got.AppendXML(nil), err)
		}
		if again, err := dialback.Parse(el); err != nil || again != got {
			t.Errorf("AppendXML round trip of %+v: %+v, %v", got, again, err)
		}
	}
}

func TestParseError(t *testing.T) {
	el, err := decode(t, "<db:result from='montague.example' to='capulet.example' type='error'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></db:result>")
	if err != nil {
		t.Fatal(err)
	}
	m, err := dialback.Parse(el)
	if err != nil || m.Type != dialback.TypeError || m.Err == nil || m.Err.Condition != stanza.ItemNotFound {
		t.Fatalf("Parse = %+v, %v; want an item-not-found error", m, err)
	}
	back, err := dialback.Parse(m.Element())
	if err != nil || back.Err == nil || back.Err.Condition != stanza.ItemNotFound {
		t.Fatalf("round trip = %+v, %v", back, err)
	}
}

func TestParseRefuses(t *testing.T) {
	for _, xml := range []string{
		"<db:result from='user@capulet.example' to='montague.example'>k</db:result>",
		"<db:result from='capulet.example/r' to='montague.example'>k</db:result>",
		"<db:result from='' to='montague.example'>k</db:result>",
		"<db:result from='capulet.example' to='montague.example'/>",
		"<db:result from='capulet.example' to='montague.example' type='maybe'/>",
		"<db:verify from='capulet.example' to='montague.example'>k</db:verify>",
		"<db:other from='capulet.example' to='montague.example'>k</db:other>",
		"<db:result from='capulet.example' to='montague.example'>" + strings.Repeat("k", 2000) + "</db:result>",
	} {
		el, err := decode(t, xml)
		if err != nil {
			t.Fatal(err)
		}
		if m, err := dialback.Parse(el); err == nil {
			t.Errorf("Parse(%s) = %+v, want an error", xml, m)
		}
	}
	if _, err := dialback.Parse(stanza.New(stanza.NSServer, "message")); err == nil {
		t.Error("Parse accepted a message")
	}
}

func TestAnswer(t *testing.T) {
	req := dialback.Message{Kind: dialback.Verify, From: "a.example", To: "b.example", ID: "s1", Key: "k"}
	for _, tc := range []struct {
		valid bool
		err   *stanza.Error
		want  string
	}{{true, nil, dialback.TypeValid}, {false, nil, dialback.TypeInvalid}, {true, stanza.Err(stanza.RemoteServerNotFound), dialback.TypeError}} {
		a := req.Answer(tc.valid, tc.err)
		if a.From != "b.example" || a.To != "a.example" || a.ID != "s1" || a.Type != tc.want || a.Key != "" {
			t.Errorf("Answer(%v, %v) = %+v", tc.valid, tc.err, a)
		}
	}
}

// FuzzParse: any element of a dialback stream parses or is refused;
// nothing panics, and what parses writes back to the same message.
func FuzzParse(f *testing.F) {
	f.Add("<db:result from='a.example' to='b.example'>abc</db:result>")
	f.Add("<db:verify from='a.example' to='b.example' id='x' type='valid'/>")
	f.Add("<db:result from='a.example' to='b.example' type='error'><error type='cancel'><remote-server-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></db:result>")
	f.Fuzz(func(t *testing.T, xml string) {
		el, err := decode(t, xml)
		if err != nil || el == nil {
			return
		}
		m, err := dialback.Parse(el)
		if err != nil {
			return
		}
		wire, err := decode(t, string(m.AppendXML(nil)))
		if err != nil {
			t.Fatalf("AppendXML of %+v wrote %s: %v", m, m.AppendXML(nil), err)
		}
		again, err := dialback.Parse(wire)
		if err != nil || again.Kind != m.Kind || again.From != m.From || again.To != m.To || again.ID != m.ID || again.Type != m.Type || again.Key != m.Key {
			t.Fatalf("round trip of %+v: %+v, %v", m, again, err)
		}
	})
}
