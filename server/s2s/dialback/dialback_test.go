package dialback_test

import (
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/s2s/dialback"
)

// The two worked examples of XEP-0220 (§2.1.1 and §2.1.2).
func TestKeyMatchesTheSpecification(t *testing.T) {
	for _, tc := range []struct{ secret, receiving, originating, id, want string }{
		{"s3cr3tf0rd14lb4ck", "montague.example", "capulet.example", "D60000229F", "b4835385f37fe2895af6c196b59097b16862406db80559900d96bf6fa7d23df3"},
		{"d14lb4ck43v3r", "capulet.example", "montague.example", "417GAF25", "225cc5aa6a071133249d25fef42ae516fc7a86c523aa1c6980a7f73e784c972d"},
	} {
		k, err := dialback.New([]byte(tc.secret))
		if err != nil {
			t.Fatal(err)
		}
		if got := k.Key(tc.receiving, tc.originating, tc.id); got != tc.want {
			t.Errorf("Key(%q, %q, %q) = %s, want %s", tc.receiving, tc.originating, tc.id, got, tc.want)
		}
		if !k.Check(tc.want, tc.receiving, tc.originating, tc.id) || !k.Check(strings.ToUpper(tc.want), tc.receiving, tc.originating, tc.id) {
			t.Errorf("Check refuses the specification's key %s", tc.want)
		}
	}
}

func TestCheckRefusesOtherInputs(t *testing.T) {
	k, err := dialback.NewRandom()
	if err != nil {
		t.Fatal(err)
	}
	key := k.Key("a.example", "b.example", "id1")
	for name, ok := range map[string]bool{
		"other stream":       k.Check(key, "a.example", "b.example", "id2"),
		"swapped domains":    k.Check(key, "b.example", "a.example", "id1"),
		"shifted separators": k.Check(k.Key("a.example b", ".example", "id1"), "a.example", "b.example", "id1"),
		"truncated":          k.Check(key[:63], "a.example", "b.example", "id1"),
		"not hex":            k.Check("z"+key[1:], "a.example", "b.example", "id1"),
		"empty":              k.Check("", "a.example", "b.example", "id1"),
	} {
		if ok {
			t.Errorf("%s: Check accepted a key it did not make for these inputs", name)
		}
	}
	other, err := dialback.NewRandom()
	if err != nil {
		t.Fatal(err)
	}
	if other.Check(key, "a.example", "b.example", "id1") {
		t.Error("a key made with another secret was accepted")
	}
	if !k.Check(key, "a.example", "b.example", "id1") {
		t.Error("Check refused its own key")
	}
	if _, err := dialback.New(nil); err == nil {
		t.Error("New accepted an empty secret")
	}
}
