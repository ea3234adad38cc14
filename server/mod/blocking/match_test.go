package blocking

import (
	"testing"

	"github.com/parley-xmpp/parley/xmpp/jid"
)

func TestMatches(t *testing.T) {
	cases := []struct {
		item, j string
		want    bool
	}{
		{"romeo@montague.net/orchard", "romeo@montague.net/orchard", true},
		{"romeo@montague.net/orchard", "romeo@montague.net/garden", false},
		{"romeo@montague.net/orchard", "romeo@montague.net", false},
		{"romeo@montague.net", "romeo@montague.net", true},
		{"romeo@montague.net", "romeo@montague.net/orchard", true},
		{"romeo@montague.net", "benvolio@montague.net", false},
		{"montague.net/bot", "montague.net/bot", true},
		{"montague.net/bot", "montague.net/other", false},
		{"montague.net/bot", "romeo@montague.net/bot", false},
		{"montague.net", "montague.net", true},
		{"montague.net", "montague.net/bot", true},
		{"montague.net", "romeo@montague.net/orchard", true},
		{"montague.net", "romeo@capulet.net", false},
		{"montague.net", "chat.montague.net", false},
	}
	for _, c := range cases {
		if got := Matches(jid.MustParse(c.item), jid.MustParse(c.j)); got != c.want {
			t.Errorf("Matches(%s, %s) = %v, want %v", c.item, c.j, got, c.want)
		}
	}
}
