package component_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/caps"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/disco"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// discoInfo asks to for its disco#info from c.
func discoInfo(t *testing.T, c *client.Client, to string) disco.Info {
	t.Helper()
	res, err := c.SendIQ(xmpptest.Context(t, xmpptest.Wait), stanza.NewIQ(stanza.TypeGet, "", to, stanza.New(disco.NSInfo, "query")))
	if err != nil {
		t.Fatalf("disco#info of %q: %v", to, err)
	}
	info, err := disco.ParseInfo(res.Child(disco.NSInfo, "query"))
	if err != nil {
		t.Fatalf("disco#info of %q: %v in %s", to, err, res)
	}
	if err := caps.Check(info); err != nil {
		t.Fatalf("disco#info of %q ill-formed: %v in %s", to, err, res)
	}
	return info
}

// capsVer logs a new client in and returns the 'ver' of the caps stream
// feature it was offered, checking it against the server's disco#info.
func capsVer(t *testing.T, s *xmpptest.Server) string {
	t.Helper()
	c := s.Client(t, "carol", "pw", "caps")
	defer c.Close()
	cf, err := caps.Parse(c.Features().Child(caps.NS, "c"))
	if err != nil {
		t.Fatalf("caps stream feature: %v in %s", err, c.Features())
	}
	want, _ := caps.Ver(discoInfo(t, c, s.Domain()), caps.SHA1)
	if cf.Ver != want {
		t.Fatalf("caps stream feature 'ver' %s, disco#info hashes to %s", cf.Ver, want)
	}
	return cf.Ver
}

// TestDiscoNesting: XEP-0355 §9.2. For a delegated namespace the
// server's disco#info (and a bare JID's, for the :bare: node) lists the
// managing component's features, asked when it connects, instead of the
// server's own; they go when it does.
func TestDiscoNesting(t *testing.T) {
	s, addr := serverWith(t, config.Privileges{}, "jabber:iq:version", "urn:xmpp:mam:2")
	alice := online(t, s, "alice")
	s.AddUser(t, "carol", "pw")
	own := alice.JID().Bare().String()

	// The component away: neither its features nor the server's own
	// for the namespaces it manages.
	server := discoInfo(t, alice, s.Domain())
	account := discoInfo(t, alice, own)
	for _, f := range []string{"jabber:iq:version", "urn:example:version#extra"} {
		if server.HasFeature(f) {
			t.Errorf("server disco#info lists %s with the component away: %v", f, server.Features)
		}
	}
	for _, f := range []string{"urn:xmpp:mam:2", "urn:xmpp:mam:2#extended", "urn:example:mam#extra"} {
		if account.HasFeature(f) {
			t.Errorf("account disco#info lists %s with the component away: %v", f, account.Features)
		}
	}
	if !server.HasFeature("urn:xmpp:delegation:2") || !server.HasFeature(disco.NSInfo) || !account.HasFeature("urn:xmpp:sid:0") {
		t.Fatalf("features not delegated went missing: %v, %v", server.Features, account.Features)
	}
	away := capsVer(t, s)

	gw := up(t, addr, "gw.localhost")
	gw.next() // the <delegation/> advertisement
	gw.answerNesting(s.Domain(), map[string]string{
		"urn:xmpp:delegation:2::jabber:iq:version": "<identity category='component' type='generic' name='versions'/>" +
			"<feature var='jabber:iq:version'/><feature var='urn:example:version#extra'/>" +
			"<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'><value>urn:example:version</value></field>" +
			"<field var='os'><value>plan9</value></field></x>",
		"urn:xmpp:delegation:2:bare:urn:xmpp:mam:2": "<feature var='urn:xmpp:mam:2'/><feature var='urn:example:mam#extra'/>",
	})
	xmpptest.Eventually(t, "the component's features are nested", func() bool {
		return discoInfo(t, alice, own).HasFeature("urn:example:mam#extra") && discoInfo(t, alice, s.Domain()).HasFeature("urn:example:version#extra")
	})
	server = discoInfo(t, alice, s.Domain())
	account = discoInfo(t, alice, own)
	if !server.HasFeature("jabber:iq:version") || !slices.ContainsFunc(server.Identities, func(id disco.Identity) bool { return id.Category == "component" && id.Name == "versions" }) ||
		!slices.ContainsFunc(server.Forms, func(x *stanza.Element) bool { return strings.Contains(x.String(), "plan9") }) {
		t.Errorf("server disco#info with the component: %+v", server)
	}
	if !server.HasFeature("urn:xmpp:delegation:2") || !hasIdentity(server, "server", "im") {
		t.Errorf("the server's own features went missing: %+v", server)
	}
	// The server's own MAM features are not listed, only the component's.
	if !account.HasFeature("urn:xmpp:mam:2") || account.HasFeature("urn:xmpp:mam:2#extended") || server.HasFeature("urn:example:mam#extra") {
		t.Errorf("account disco#info with the component: %v", account.Features)
	}
	nested := capsVer(t, s)
	if nested == away {
		t.Errorf("caps 'ver' %s did not change with the nested features", nested)
	}

	// The component goes: so do its features, and the caps are as before.
	gw.conn.Close()
	xmpptest.Eventually(t, "the component's features are withdrawn", func() bool {
		return !discoInfo(t, alice, own).HasFeature("urn:example:mam#extra") && !discoInfo(t, alice, s.Domain()).HasFeature("urn:example:version#extra")
	})
	if server := discoInfo(t, alice, s.Domain()); server.HasFeature("jabber:iq:version") || len(server.Identities) != 1 ||
		slices.ContainsFunc(server.Forms, func(x *stanza.Element) bool { return strings.Contains(x.String(), "plan9") }) {
		t.Errorf("server disco#info after the component went: %+v", server)
	}
	if v := capsVer(t, s); v != away {
		t.Errorf("caps 'ver' %s after the component went, want %s as before", v, away)
	}

	// Back, it is asked again.
	gw = up(t, addr, "gw.localhost")
	gw.next()
	gw.answerNesting(s.Domain(), map[string]string{"urn:xmpp:delegation:2:bare:urn:xmpp:mam:2": "<feature var='urn:example:mam#again'/>"})
	xmpptest.Eventually(t, "the component's features are nested again", func() bool {
		return discoInfo(t, alice, own).HasFeature("urn:example:mam#again")
	})
}

// answerNesting answers the server's four nesting queries (two
// namespaces, server and bare JID) with the content answers gives the
// node, <item-not-found/> for the others.
func (p *comp) answerNesting(server string, answers map[string]string) {
	p.t.Helper()
	asked := map[string]bool{}
	for len(asked) < 4 {
		q := p.expect("a nesting query", func(el *stanza.Element) bool {
			return el.Name.Local == "iq" && el.Type() == stanza.TypeGet && el.Child(disco.NSInfo, "query") != nil
		})
		node := q.Child(disco.NSInfo, "query").Get("node")
		if q.From() != server || asked[node] || !slices.Contains([]string{"urn:xmpp:delegation:2::jabber:iq:version", "urn:xmpp:delegation:2:bare:jabber:iq:version",
			"urn:xmpp:delegation:2::urn:xmpp:mam:2", "urn:xmpp:delegation:2:bare:urn:xmpp:mam:2"}, node) {
			p.t.Fatalf("nesting query %s", q)
		}
		asked[node] = true
		head := "<iq id='" + q.ID() + "' from='gw.localhost' to='" + q.From() + "'"
		if a, ok := answers[node]; ok {
			p.send(head + " type='result'><query xmlns='" + disco.NSInfo + "' node='" + node + "'>" + a + "</query></iq>")
		} else {
			p.send(head + " type='error'><query xmlns='" + disco.NSInfo + "' node='" + node + "'/>" +
				"<error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")
		}
	}
}

func hasIdentity(i disco.Info, category, typ string) bool {
	return slices.ContainsFunc(i.Identities, func(id disco.Identity) bool { return id.Category == category && id.Type == typ })
}
