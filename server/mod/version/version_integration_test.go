package version_test

import (
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/mod/version"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

func query(t *testing.T, s *xmpptest.Server) *stanza.Element {
	t.Helper()
	s.AddUser(t, "alice", "pw")
	c := s.Client(t, "alice", "pw", "desk")
	ctx := xmpptest.Context(t, 10*time.Second)
	res, err := c.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", s.Domain(), stanza.New(version.NS, "query")))
	if err != nil {
		t.Fatalf("version query: %v", err)
	}
	q := res.Child(version.NS, "query")
	if q == nil {
		t.Fatalf("no query in %s", res)
	}
	if q.Child(version.NS, "os") != nil {
		t.Errorf("os disclosed: %s", q)
	}
	if q.ChildText(version.NS, "name") != "Parley" {
		t.Errorf("name = %q", q.ChildText(version.NS, "name"))
	}
	if q.Child(version.NS, "version") == nil {
		t.Errorf("required <version/> missing: %s", q)
	}
	return q
}

func TestVersionIntegration(t *testing.T) {
	q := query(t, xmpptest.NewServer(t))
	if q.ChildText(version.NS, "version") == "" {
		t.Errorf("version empty: %s", q)
	}
}

func TestVersionHiddenIntegration(t *testing.T) {
	s := xmpptest.NewServer(t, func(c *config.Config) { c.Modules.SetSection("version", map[string]any{"hide": true}) })
	if v := query(t, s).ChildText(version.NS, "version"); v != "" {
		t.Errorf("hidden version disclosed: %q", v)
	}
}
