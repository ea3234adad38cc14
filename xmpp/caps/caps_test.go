package caps

import (
	"errors"
	"testing"

	"github.com/parley-xmpp/parley/xmpp/disco"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// simple is the entity of XEP-0115 §5.2.
func simple() disco.Info {
	return disco.Info{
		Identities: []disco.Identity{{Category: "client", Type: "pc", Name: "Exodus 0.9.1"}},
		Features: []string{
			"http://jabber.org/protocol/disco#info",
			"http://jabber.org/protocol/disco#items",
			"http://jabber.org/protocol/muc",
			"http://jabber.org/protocol/caps",
		},
	}
}

func formField(name, typ string, vals ...string) *stanza.Element {
	f := stanza.New(disco.NSData, "field", "var", name)
	f.Set("type", typ)
	for _, v := range vals {
		f.Append(stanza.New(disco.NSData, "value").AppendText(v))
	}
	return f
}

// complexInfo is the entity of XEP-0115 §5.3, in the example's order.
func complexInfo() disco.Info {
	x := stanza.New(disco.NSData, "x", "type", "result").Append(
		formField("FORM_TYPE", "hidden", "urn:xmpp:dataforms:softwareinfo"),
		formField("ip_version", "text-multi", "ipv6", "ipv4"),
		formField("os", "", "Mac"),
		formField("os_version", "", "10.5.1"),
		formField("software", "", "Psi"),
		formField("software_version", "", "0.11"),
	)
	return disco.Info{
		Identities: []disco.Identity{
			{Category: "client", Type: "pc", Name: "Psi 0.11", Lang: "en"},
			{Category: "client", Type: "pc", Name: "Ψ 0.11", Lang: "el"},
		},
		Features: []string{
			"http://jabber.org/protocol/muc",
			"http://jabber.org/protocol/caps",
			"http://jabber.org/protocol/disco#info",
			"http://jabber.org/protocol/disco#items",
		},
		Forms: []*stanza.Element{x},
	}
}

func TestSimpleExample(t *testing.T) {
	const wantS = "client/pc//Exodus 0.9.1<http://jabber.org/protocol/caps<http://jabber.org/protocol/disco#info<" +
		"http://jabber.org/protocol/disco#items<http://jabber.org/protocol/muc<"
	if got := VerificationString(simple()); got != wantS {
		t.Errorf("S = %q\nwant %q", got, wantS)
	}
	ver, err := Ver(simple(), SHA1)
	if err != nil {
		t.Fatal(err)
	}
	if ver != "QgayPKawpkPSDYmwT/WM94uAlu0=" {
		t.Errorf("ver = %s", ver)
	}
}

func TestComplexExample(t *testing.T) {
	const wantS = "client/pc/el/Ψ 0.11<client/pc/en/Psi 0.11<http://jabber.org/protocol/caps<http://jabber.org/protocol/disco#info<" +
		"http://jabber.org/protocol/disco#items<http://jabber.org/protocol/muc<urn:xmpp:dataforms:softwareinfo<" +
		"ip_version<ipv4<ipv6<os<Mac<os_version<10.5.1<software<Psi<software_version<0.11<"
	if got := VerificationString(complexInfo()); got != wantS {
		t.Errorf("S = %q\nwant %q", got, wantS)
	}
	ver, err := Ver(complexInfo(), SHA1)
	if err != nil {
		t.Fatal(err)
	}
	if ver != "q07IKJEyjvHSyhy//CH0CxmKi8w=" {
		t.Errorf("ver = %s", ver)
	}
	if err := Check(complexInfo()); err != nil {
		t.Errorf("Check: %v", err)
	}
}

func TestOrderIndependent(t *testing.T) {
	a, b := complexInfo(), complexInfo()
	b.Identities[0], b.Identities[1] = b.Identities[1], b.Identities[0]
	b.Features[0], b.Features[3] = b.Features[3], b.Features[0]
	va, _ := Ver(a, SHA256)
	vb, _ := Ver(b, SHA256)
	if va != vb || va == "" {
		t.Errorf("order changed the sha-256 ver: %s vs %s", va, vb)
	}
	b.Features = b.Features[1:]
	if vc, _ := Ver(b, SHA256); vc == va {
		t.Error("removing a feature did not change ver")
	}
}

func TestFormsWithoutHiddenFormTypeIgnored(t *testing.T) {
	info := simple()
	info.Forms = []*stanza.Element{
		stanza.New(disco.NSData, "x").Append(formField("FORM_TYPE", "", "urn:example"), formField("a", "", "b")),
		stanza.New(disco.NSData, "x").Append(formField("a", "", "b")),
	}
	if VerificationString(info) != VerificationString(simple()) {
		t.Error("forms without hidden FORM_TYPE changed S")
	}
}

func TestUnsupportedHash(t *testing.T) {
	if _, err := Ver(simple(), "md5"); !errors.Is(err, ErrUnsupportedHash) {
		t.Errorf("err = %v", err)
	}
}

func TestCheck(t *testing.T) {
	dupID := simple()
	dupID.Identities = append(dupID.Identities, dupID.Identities[0])
	dupF := simple()
	dupF.Features = append(dupF.Features, dupF.Features[0])
	dupForm := complexInfo()
	dupForm.Forms = append(dupForm.Forms, dupForm.Forms[0].Clone())
	multi := simple()
	multi.Forms = []*stanza.Element{stanza.New(disco.NSData, "x").Append(formField("FORM_TYPE", "hidden", "a", "b"))}
	for name, info := range map[string]disco.Info{"identity": dupID, "feature": dupF, "form": dupForm, "form type values": multi} {
		if err := Check(info); !errors.Is(err, ErrIllFormed) {
			t.Errorf("%s: err = %v, want ErrIllFormed", name, err)
		}
	}
}

func TestElementRoundTrip(t *testing.T) {
	c := Caps{Hash: SHA1, Node: "https://parley.im", Ver: "QgayPKawpkPSDYmwT/WM94uAlu0="}
	got, err := Parse(c.Element())
	if err != nil || got != c {
		t.Errorf("Parse = %+v, %v", got, err)
	}
	if _, err := Parse(stanza.New(NS, "c", "node", "x")); !errors.Is(err, ErrInvalid) {
		t.Errorf("missing ver: err = %v", err)
	}
}
