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
