package jid

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// asciiAlphabet is biased towards characters that matter to the fast paths.
const asciiAlphabet = "abcxyzABCXYZ0129-.-.@/ \"&'/:<>\\_~!#$%()*+,;=?[]^`{|}"

// randomASCII returns a random string of printable ASCII (and occasionally
// a byte from the full printable range) of length 1..maxLen.
func randomASCII(r *rand.Rand, maxLen int) string {
	n := 1 + r.IntN(maxLen)
	var b strings.Builder
	for range n {
		if r.IntN(4) == 0 {
			b.WriteByte(byte(' ' + r.IntN(0x7f-' ')))
		} else {
			b.WriteByte(asciiAlphabet[r.IntN(len(asciiAlphabet))])
		}
	}
	return b.String()
}

// allShortASCII returns every printable ASCII string of length 1 and 2.
func allShortASCII() []string {
	var out []string
	for a := byte(' '); a < 0x7f; a++ {
		out = append(out, string([]byte{a}))
		for c := byte(' '); c < 0x7f; c++ {
			out = append(out, string([]byte{a, c}))
		}
	}
	return out
}

// checkFast asserts that whenever fast accepts s, slow returns s unchanged
// and without error. Since enforceX(s) is fast(s) ? s : slow(s), this is
// exactly the statement that both paths give identical results.
func checkFast(t *testing.T, name string, fast func(string) bool, slow func(string) (string, error), s string) bool {
	t.Helper()
	if !fast(s) {
		return false
	}
	got, err := slow(s)
	if err != nil || got != s {
		t.Errorf("%s fast path accepts %q but slow path gives %q, %v", name, s, got, err)
	}
	return true
}

func TestFastPathMatchesSlowPath(t *testing.T) {
	r := rand.New(rand.NewPCG(7622, 8265))
	inputs := allShortASCII()
	for range 20000 {
		inputs = append(inputs, randomASCII(r, 24))
	}
	// Plausible domain-like strings so the domain fast path is exercised.
	const domAlpha = "abz09-."
	for range 20000 {
		n := 1 + r.IntN(20)
		b := make([]byte, n)
		for i := range b {
			b[i] = domAlpha[r.IntN(len(domAlpha))]
		}
		inputs = append(inputs, string(b))
	}
	var nLocal, nRes, nDom int
	for _, s := range inputs {
		if checkFast(t, "localpart", fastLocal, slowLocal, s) {
			nLocal++
		}
		if checkFast(t, "resourcepart", fastResource, slowResource, s) {
			nRes++
		}
		if checkFast(t, "domainpart", fastDomain, slowDomain, s) {
			nDom++
		}
	}
	// Guard against a vacuous test: each fast path must actually fire.
	if nLocal < 1000 || nRes < 1000 || nDom < 1000 {
		t.Fatalf("fast paths rarely taken: local=%d resource=%d domain=%d", nLocal, nRes, nDom)
	}
}

// parseSlow is a reference parser that never takes the fast paths.
func parseSlow(s string) (JID, error) {
	rest, res, hasRes := strings.Cut(s, "/")
	var local, dom string
	hasLocal := false
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		local, dom, hasLocal = rest[:at], rest[at+1:], true
	} else {
		dom = rest
	}
	if (hasLocal && local == "") || (hasRes && res == "") || dom == "" || len(local) > maxRawPartLen ||
		len(dom) > maxRawPartLen || len(res) > maxRawPartLen {
		return JID{}, ErrMalformed
	}
	var j JID
	var err error
	if dom[0] == '[' {
		j.domain, err = enforceIPv6(dom)
	} else {
		j.domain, err = slowDomain(stripTrailingDot(dom))
	}
	if err != nil {
		return JID{}, err
	}
	if hasLocal {
		if j.local, err = slowLocal(local); err != nil {
			return JID{}, err
		}
	}
	if hasRes {
		if j.resource, err = slowResource(res); err != nil {
			return JID{}, err
		}
	}
	return j, nil
}

func TestParseMatchesSlowReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	parts := []string{"", "juliet", "Juliet", "a.b", "ex-ample", "x--y", "a b", "a&b", "-a", "a-", "ｒｏｍｅｏ", "@", "/", "..", "."}
	pick := func() string {
		if r.IntN(2) == 0 {
			return parts[r.IntN(len(parts))]
		}
		return randomASCII(r, 10)
	}
	for range 30000 {
		s := pick()
		if r.IntN(3) > 0 {
			s += "@" + pick()
		}
		if r.IntN(2) == 0 {
			s += "/" + pick()
		}
		got, gotErr := Parse(s)
		want, wantErr := parseSlow(s)
		if (gotErr == nil) != (wantErr == nil) || got != want {
			t.Fatalf("Parse(%q) = %q, %v; slow reference = %q, %v", s, got, gotErr, want, wantErr)
		}
	}
}
