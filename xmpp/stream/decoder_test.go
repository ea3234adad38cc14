package stream

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/parley-xmpp/parley/xmpp/stanza"
)

func TestStanzaErrors(t *testing.T) {
	tests := []struct {
		name, body string
		want       Condition
	}{
		{"doctype", "<!DOCTYPE foo>", RestrictedXML},
		{"billion laughs", `<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><lolz>&lol2;</lolz>`, RestrictedXML},
		{"entity decl", `<!ENTITY x "y">`, RestrictedXML},
		{"comment top", "<!-- hi -->", RestrictedXML},
		{"comment inside", "<message><!-- hi --></message>", RestrictedXML},
		{"pi top", "<?foo bar?>", RestrictedXML},
		{"xml decl again", "<?xml version='1.0'?>", RestrictedXML},
		{"pi inside", "<message><?foo?></message>", RestrictedXML},
		{"entity in text", "<message><body>&foo;</body></message>", RestrictedXML},
		{"entity in attr", "<message to='&lol9;'/>", RestrictedXML},
		{"doctype inside", "<message><!DOCTYPE x></message>", RestrictedXML},
		{"char ref zero", "<message><body>&#0;</body></message>", NotWellFormed},
		{"char ref control", "<message><body>&#x1;</body></message>", NotWellFormed},
		{"char ref surrogate", "<message><body>&#xD800;</body></message>", NotWellFormed},
		{"char ref FFFE", "<message><body>&#xFFFE;</body></message>", NotWellFormed},
		{"char ref too big", "<message><body>&#x110000;</body></message>", NotWellFormed},
		{"char ref huge", "<message><body>&#99999999999999999999;</body></message>", NotWellFormed},
		{"char ref empty", "<message><body>&#;</body></message>", NotWellFormed},
		{"char ref empty hex", "<message><body>&#x;</body></message>", NotWellFormed},
		{"char ref bad digit", "<message><body>&#12a;</body></message>", NotWellFormed},
		{"entity no semicolon", "<message><body>&amp </body></message>", NotWellFormed},
		{"bare ampersand", "<message><body>a & b</body></message>", NotWellFormed},
		{"CVE-2022-22784", "<message><body>\xEB\x3C\x3E</body></message>", NotWellFormed},
		{"CVE-2022-22784 smuggle", "<message><body>\xEB</body><x/></message><iq type='set'/>", NotWellFormed},
		{"invalid utf8 attr", "<message to='\xC0\xAF'/>", NotWellFormed},
		{"invalid utf8 name", "<mess\xFFage/>", NotWellFormed},
		{"truncated utf8", "<message><body>\xE2\x82</body></message>", NotWellFormed},
		{"overlong utf8", "<message><body>\xC0\x80</body></message>", NotWellFormed},
		{"encoded surrogate", "<message><body>\xED\xA0\x80</body></message>", NotWellFormed},
		{"U+FFFE", "<message><body>\xEF\xBF\xBE</body></message>", NotWellFormed},
		{"control char text", "<message><body>a\x01b</body></message>", NotWellFormed},
		{"control char attr", "<message to='a\x1Fb'/>", NotWellFormed},
		{"NUL", "<message>\x00</message>", NotWellFormed},
		{"mismatched", "<message><body></message></body>", NotWellFormed},
		{"mismatched prefix", "<p:a xmlns:p='urn:x'></q:a>", NotWellFormed},
		{"unclosed then close stream", "<message><body></stream:stream>", NotWellFormed},
		{"end tag at top", "</message>", NotWellFormed},
		{"wrong stream close", "</stream>", NotWellFormed},
		{"bad name digit", "<1message/>", NotWellFormed},
		{"bad name dash", "<-a/>", NotWellFormed},
		{"empty name", "< message/>", NotWellFormed},
		{"empty prefix", "<:a/>", NotWellFormed},
		{"empty local", "<a:/>", NotWellFormed},
		{"two colons", "<a:b:c xmlns:a='urn:x'/>", NotWellFormed},
		{"local starts with digit", "<a:1 xmlns:a='urn:x'/>", NotWellFormed},
		{"duplicate attr", "<message to='a' to='b'/>", NotWellFormed},
		{"duplicate expanded attr", "<message xmlns:p='urn:x' xmlns:q='urn:x' p:a='1' q:a='2'/>", NotWellFormed},
		{"duplicate xmlns", "<message xmlns='jabber:client' xmlns='jabber:client'/>", NotWellFormed},
		{"duplicate prefix decl", "<message xmlns:p='urn:a' xmlns:p='urn:b'/>", NotWellFormed},
		{"unbound element prefix", "<p:message/>", NotWellFormed},
		{"unbound attr prefix", "<message p:a='1'/>", NotWellFormed},
		{"prefix out of scope", "<a><b xmlns:p='urn:1'/><p:c/></a>", NotWellFormed},
		{"lt in attr", "<message to='a<b'/>", NotWellFormed},
		{"unquoted attr", "<message to=a/>", NotWellFormed},
		{"no equals", "<message to 'a'/>", NotWellFormed},
		{"no space between attrs", "<message to='a'from='b'/>", NotWellFormed},
		{"attr without value", "<message hidden/>", NotWellFormed},
		{"text at top", "hello<message/>", NotWellFormed},
		{"char ref at top", "&#32;<message/>", NotWellFormed},
		{"cdata at top", "<![CDATA[ ]]>", NotWellFormed},
		{"cdata end in text", "<message><body>a]]>b</body></message>", NotWellFormed},
		{"bogus bang", "<message><!foo></message>", NotWellFormed},
		{"bad cdata open", "<message><![CDATX[x]]></message>", NotWellFormed},
		{"xml prefix rebound", "<message xmlns:xml='urn:other'/>", NotWellFormed},
		{"xml ns other prefix", "<message xmlns:x='http://www.w3.org/XML/1998/namespace'/>", NotWellFormed},
		{"xml ns as default", "<message xmlns='http://www.w3.org/XML/1998/namespace'/>", NotWellFormed},
		{"xmlns prefix declared", "<message xmlns:xmlns='urn:x'/>", NotWellFormed},
		{"xmlns ns declared", "<message xmlns:p='http://www.w3.org/2000/xmlns/'/>", NotWellFormed},
		{"prefix undeclared", "<message xmlns:p=''/>", NotWellFormed},
		{"xmlns element prefix", "<xmlns:message/>", NotWellFormed},
		{"slash without gt", "<message/ >", NotWellFormed},
		{"end tag junk", "<message></message x>", NotWellFormed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, r := range []io.Reader{stringsReader(tc.body), iotest.OneByteReader(stringsReader(tc.body))} {
				_, err := decodeAll(r, Limits{})
				if got := condition(err); got != tc.want {
					t.Fatalf("got %v (%v), want %s", got, err, tc.want)
				}
			}
			// The same input as a standalone element fails the same way,
			// unless the fault is about the stream's top level.
			if strings.HasPrefix(tc.body, "<message") || strings.HasPrefix(tc.body, "<p:") || strings.HasPrefix(tc.body, "<a") {
				_, err := ParseElement([]byte(tc.body), Limits{})
				if got := condition(err); got != tc.want && !(got == NotWellFormed && strings.Contains(tc.name, "smuggle")) {
					t.Fatalf("ParseElement: got %v (%v), want %s", got, err, tc.want)
				}
			}
		})
	}
}

func TestErrorsAreSticky(t *testing.T) {
	d := NewDecoder(stringsReader("<message><!-- x --></message><message/>"), Limits{})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	_, err1 := d.Next()
	_, err2 := d.Next()
	if condition(err1) != RestrictedXML || err1 != err2 {
		t.Fatalf("errors %v, %v", err1, err2)
	}
}

func TestValidStanzas(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string
	}{
		{"message", "<message to='a@b' type='chat' xml:lang='en'><body>Hi &amp; &lt;bye&gt; &quot;&apos; &#x263A;&#9731;</body></message>",
			[]string{`<message xmlns="jabber:client" to="a@b" type="chat" xml:lang="en"><body>Hi &amp; &lt;bye&gt; "' ☺☃</body></message>`}},
		{"cdata merges", "<message><body>a<![CDATA[<b>&amp;]]]]>c</body></message>",
			[]string{`<message xmlns="jabber:client"><body>a&lt;b&gt;&amp;amp;]]c</body></message>`}},
		{"empty cdata", "<message><body><![CDATA[]]></body></message>", []string{`<message xmlns="jabber:client"><body/></message>`}},
		{"keepalives", " \n\t\r\n<presence/>  \n  <presence/>\n ", []string{`<presence xmlns="jabber:client"/>`, `<presence xmlns="jabber:client"/>`}},
		{"space in tags", "<iq\n id = \"1\"\ttype='get' ><ping xmlns='urn:xmpp:ping' /></iq >",
			[]string{`<iq xmlns="jabber:client" id="1" type="get"><ping xmlns="urn:xmpp:ping"/></iq>`}},
		{"attr normalisation", "<a x='1\t2\n3\r\n4\r5' y='&#9;&#10;&#13;' z='a>b]]>'/>",
			[]string{`<a xmlns="jabber:client" x="1 2 3 4 5" y="&#x9;&#xA;&#xD;" z="a&gt;b]]&gt;"/>`}},
		{"newline normalisation", "<a>1\r\n2\r3\n4&#13;5&#xD;&#10;</a>", []string{"<a xmlns=\"jabber:client\">1\n2\n3\n4&#xD;5&#xD;\n</a>"}},
		{"non-ascii", "<message><body>Grüße 日本語 🎉 \u00a0</body></message>", []string{"<message xmlns=\"jabber:client\"><body>Grüße 日本語 🎉 \u00a0</body></message>"}},
		{"non-ascii names", "<ñame àttr='v'><日本/></ñame>", []string{`<ñame xmlns="jabber:client" àttr="v"><日本/></ñame>`}},
		{"U+FFFD literal", "<a>\uFFFD</a>", []string{"<a xmlns=\"jabber:client\">\uFFFD</a>"}},
		{"char ref leading zeros", "<a>&#x0000041;&#00066;</a>", []string{`<a xmlns="jabber:client">AB</a>`}},
		{"gt in text", "<a>a > b ] ]] c</a>", []string{`<a xmlns="jabber:client">a &gt; b ] ]] c</a>`}},
		{"stream features", "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>",
			[]string{`<features xmlns="http://etherx.jabber.org/streams"><starttls xmlns="urn:ietf:params:xml:ns:xmpp-tls"><required/></starttls></features>`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, r := range []io.Reader{
				stringsReader(tc.body + "</stream:stream>"),
				iotest.OneByteReader(stringsReader(tc.body + "</stream:stream>")),
				iotest.DataErrReader(stringsReader(tc.body + "</stream:stream>")),
			} {
				got, err := decodeAll(r, Limits{})
				if err != io.EOF {
					t.Fatalf("error %v", err)
				}
				if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
					t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
				}
			}
		})
	}
}

func TestNamespaces(t *testing.T) {
	body := `<iq type='get'><query xmlns='jabber:iq:roster'><item jid='a@b'><group>G</group></item></query></iq>` +
		`<foo:bar xmlns:foo='urn:x' foo:attr='1' plain='2' xml:lang='de'><foo:baz/><qux/><n xmlns='urn:n'><m/></n></foo:bar>` +
		`<p:a xmlns:p='urn:1'><p:b xmlns:p='urn:2'/><p:c/></p:a>` +
		`<a xmlns='urn:1'><b xmlns=''><c/></b></a>` +
		`<p:a p:x='1' xmlns:p='urn:late' xmlns:xml='http://www.w3.org/XML/1998/namespace'/>` +
		`<stream:error><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`
	d := NewDecoder(stringsReader(body), Limits{})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	var els []*stanza.Element
	for range 6 {
		el, err := d.Next()
		if err != nil {
			t.Fatal(err)
		}
		els = append(els, el)
	}
	check := func(got *stanza.Element, space, local string) {
		t.Helper()
		if got == nil || got.Name.Space != space || got.Name.Local != local {
			t.Fatalf("got %v, want {%s %s}", got, space, local)
		}
	}
	iq := els[0]
	check(iq, stanza.NSClient, "iq")
	q := iq.FirstElement()
	check(q, "jabber:iq:roster", "query")
	check(q.FirstElement(), "jabber:iq:roster", "item")
	check(q.FirstElement().FirstElement(), "jabber:iq:roster", "group")

	bar := els[1]
	check(bar, "urn:x", "bar")
	wantAttrs := []stanza.Attr{
		{Name: xmlName("urn:x", "attr"), Value: "1"},
		{Name: xmlName("", "plain"), Value: "2"},
		{Name: xmlName(stanza.NSXML, "lang"), Value: "de"},
	}
	if len(bar.Attr) != len(wantAttrs) {
		t.Fatalf("attrs %v", bar.Attr)
	}
	for i := range wantAttrs {
		if bar.Attr[i] != wantAttrs[i] {
			t.Fatalf("attr %d: %v, want %v", i, bar.Attr[i], wantAttrs[i])
		}
	}
	kids := bar.Elements()
	check(kids[0], "urn:x", "baz")
	check(kids[1], stanza.NSClient, "qux")
	check(kids[2], "urn:n", "n")
	check(kids[2].FirstElement(), "urn:n", "m")

	check(els[2], "urn:1", "a")
	check(els[2].Elements()[0], "urn:2", "b")
	check(els[2].Elements()[1], "urn:1", "c")

	check(els[3], "urn:1", "a")
	check(els[3].FirstElement(), "", "b")
	check(els[3].FirstElement().FirstElement(), "", "c")

	check(els[4], "urn:late", "a")
	if els[4].Attr[0].Name != xmlName("urn:late", "x") {
		t.Fatalf("late declaration: %v", els[4].Attr)
	}
	check(els[5], stanza.NSStream, "error")
	if se := ParseStreamError(els[5]); se == nil || se.Condition != NotWellFormed {
		t.Fatalf("ParseStreamError: %v", se)
	}
	// A standalone element has no inherited namespace.
	el, err := ParseElement([]byte(" <message><body>x</body></message>\n"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	check(el, "", "message")
}

func TestHeader(t *testing.T) {
	good := []struct {
		name, in string
		want     Header
		qname    string
	}{
		{"full", "<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n<stream:stream from='juliet@im.example.com' to='im.example.com' id='abc' version='1.0' xml:lang='en' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' x='y'>",
			Header{From: "juliet@im.example.com", To: "im.example.com", ID: "abc", Version: "1.0", Lang: "en", ContentNS: stanza.NSClient,
				Attr: []stanza.Attr{{Name: xmlName("", "x"), Value: "y"}}}, "stream:stream"},
		{"no declaration, BOM", "\xEF\xBB\xBF<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>",
			Header{ContentNS: stanza.NSClient}, "stream:stream"},
		{"other prefix, dialback", "<?xml version=\"1.0\" encoding=\"utf-8\"?><s:stream xmlns:s='http://etherx.jabber.org/streams' xmlns='jabber:server' xmlns:db='jabber:server:dialback' version='1.0'>",
			Header{ContentNS: stanza.NSServer, Version: "1.0", Attr: []stanza.Attr{{Name: xmlName("xmlns", "db"), Value: "jabber:server:dialback"}}}, "s:stream"},
		{"component", "<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='comp.example'>",
			Header{ContentNS: stanza.NSComponent, To: "comp.example"}, "stream:stream"},
	}
	for _, tc := range good {
		t.Run(tc.name, func(t *testing.T) {
			for _, r := range []io.Reader{strings.NewReader(tc.in), iotest.OneByteReader(strings.NewReader(tc.in))} {
				d := NewDecoder(r, Limits{})
				h, err := d.ReadHeader()
				if err != nil {
					t.Fatal(err)
				}
				if h.To != tc.want.To || h.From != tc.want.From || h.ID != tc.want.ID || h.Version != tc.want.Version ||
					h.Lang != tc.want.Lang || h.ContentNS != tc.want.ContentNS || len(h.Attr) != len(tc.want.Attr) {
					t.Fatalf("got %+v, want %+v", h, tc.want)
				}
				for i := range h.Attr {
					if h.Attr[i] != tc.want.Attr[i] {
						t.Fatalf("attr %v, want %v", h.Attr[i], tc.want.Attr[i])
					}
				}
				if d.streamQName != tc.qname {
					t.Fatalf("qname %q", d.streamQName)
				}
			}
		})
	}
	// The dialback prefix declared on the header applies to stanzas, and
	// the stream closes with its own prefix.
	in := good[2].in + "<db:result from='a.example' to='b.example'>key</db:result></s:stream>"
	d := NewDecoder(strings.NewReader(in), Limits{})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	el, err := d.Next()
	if err != nil || el.Name != xmlName("jabber:server:dialback", "result") {
		t.Fatalf("dialback: %v %v", el, err)
	}
	if _, err := d.Next(); err != io.EOF {
		t.Fatalf("close: %v", err)
	}

	bad := []struct {
		name, in string
		want     Condition
	}{
		{"wrong stream ns", "<stream:stream xmlns='jabber:client' xmlns:stream='urn:wrong'>", InvalidNamespace},
		{"wrong element", "<stream:foo xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>", InvalidNamespace},
		{"no prefix", "<stream xmlns='http://etherx.jabber.org/streams'>", InvalidNamespace},
		{"no content ns", "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>", InvalidNamespace},
		{"unsupported content ns", "<stream:stream xmlns='urn:other' xmlns:stream='http://etherx.jabber.org/streams'>", InvalidNamespace},
		{"unbound prefix", "<stream:stream xmlns='jabber:client'>", NotWellFormed},
		{"latin1", "<?xml version='1.0' encoding='ISO-8859-1'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>", UnsupportedEncoding},
		{"utf16 bom", "\xFE\xFF\x00<\x00s", UnsupportedEncoding},
		{"utf16le", "<\x00s\x00t\x00", UnsupportedEncoding},
		{"bad version", "<?xml version='2.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>", NotWellFormed},
		{"xml 1.1", "<?xml version='1.1'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>", NotWellFormed},
		{"xml 1.1 double quotes", "<?xml version=\"1.1\" encoding=\"UTF-8\"?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>", NotWellFormed},
		{"xml 1.01", "<?xml version='1.01'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>", NotWellFormed},
		{"decl without version", "<?xml encoding='UTF-8'?><stream:stream>", NotWellFormed},
		{"decl order", "<?xml encoding='UTF-8' version='1.0'?><stream:stream>", NotWellFormed},
		{"doctype", "<?xml version='1.0'?><!DOCTYPE stream><stream:stream>", RestrictedXML},
		{"comment", "<!-- hi --><stream:stream>", RestrictedXML},
		{"pi", "<?xml-stylesheet href='x'?><stream:stream>", RestrictedXML},
		{"text", "hello", NotWellFormed},
		{"end tag", "</stream:stream>", NotWellFormed},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewDecoder(strings.NewReader(tc.in), Limits{}).ReadHeader()
			if got := condition(err); got != tc.want {
				t.Fatalf("got %v (%v), want %s", got, err, tc.want)
			}
		})
	}
}

func TestEndOfStream(t *testing.T) {
	got, err := decodeAll(stringsReader("<presence/> </stream:stream> trailing junk"), Limits{})
	if err != io.EOF || len(got) != 1 {
		t.Fatalf("closed stream: %v %v", got, err)
	}
	for _, body := range []string{"", "<presence/>", "<message><body>hi", "<message to='a", "<message><body>\xE2\x82", "</stream:str"} {
		for _, r := range []io.Reader{stringsReader(body), iotest.OneByteReader(stringsReader(body))} {
			_, err := decodeAll(r, Limits{})
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("%q: got %v, want unexpected EOF", body, err)
			}
		}
	}
	_, err = NewDecoder(strings.NewReader("<?xml version='1.0'?><stream:stream"), Limits{}).ReadHeader()
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated header: %v", err)
	}
	if _, err := ParseElement([]byte("<message><body>"), Limits{}); condition(err) != NotWellFormed {
		t.Fatalf("truncated element: %v", err)
	}
	if _, err := ParseElement([]byte("<a/><b/>"), Limits{}); condition(err) != NotWellFormed {
		t.Fatalf("two elements: %v", err)
	}
	if _, err := ParseElement([]byte("text"), Limits{}); condition(err) != NotWellFormed {
		t.Fatalf("text: %v", err)
	}
	// A self-closing stream header is an immediately closed stream.
	d := NewDecoder(strings.NewReader("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'/>"), Limits{})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Next(); err != io.EOF {
		t.Fatalf("self-closed: %v", err)
	}
	if _, err := NewDecoder(strings.NewReader(testHeader), Limits{}).Next(); err == nil {
		t.Fatal("Next before ReadHeader succeeded")
	}
}

func TestLimits(t *testing.T) {
	deep := strings.Repeat("<a>", 100000) + strings.Repeat("</a>", 100000)
	tests := []struct {
		name, body string
		lim        Limits
		want       Condition
	}{
		{"depth 100000", deep, Limits{}, PolicyViolation},
		{"depth 65", strings.Repeat("<a>", 65) + strings.Repeat("</a>", 65), Limits{}, PolicyViolation},
		{"depth 3 of 2", "<a><b><c/></b></a>", Limits{MaxDepth: 2}, PolicyViolation},
		{"elements", "<a><b/><b/><b/></a>", Limits{MaxElements: 3}, PolicyViolation},
		{"bytes", "<message><body>" + strings.Repeat("x", 2000) + "</body></message>", Limits{MaxStanzaBytes: 1000}, PolicyViolation},
		{"bytes exact+1", "<a>" + strings.Repeat("x", 994) + "</a>", Limits{MaxStanzaBytes: 1000}, PolicyViolation},
		{"namespace declarations", "<a " + manyDecls(maxBindings+1) + "/>", Limits{}, PolicyViolation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, r := range []io.Reader{stringsReader(tc.body), iotest.OneByteReader(stringsReader(tc.body))} {
				_, err := decodeAll(r, tc.lim)
				if got := condition(err); got != tc.want {
					t.Fatalf("got %v (%v), want %s", got, err, tc.want)
				}
			}
		})
	}
	ok := []struct {
		name, body string
		lim        Limits
	}{
		{"depth 64", strings.Repeat("<a>", 64) + strings.Repeat("</a>", 64), Limits{}},
		{"elements", "<a><b/><b/></a>", Limits{MaxElements: 3}},
		{"bytes exact", "<a>" + strings.Repeat("x", 993) + "</a>", Limits{MaxStanzaBytes: 1000}},
		{"limits per stanza", "<a>" + strings.Repeat("x", 900) + "</a><a>" + strings.Repeat("x", 900) + "</a>", Limits{MaxStanzaBytes: 1000}},
		{"many attributes", "<a " + manyAttrs(200) + "/>", Limits{}},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := decodeAll(stringsReader(tc.body+"</stream:stream>"), tc.lim); err != io.EOF {
				t.Fatalf("error %v", err)
			}
		})
	}
	if _, err := ParseElement([]byte("<a "+manyAttrs(200)+" a5='dup'/>"), Limits{}); condition(err) != NotWellFormed {
		t.Fatalf("duplicate among many attributes: %v", err)
	}
	if _, err := ParseElement([]byte("<a>"+strings.Repeat("x", 2000)+"</a>"), Limits{MaxStanzaBytes: 1000}); condition(err) != PolicyViolation {
		t.Fatalf("ParseElement size: %v", err)
	}
}

func manyAttrs(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(" a")
		b.WriteString(itoa(i))
		b.WriteString("='v'")
	}
	return b.String()
}

func manyDecls(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(" xmlns:p")
		b.WriteString(itoa(i))
		b.WriteString("='urn:x'")
	}
	return b.String()
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// endless is a reader that repeats a pattern forever and counts bytes.
type endless struct {
	prefix  string
	pattern string
	n       int
}

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		if e.n < len(e.prefix) {
			p[i] = e.prefix[e.n]
		} else {
			p[i] = e.pattern[(e.n-len(e.prefix))%len(e.pattern)]
		}
		e.n++
	}
	return len(p), nil
}

func TestEndlessInputIsBounded(t *testing.T) {
	for _, tc := range []struct {
		name, prefix, pattern string
	}{
		{"endless text", "<message><body>", "x"},
		{"endless nesting", "", "<a>"},
		{"endless attributes", "<message", " a='b'"},
		{"endless attribute value", "<message to='", "y"},
		{"endless name", "<message", "x"},
		{"endless cdata", "<message><![CDATA[", "z"},
		{"endless char ref", "<message>&#x", "0"},
		{"endless keepalive then text", "", " "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.pattern == " " {
				t.Skip("whitespace keepalives are unbounded by design")
			}
			r := &endless{prefix: testHeader + tc.prefix, pattern: tc.pattern}
			lim := Limits{MaxStanzaBytes: 64 << 10}
			start := time.Now()
			_, err := decodeAll(r, lim)
			if condition(err) != PolicyViolation {
				t.Fatalf("got %v, want policy-violation", err)
			}
			if r.n > len(testHeader)+lim.MaxStanzaBytes+2*minBuf {
				t.Fatalf("read %d bytes for a %d-byte limit", r.n, lim.MaxStanzaBytes)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("took %v", d)
			}
		})
	}
}

func TestBufferShrinksAfterLargeStanza(t *testing.T) {
	body := "<message><body>" + strings.Repeat("x", 100<<10) + "</body></message>"
	pr, pw := io.Pipe()
	d := NewDecoder(pr, Limits{})
	go func() {
		_, _ = pw.Write([]byte(testHeader + body))
	}()
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Next(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := d.Next()
		done <- err
	}()
	// While Next waits for data the large buffer has been released.
	time.Sleep(50 * time.Millisecond)
	_ = pw.CloseWithError(io.EOF)
	if err := <-done; !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("got %v", err)
	}
	if cap(d.buf) > minBuf || cap(d.text) > shrinkAbove {
		t.Fatalf("buffers not released: %d, %d", cap(d.buf), cap(d.text))
	}
}

func TestBufferedAndReset(t *testing.T) {
	in := testHeader + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><iq type='get' id='x'/>"
	d := NewDecoder(strings.NewReader(in), Limits{})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	el, err := d.Next()
	if err != nil || el.Name.Local != "starttls" {
		t.Fatalf("%v %v", el, err)
	}
	if d.Buffered() != len("<iq type='get' id='x'/>") {
		t.Fatalf("Buffered() = %d", d.Buffered())
	}
	// Nothing pipelined: Buffered is zero once the element is consumed.
	d2 := NewDecoder(strings.NewReader(testHeader+"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"), Limits{})
	if _, err := d2.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	if _, err := d2.Next(); err != nil || d2.Buffered() != 0 {
		t.Fatalf("Buffered() = %d, %v", d2.Buffered(), err)
	}
	// Reset drops the buffered bytes and starts a new stream.
	d.Reset(strings.NewReader("<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'><message/>"))
	if d.Buffered() != 0 {
		t.Fatalf("Buffered() after Reset = %d", d.Buffered())
	}
	h, err := d.ReadHeader()
	if err != nil || h.ContentNS != stanza.NSServer {
		t.Fatalf("%+v %v", h, err)
	}
	el, err = d.Next()
	if err != nil || el.Name != xmlName(stanza.NSServer, "message") {
		t.Fatalf("%v %v", el, err)
	}
	// Reset also clears a sticky error.
	d.Reset(stringsReader("<!-- -->"))
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Next(); condition(err) != RestrictedXML {
		t.Fatal(err)
	}
	d.Reset(stringsReader("<presence/>"))
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	if el, err := d.Next(); err != nil || el.Name.Local != "presence" {
		t.Fatalf("%v %v", el, err)
	}
}

// flaky returns a transient error once, after a given number of bytes.
type flaky struct {
	r     io.Reader
	after int
	n     int
	fired bool
}

// timeoutError is the transient error flaky returns.
type timeoutError struct{}

func (timeoutError) Error() string { return "i/o timeout" }

func (f *flaky) Read(p []byte) (int, error) {
	if !f.fired && f.n >= f.after {
		f.fired = true
		return 0, timeoutError{}
	}
	if len(p) > 7 {
		p = p[:7]
	}
	n, err := f.r.Read(p)
	f.n += n
	return n, err
}

func TestTransientReadErrors(t *testing.T) {
	body := " <message to='a@b'><body>hello there</body></message><presence/></stream:stream>"
	want, err := decodeAll(stringsReader(body), Limits{})
	if err != io.EOF {
		t.Fatal(err)
	}
	total := len(testHeader) + len(body)
	for after := 0; after < total; after++ {
		d := NewDecoder(&flaky{r: stringsReader(body), after: after}, Limits{})
		var got []string
		timeouts := 0
		_, err := d.ReadHeader()
		for errors.Is(err, timeoutError{}) {
			timeouts++
			_, err = d.ReadHeader()
		}
		if err != nil {
			t.Fatalf("after %d: header: %v", after, err)
		}
		for {
			el, err := d.Next()
			if errors.Is(err, timeoutError{}) {
				timeouts++
				continue
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("after %d: %v", after, err)
			}
			got = append(got, string(el.AppendXML(nil, "")))
		}
		// The reader hands out 7 bytes at a time: the error fires unless the
		// last read already delivered everything.
		if strings.Join(got, "|") != strings.Join(want, "|") || timeouts > 1 || timeouts == 0 && after < total-7 {
			t.Fatalf("after %d: got %v (%d timeouts), want %v", after, got, timeouts, want)
		}
	}
}

// boundaryReader hands out its chunks one per Read, returning
// errWouldBlock before each chunk.
type boundaryReader struct {
	chunks  []string
	blocked bool
}

var errWouldBlock = errors.New("would block")

func (r *boundaryReader) Read(p []byte) (int, error) {
	if len(r.chunks) == 0 {
		return 0, io.EOF
	}
	if !r.blocked {
		r.blocked = true
		return 0, errWouldBlock
	}
	r.blocked = false
	n := copy(p, r.chunks[0])
	r.chunks[0] = r.chunks[0][n:]
	if r.chunks[0] == "" {
		r.chunks = r.chunks[1:]
	}
	return n, nil
}

// AtBoundary is true only while no part of a stanza is buffered, and
// Release there (as a server does before parking an idle connection)
// drops the buffer and the scratch space and loses nothing: the next
// stanzas decode.
func TestAtBoundaryAndRelease(t *testing.T) {
	r := &boundaryReader{chunks: []string{
		"<message to='a@b'><bo", "dy>one</body></message>",
		"  ",
		"<presence/>",
	}}
	dec := NewDecoder(io.MultiReader(strings.NewReader(testHeader), r), Limits{})
	if _, err := dec.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	var got []string
	releases := 0
	for {
		el, err := dec.Next()
		if errors.Is(err, errWouldBlock) {
			if dec.AtBoundary() {
				dec.Release()
				if dec.buf != nil || dec.scratch != nil {
					t.Fatal("Release kept the read buffer or the scratch space")
				}
				releases++
			}
			continue
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, el.Name.Local+":"+el.ChildText("jabber:client", "body"))
	}
	if strings.Join(got, ",") != "message:one,presence:" {
		t.Errorf("decoded %q", got)
	}
	// A would-block between the message's halves is mid-stanza: the
	// partial stanza is kept and parsed again.
	if releases != 3 {
		t.Errorf("%d releases at boundaries, want 3 (before each chunk but the message's second half)", releases)
	}
}

// Discard drops what the decoder holds, even mid-stanza, and ends the
// stream: no further read reaches the reader.
func TestDiscard(t *testing.T) {
	r := &boundaryReader{chunks: []string{"<message to='a@b'><bo", "dy>one</body></message>"}}
	dec := NewDecoder(io.MultiReader(strings.NewReader(testHeader), r), Limits{})
	if _, err := dec.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	for range 2 { // before the first half, then mid-stanza
		if _, err := dec.Next(); !errors.Is(err, errWouldBlock) {
			t.Fatalf("%v, want a would-block", err)
		}
	}
	if dec.AtBoundary() {
		t.Fatal("at a boundary with half a stanza read")
	}
	dec.Discard()
	if dec.buf != nil || dec.scratch != nil {
		t.Error("Discard kept buffers")
	}
	if _, err := dec.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("Next after Discard: %v, want io.EOF", err)
	}
	if len(r.chunks) != 1 {
		t.Errorf("%d chunks left unread, want 1: Discard must end the reading", len(r.chunks))
	}
}

// A decoded stanza leaves room after its attributes: stamping 'from' and
// xml:lang allocates nothing and leaves its children's attributes alone.
func TestStanzaAttributeRoom(t *testing.T) {
	const runs = 10
	els := make([]*stanza.Element, runs+1) // AllocsPerRun warms up once
	for i := range els {
		el, err := ParseElement([]byte(`<message xmlns='jabber:client' to='a@b' id='1'><body>hi</body><x xmlns='urn:y' a='1' b='2'/></message>`), Limits{})
		if err != nil {
			t.Fatal(err)
		}
		els[i] = el
	}
	n := 0
	allocs := testing.AllocsPerRun(runs, func() {
		els[n].Set("from", "c@d/e")
		els[n].SetNS(stanza.NSXML, "lang", "en")
		n++
	})
	if allocs != 0 {
		t.Errorf("stamping allocated %v times per stanza", allocs)
	}
	for _, el := range els {
		x := el.Child("urn:y", "x")
		if len(x.Attr) != 2 || x.Attr[0].Value != "1" || x.Attr[1].Value != "2" {
			t.Errorf("child attributes changed: %v", x.Attr)
		}
		if el.From() != "c@d/e" || el.Lang() != "en" || el.To() != "a@b" || el.ID() != "1" {
			t.Errorf("stanza attributes: %v", el.Attr)
		}
	}
}
