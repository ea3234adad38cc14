package stream

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// checkErr fails unless err is one of the documented kinds.
func checkErr(t *testing.T, err error) {
	t.Helper()
	var se *Error
	if err != io.EOF && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.As(err, &se) {
		t.Fatalf("unexpected error kind: %v", err)
	}
}

func FuzzDecoder(f *testing.F) {
	f.Add([]byte("<message to='a@b' type='chat'><body>hi &amp; bye</body></message></stream:stream>"))
	f.Add([]byte("<message><body>\xEB\x3C\x3E</body></message>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := Limits{MaxStanzaBytes: 4096, MaxDepth: 16, MaxElements: 64}
		d := NewDecoder(io.MultiReader(bytes.NewReader([]byte(testHeader)), bytes.NewReader(data)), lim)
		if _, err := d.ReadHeader(); err != nil {
			t.Fatal(err)
		}
		for {
			el, err := d.Next()
			if err != nil {
				checkErr(t, err)
				return
			}
			roundTrip(t, el)
		}
	})
}

// FuzzReadHeader feeds arbitrary stream openings to ReadHeader: it never
// fails other than with a stream error (or EOF), and what it accepts
// declares XML 1.0 or nothing.
func FuzzReadHeader(f *testing.F) {
	f.Add([]byte(testHeader))
	f.Add([]byte("<?xml version='1.1'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"))
	f.Add([]byte("<?xml version='1.0' encoding='UTF-8' standalone='no'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewDecoder(bytes.NewReader(data), Limits{MaxStanzaBytes: 4096, MaxDepth: 16, MaxElements: 64})
		if _, err := d.ReadHeader(); err != nil {
			checkErr(t, err)
			return
		}
		if rest, ok := bytes.CutPrefix(bytes.TrimLeft(data, "\ufeff"), []byte("<?xml")); ok {
			decl, _, _ := bytes.Cut(rest, []byte("?>"))
			if !bytes.Contains(decl, []byte("'1.0'")) && !bytes.Contains(decl, []byte(`"1.0"`)) {
				t.Fatalf("accepted a declaration of another XML version: %q", decl)
			}
		}
	})
}

func FuzzParseElement(f *testing.F) {
	f.Add([]byte("<a xmlns='urn:x' xmlns:p='urn:p' p:b='1' xml:lang='en'>t<![CDATA[<c>]]><p:d/></a>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		el, err := ParseElement(data, Limits{MaxStanzaBytes: 8192, MaxDepth: 32})
		if err != nil {
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("error is not a stream error: %v", err)
			}
			return
		}
		roundTrip(t, el)
	})
}
