package transfer

import (
	"testing"

	"github.com/parley-xmpp/parley/xmpp/stanza"
)

func TestParseInviteUses(t *testing.T) {
	base := func(uses string) *stanza.Element {
		el := stanza.New(NS, "invite", "token", "t0k", "domain", "example.org", "max-uses", "3",
			"created", "2024-01-02T03:04:05Z")
		el.Set("uses", uses)
		return el
	}
	for _, c := range []struct {
		uses string
		want int
		ok   bool
	}{
		{"", 0, true},
		{"2", 2, true},
		{"two", 0, false},
		{"-1", 0, false},
	} {
		inv, err := parseInvite(base(c.uses))
		if (err == nil) != c.ok || (c.ok && inv.Uses != c.want) {
			t.Errorf("uses=%q: got %d, %v; want %d, ok=%v", c.uses, inv.Uses, err, c.want, c.ok)
		}
	}
}
