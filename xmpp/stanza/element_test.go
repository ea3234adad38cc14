package stanza

import (
	"encoding/xml"
	"strings"
	"testing"
)

func TestAppendXMLNamespacesAndEscaping(t *testing.T) {
	m := NewMessage(TypeChat, "juliet@example.com", `a<b & "c" ]]>`)
	m.Set("from", "romeo@example.net/orchard")
	m.SetNS(NSXML, "lang", "en")
	m.Append(New("http://jabber.org/protocol/chatstates", "active"))
	got := string(m.AppendXML(nil, NSClient))
	want := `<message to="juliet@example.com" type="chat" from="romeo@example.net/orchard" xml:lang="en"><body>a&lt;b &amp; "c" ]]&gt;</body><active xmlns="http://jabber.org/protocol/chatstates"/></message>`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	// Crossing to a server stream keeps content elements unqualified.
	if s := string(m.AppendXML(nil, NSServer)); !strings.HasPrefix(s, "<message to=") {
		t.Fatalf("server scope: %s", s)
	}
	// Outside a content scope the namespace is declared.
	if s := string(m.AppendXML(nil, "")); !strings.HasPrefix(s, `<message xmlns="jabber:client"`) {
		t.Fatalf("empty scope: %s", s)
	}
}

func TestWriterOutputParsesBack(t *testing.T) {
	e := New("urn:x", "root", "a", "1\t2\n3\r\"'<&>")
	e.SetNS("urn:other", "b", "v")
	e.AppendText("x\ry\x01z\uFFFE")
	out := e.AppendXML(nil, "")
	var v struct {
		XMLName xml.Name
		A       string `xml:"a,attr"`
		B       string `xml:"urn:other b,attr"`
		Text    string `xml:",chardata"`
	}
	if err := xml.Unmarshal(out, &v); err != nil {
		t.Fatalf("unmarshal %s: %v", out, err)
	}
	if v.XMLName.Space != "urn:x" || v.A != "1\t2\n3\r\"'<&>" || v.B != "v" || v.Text != "x\ry\uFFFDz\uFFFD" {
		t.Fatalf("round trip: %+v from %s", v, out)
	}
}

func TestBytesCacheInvalidated(t *testing.T) {
	m := NewMessage("", "a@b", "hi")
	first := string(m.Bytes())
	m.Set("id", "x")
	if second := string(m.Bytes()); second == first || !strings.Contains(second, `id="x"`) {
		t.Fatalf("cache not invalidated: %s", second)
	}
}

func TestAppendBytes(t *testing.T) {
	m := NewMessage("", "a@b", "hi")
	want := m.AppendXML(nil, NSClient)
	got := m.AppendBytes([]byte("<x/>"))
	if string(got) != "<x/>"+string(want) {
		t.Fatalf("AppendBytes: %s", got)
	}
	if m.cache.Load() != nil {
		t.Fatal("AppendBytes cached the serialisation")
	}
	buf := make([]byte, 0, 512)
	if n := testing.AllocsPerRun(100, func() { buf = m.AppendBytes(buf[:0]) }); n != 0 {
		t.Fatalf("AppendBytes into a large enough buffer allocated %v times", n)
	}
	cached := m.Bytes()
	if got := m.AppendBytes(nil); string(got) != string(cached) {
		t.Fatalf("AppendBytes after Bytes: %s", got)
	}
	m.Set("id", "y")
	if got := m.AppendBytes(nil); !strings.Contains(string(got), `id="y"`) {
		t.Fatalf("AppendBytes used a stale cache: %s", got)
	}
}

func TestErrorReply(t *testing.T) {
	iq := NewIQ(TypeGet, "q1", "example.com", New("urn:unknown", "query"))
	iq.Set("from", "a@example.com/r")
	r := ErrorReply(iq, Err(ServiceUnavailable))
	got := r.String()
	want := `<iq id="q1" type="error" to="a@example.com/r" from="example.com"><query xmlns="urn:unknown"/><error type="cancel"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	pe := ParseError(r)
	if pe == nil || pe.Condition != ServiceUnavailable || pe.Type != ErrCancel {
		t.Fatalf("ParseError: %+v", pe)
	}
	if MayBounce(r) {
		t.Fatal("an error must not be bounced")
	}
}

func TestRemoveChildrenAndClone(t *testing.T) {
	m := NewMessage("", "a@b", "hi")
	m.Append(New("urn:d", "delay"), New("urn:d", "delay"))
	c := m.Clone()
	if n := m.RemoveChildren("urn:d", "delay"); n != 2 {
		t.Fatalf("removed %d", n)
	}
	if len(c.Children) != 3 || len(m.Children) != 1 {
		t.Fatalf("clone shares children: %d %d", len(c.Children), len(m.Children))
	}
}

func TestMemSize(t *testing.T) {
	small := NewMessage(TypeChat, "a@b", "hi")
	big := NewMessage(TypeChat, "a@b", strings.Repeat("x", 10000))
	if s, b := small.MemSize(), big.MemSize(); s <= 0 || b-s != 10000-2 {
		t.Fatalf("MemSize: small %d, big %d; want the body's extra bytes counted exactly", s, b)
	}
	withAttr := small.Clone()
	withAttr.Set("id", "0123456789")
	if d := withAttr.MemSize() - small.MemSize(); d < 12 {
		t.Fatalf("an id attribute added %d bytes", d)
	}
}
