package serverinfo_test

import (
	"slices"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/mod/serverinfo"
	"github.com/parley-xmpp/parley/xmpp/caps"
	"github.com/parley-xmpp/parley/xmpp/disco"
	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

func TestServerInfoForms(t *testing.T) {
	s := xmpptest.NewServer(t, func(c *config.Config) {
		c.ContactAddresses = config.ContactAddresses{
			Abuse:  []string{"mailto:abuse@localhost", "xmpp:abuse@localhost"},
			Status: []string{"https://status.localhost"},
		}
		c.ServerInfo = []config.InfoForm{{FormType: "urn:example:info", Fields: []config.InfoField{{Var: "motto", Values: []string{"Talk freely"}}}}}
	})
	s.AddUser(t, "alice", "pw")
	c := s.Client(t, "alice", "pw", "desk")
	ctx := xmpptest.Context(t, 30*time.Second)
	res, err := c.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", "localhost", stanza.New(disco.NSInfo, "query")))
	if err != nil {
		t.Fatal(err)
	}
	info, err := disco.ParseInfo(res.Child(disco.NSInfo, "query"))
	if err != nil {
		t.Fatal(err)
	}
	forms := map[string]*form.Form{}
	for _, x := range info.Forms {
		f, err := form.Parse(x)
		if err != nil {
			t.Fatalf("form %s: %v", x, err)
		}
		if f.Type != form.TypeResult {
			t.Errorf("form type %q", f.Type)
		}
		forms[f.FormType()] = f
	}
	si := forms[serverinfo.FormType]
	if si == nil {
		t.Fatalf("no serverinfo form in %s", res)
	}
	if f := si.Field("abuse-addresses"); f == nil || !slices.Equal(f.Values, []string{"mailto:abuse@localhost", "xmpp:abuse@localhost"}) {
		t.Errorf("abuse-addresses %+v", f)
	}
	if f := si.Field("status-addresses"); f == nil || f.Value() != "https://status.localhost" {
		t.Errorf("status-addresses %+v", f)
	}
	if si.Field("admin-addresses") != nil {
		t.Error("an unconfigured field is advertised")
	}
	if f := forms["urn:example:info"]; f == nil || f.Field("motto") == nil || f.Field("motto").Value() != "Talk freely" {
		t.Errorf("extra form %+v", f)
	}
	// The forms are part of the caps hash the server advertises.
	ver, err := caps.Ver(info, caps.SHA1)
	if err != nil {
		t.Fatal(err)
	}
	feat := c.Features().Child(caps.NS, "c")
	if feat == nil || feat.Get("ver") != ver {
		t.Errorf("stream caps %v, want ver %s", feat, ver)
	}
}

func TestNothingConfigured(t *testing.T) {
	s := xmpptest.NewServer(t)
	s.AddUser(t, "alice", "pw")
	c := s.Client(t, "alice", "pw", "desk")
	ctx := xmpptest.Context(t, 30*time.Second)
	res, err := c.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", "localhost", stanza.New(disco.NSInfo, "query")))
	if err != nil {
		t.Fatal(err)
	}
	if x := res.Child(disco.NSInfo, "query").Child(form.NS, "x"); x != nil {
		t.Errorf("a form without configuration: %s", x)
	}
}
