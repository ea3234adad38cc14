package jid

import (
	"errors"
	"strings"
	"testing"
)

type parsed struct{ local, domain, resource string }

func TestParseValid(t *testing.T) {
	tests := []struct {
		in   string
		want parsed
		str  string // expected String(); "" means same as in
	}{
		// RFC 7622 §3.5 valid examples.
		{"juliet@example.com", parsed{"juliet", "example.com", ""}, ""},
		{"juliet@example.com/foo", parsed{"juliet", "example.com", "foo"}, ""},
		{"juliet@example.com/foo bar", parsed{"juliet", "example.com", "foo bar"}, ""},
		{"juliet@example.com/foo@bar", parsed{"juliet", "example.com", "foo@bar"}, ""},
		{"foo\\20bar@example.com", parsed{"foo\\20bar", "example.com", ""}, ""},
		{"fussball@example.com", parsed{"fussball", "example.com", ""}, ""},
		{"fußball@example.com", parsed{"fußball", "example.com", ""}, ""},
		{"π@example.com", parsed{"π", "example.com", ""}, ""},
		{"Σ@example.com/foo", parsed{"σ", "example.com", "foo"}, "σ@example.com/foo"},
		{"σ@example.com/foo", parsed{"σ", "example.com", "foo"}, ""},
		{"ς@example.com/foo", parsed{"ς", "example.com", "foo"}, ""},
		{"king@example.com/♚", parsed{"king", "example.com", "♚"}, ""},
		{"example.com", parsed{"", "example.com", ""}, ""},
		{"example.com/foobar", parsed{"", "example.com", "foobar"}, ""},
		{"a.example.com/b@example.net", parsed{"", "a.example.com", "b@example.net"}, ""},

		// Brief cases.
		{"ｒｏｍｅｏ@example.net", parsed{"romeo", "example.net", ""}, "romeo@example.net"},
		{"Juliet@EXAMPLE.com/Balcony", parsed{"juliet", "example.com", "Balcony"}, "juliet@example.com/Balcony"},

		// Splitting: first '/', then last '@' before it.
		{"juliet@example.com/a@b@c", parsed{"juliet", "example.com", "a@b@c"}, ""},
		{"juliet@example.com/a/b/c", parsed{"juliet", "example.com", "a/b/c"}, ""},
		{"example.com/@", parsed{"", "example.com", "@"}, ""},

		// Domainpart forms.
		{"juliet@example.com.", parsed{"juliet", "example.com", ""}, "juliet@example.com"},
		{"example.com./r", parsed{"", "example.com", "r"}, "example.com/r"},
		{"example.com\u3002", parsed{"", "example.com", ""}, "example.com"},
		{"localhost", parsed{"", "localhost", ""}, ""},
		{"192.0.2.1", parsed{"", "192.0.2.1", ""}, ""},
		{"juliet@[2001:DB8::0001]/x", parsed{"juliet", "[2001:db8::1]", "x"}, "juliet@[2001:db8::1]/x"},
		{"[::1]", parsed{"", "[::1]", ""}, ""},
		{"xn--bcher-kva.example", parsed{"", "bücher.example", ""}, "bücher.example"},
		{"BÜCHER.example", parsed{"", "bücher.example", ""}, "bücher.example"},
		{"ｅｘａｍｐｌｅ．ｃｏｍ", parsed{"", "example.com", ""}, "example.com"},
		{"a-b.c-d.example", parsed{"", "a-b.c-d.example", ""}, ""},
		{"a--b.example", parsed{"", "a--b.example", ""}, ""},

		// Resourcepart keeps case and maps non-ASCII spaces.
		{"example.com/Foo\u00a0Bar", parsed{"", "example.com", "Foo Bar"}, "example.com/Foo Bar"},
		{"example.com/ ", parsed{"", "example.com", " "}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			j, err := Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse(%q) error: %v", tc.in, err)
			}
			got := parsed{j.Local(), j.Domain(), j.Resource()}
			if got != tc.want {
				t.Fatalf("Parse(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
			wantStr := tc.str
			if wantStr == "" {
				wantStr = tc.in
			}
			if j.String() != wantStr {
				t.Errorf("String() = %q, want %q", j.String(), wantStr)
			}
			again, err := Parse(j.String())
			if err != nil || again != j {
				t.Errorf("Parse(String()) = %v, %v; want %v", again, err, j)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []string{
		// RFC 7622 §3.5 invalid examples.
		`"juliet"@example.com`,
		"foo bar@example.com",
		"juliet@example.com/",
		"@example.com/",
		"henry\u2163@example.com", // ROMAN NUMERAL FOUR
		"♚@example.com",
		"juliet@",
		"/foobar",

		// Brief cases.
		"@example.com",
		"user@",
		"example.com/",
		"",

		// RFC 7622 §3.3.1 forbidden localpart characters, also when
		// produced by width mapping.
		"a&b@example.com",
		"a'b@example.com",
		"a:b@example.com",
		"a<b@example.com",
		"a>b@example.com",
		"a\uff20b@example.com",   // FULLWIDTH COMMERCIAL AT
		"a\uff0fb@example.com",   // FULLWIDTH SOLIDUS
		"a\uff02b@example.com",   // FULLWIDTH QUOTATION MARK
		"a\u0000b@example.com",   // control
		"\xffjuliet@example.com", // invalid UTF-8

		// Domainparts.
		".",
		"example.com..",
		"a..b",
		".example.com",
		"exa mple.com",
		"exa_mple.com",
		"-example.com",
		"example-.com",
		"ab--cd.example",
		"xn--a.example", // bogus A-label
		"[::1",
		"[1.2.3.4]",
		"[fe80::1%eth0]",
		"[::1].",
		"example.com\uff0f",
		"juliet@example.com\u3002\u3002",

		// Resourceparts.
		"example.com/a\u0007b",
		"example.com/\xff",

		// Length limits (1023 bytes per part after enforcement).
		strings.Repeat("a", 1024) + "@example.com",
		"example.com/" + strings.Repeat("r", 1024),
		strings.Repeat("abcdefg.", 128) + "a",
		"example.com/r\xff",
		"example.\xffcom",
		strings.Repeat("a", maxRawPartLen+1) + "@example.com",
		strings.Repeat("ａ", 1024) + "@example.com", // shrinks to 1024 bytes
	}
	for _, in := range tests {
		j, err := Parse(in)
		if err == nil {
			t.Errorf("Parse(%q) = %q, want error", in, j)
			continue
		}
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("Parse(%q) error %v does not wrap ErrMalformed", in, err)
		}
		if j != (JID{}) {
			t.Errorf("Parse(%q) returned non-zero JID %q on error", in, j)
		}
	}
}

func TestLengthBoundaries(t *testing.T) {
	local := strings.Repeat("a", MaxPartLen)
	res := strings.Repeat("R", MaxPartLen)
	dom := strings.Repeat("a", 63) + "." + strings.Repeat("b", MaxPartLen-64)
	j, err := New(local, dom, res)
	if err != nil {
		t.Fatalf("New at max lengths: %v", err)
	}
	if len(j.Local()) != MaxPartLen || len(j.Domain()) != MaxPartLen || len(j.Resource()) != MaxPartLen {
		t.Fatalf("unexpected lengths %d/%d/%d", len(j.Local()), len(j.Domain()), len(j.Resource()))
	}
	// Fullwidth input longer than 1023 bytes that shrinks to exactly 1023.
	wide := strings.Repeat("ａ", MaxPartLen)
	j, err = Parse(wide + "@example.com")
	if err != nil {
		t.Fatalf("Parse(fullwidth 1023): %v", err)
	}
	if j.Local() != local {
		t.Fatalf("fullwidth local not mapped")
	}
}

func TestFullwidthEqualsASCII(t *testing.T) {
	a := MustParse("ｒｏｍｅｏ@example.net")
	b := MustParse("romeo@example.net")
	if !a.Equal(b) || a != b {
		t.Fatalf("%q != %q", a, b)
	}
	if MustParse("Romeo@Example.NET/Orchard") == MustParse("romeo@example.net/orchard") {
		t.Fatal("resourcepart must stay case-sensitive")
	}
	if MustParse("Romeo@Example.NET/Orchard") != MustParse("romeo@example.net./Orchard") {
		t.Fatal("localpart/domainpart must be case-insensitive")
	}
}

func TestNew(t *testing.T) {
	j, err := New("Juliet", "EXAMPLE.com", "Balcony")
	if err != nil {
		t.Fatal(err)
	}
	if j != MustParse("juliet@example.com/Balcony") {
		t.Fatalf("New = %q", j)
	}
	j, err = New("", "example.com", "")
	if err != nil || j.String() != "example.com" || !j.IsBare() || j.Local() != "" {
		t.Fatalf("New domain only = %q, %v", j, err)
	}
	// New does not split: '@' and '/' inside parts are checked per part.
	if _, err := New("a@b", "example.com", ""); !errors.Is(err, ErrMalformed) {
		t.Errorf("New with '@' in local: err = %v", err)
	}
	if j, err := New("a", "example.com", "x/y@z"); err != nil || j.Resource() != "x/y@z" {
		t.Errorf("New with '/' in resource = %q, %v", j, err)
	}
	if _, err := New("a", "exa/mple.com", ""); !errors.Is(err, ErrMalformed) {
		t.Errorf("New with '/' in domain: err = %v", err)
	}
	if _, err := New("a", "", ""); !errors.Is(err, ErrMalformed) {
		t.Errorf("New with empty domain: err = %v", err)
	}
}

func TestAccessorsAndDerived(t *testing.T) {
	full := MustParse("juliet@example.com/balcony")
	bare := full.Bare()
	if bare.String() != "juliet@example.com" || !bare.IsBare() || full.IsBare() {
		t.Fatalf("Bare = %q", bare)
	}
	if bare != MustParse("juliet@example.com") {
		t.Fatal("Bare not equal to parsed bare JID")
	}
	dj := full.DomainJID()
	if dj.String() != "example.com" || dj != MustParse("example.com") {
		t.Fatalf("DomainJID = %q", dj)
	}
	wr, err := bare.WithResource("Chamber")
	if err != nil || wr.String() != "juliet@example.com/Chamber" {
		t.Fatalf("WithResource = %q, %v", wr, err)
	}
	wr, err = full.WithResource("")
	if err != nil || wr != bare {
		t.Fatalf("WithResource(\"\") = %q, %v", wr, err)
	}
	if _, err := full.WithResource("bad\u0007"); !errors.Is(err, ErrMalformed) {
		t.Fatalf("WithResource(control) err = %v", err)
	}
	if _, err := (JID{}).WithResource("r"); !errors.Is(err, ErrMalformed) {
		t.Fatalf("zero.WithResource err = %v", err)
	}
	var zero JID
	if !zero.IsZero() || zero.String() != "" || full.IsZero() {
		t.Fatal("IsZero/String on zero value wrong")
	}
	if !zero.Bare().IsZero() || !zero.DomainJID().IsZero() {
		t.Fatal("derived from zero not zero")
	}
	if full.Equal(bare) || !full.Equal(MustParse("Juliet@Example.COM/balcony")) {
		t.Fatal("Equal wrong")
	}
}

func TestTextRoundTrip(t *testing.T) {
	in := MustParse("ｒｏｍｅｏ@Example.net/Orchard")
	b, err := in.MarshalText()
	if err != nil || string(b) != "romeo@example.net/Orchard" {
		t.Fatalf("MarshalText = %q, %v", b, err)
	}
	var out JID
	if err := out.UnmarshalText(b); err != nil || out != in {
		t.Fatalf("UnmarshalText = %q, %v", out, err)
	}
	if err := out.UnmarshalText([]byte("@bad")); !errors.Is(err, ErrMalformed) {
		t.Fatalf("UnmarshalText(bad) err = %v", err)
	}
	if out != in {
		t.Fatal("UnmarshalText modified receiver on error")
	}
}

func TestMustParsePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("MustParse did not panic")
		}
	}()
	MustParse("@")
}
