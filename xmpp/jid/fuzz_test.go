package jid

import (
	"errors"
	"testing"
)

// FuzzParse checks that Parse never panics, that every error wraps
// ErrMalformed, and that parsing is idempotent: a successfully parsed JID
// re-parses from its String form to an identical value.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"juliet@example.com/foo bar", "Σ@example.com/foo", "ｒｏｍｅｏ@example.net",
		"example.com.", "[2001:db8::1]/r", "xn--bcher-kva.example", "a\uff20b@example.com",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		j, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse(%q) error %v does not wrap ErrMalformed", s, err)
			}
			if j != (JID{}) {
				t.Fatalf("Parse(%q) returned %q with error", s, j)
			}
			return
		}
		if j.IsZero() {
			t.Fatalf("Parse(%q) succeeded with zero JID", s)
		}
		again, err := Parse(j.String())
		if err != nil {
			t.Fatalf("Parse(%q) = %q, but re-parse failed: %v", s, j, err)
		}
		if again != j {
			t.Fatalf("Parse(%q) = %q (%q|%q|%q), re-parse = %q (%q|%q|%q)", s, j,
				j.Local(), j.Domain(), j.Resource(), again, again.Local(), again.Domain(), again.Resource())
		}
		n, err := New(j.Local(), j.Domain(), j.Resource())
		if err != nil || n != j {
			t.Fatalf("New(parts of %q) = %q, %v", j, n, err)
		}
		if b := j.Bare(); !b.IsBare() || b.Local() != j.Local() || b.Domain() != j.Domain() {
			t.Fatalf("Bare(%q) = %q", j, b)
		}
	})
}
