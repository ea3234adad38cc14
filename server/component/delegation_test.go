package component_test

import (
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/disco"
	"github.com/parley-xmpp/parley/xmpp/privilege"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

type iqResult struct {
	res *stanza.Element
	err error
}

// ask sends an IQ from c in the background.
func ask(t *testing.T, c *client.Client, iq *stanza.Element) <-chan iqResult {
	ch := make(chan iqResult, 1)
	ctx := xmpptest.Context(t, xmpptest.Wait)
	go func() {
		res, err := c.SendIQ(ctx, iq)
		ch <- iqResult{res, err}
	}()
	return ch
}

// delegated waits for a delegated request and returns it with the
// request it carries.
func (p *comp) delegated() (outer, inner *stanza.Element) {
	p.t.Helper()
	outer = p.expect("a delegated IQ", func(el *stanza.Element) bool {
		return el.Name.Local == "iq" && el.Child(privilege.NSDelegation, "delegation") != nil
	})
	inner, err := privilege.Forwarded(outer, privilege.NSDelegation)
	if err != nil {
		p.t.Fatalf("delegated %s: %v", outer, err)
	}
	return outer, inner
}

// answerDelegated answers outer with inner wrapped.
func (p *comp) answerDelegated(outer *stanza.Element, inner string) {
	p.send("<iq type='result' id='" + outer.ID() + "' from='gw.localhost' to='" + outer.From() + "'><delegation xmlns='urn:xmpp:delegation:2'><forwarded xmlns='urn:xmpp:forward:0'>" + inner + "</forwarded></delegation></iq>")
}

func TestDelegation(t *testing.T) {
	s, addr := serverWith(t, config.Privileges{}, "jabber:iq:version", "urn:example:store")
	alice := online(t, s, "alice")
	gw := up(t, addr, "gw.localhost")
	gw.next() // the <delegation/> advertisement

	// An IQ to the server of a delegated namespace goes to the component,
	// wrapped; its answer comes back unwrapped.
	got := ask(t, alice, stanza.NewIQ(stanza.TypeGet, "v1", "localhost", stanza.New("jabber:iq:version", "query")))
	outer, inner := gw.delegated()
	if outer.From() != "localhost" || outer.Type() != stanza.TypeSet || inner.From() != alice.JID().String() || inner.ID() != "v1" || inner.To() != "localhost" {
		t.Fatalf("delegated %s", outer)
	}
	gw.answerDelegated(outer, "<iq xmlns='jabber:client' type='result' id='v1' to='"+alice.JID().String()+"'><query xmlns='jabber:iq:version'><name>delegate</name></query></iq>")
	if r := <-got; r.err != nil || r.res.From() != "localhost" || !strings.Contains(r.res.String(), "<name>delegate</name>") {
		t.Fatalf("answer: %v %v", r.res, r.err)
	}
	// To the user's own bare JID (no 'to') as well; an answer that does
	// not match the request is <service-unavailable/>.
	got = ask(t, alice, stanza.NewIQ(stanza.TypeSet, "st1", "", stanza.New("urn:example:store", "store")))
	outer, inner = gw.delegated()
	if inner.From() != alice.JID().String() || inner.ID() != "st1" {
		t.Fatalf("delegated %s", outer)
	}
	gw.answerDelegated(outer, "<iq xmlns='jabber:client' type='result' id='other' to='"+alice.JID().String()+"'/>")
	if r := <-got; r.err == nil || !strings.Contains(r.err.Error(), "service-unavailable") {
		t.Fatalf("mismatched answer: %v %v", r.res, r.err)
	}
	// An error from the component is <service-unavailable/> too.
	got = ask(t, alice, stanza.NewIQ(stanza.TypeSet, "st2", "", stanza.New("urn:example:store", "store")))
	outer, _ = gw.delegated()
	gw.send("<iq type='error' id='" + outer.ID() + "' from='gw.localhost' to='localhost'><error type='cancel'><feature-not-implemented xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")
	if r := <-got; r.err == nil || !strings.Contains(r.err.Error(), "service-unavailable") {
		t.Fatalf("error answer: %v %v", r.res, r.err)
	}
	// What the managing component itself asks is not delegated: the
	// server answers.
	gw.send("<iq type='get' id='own' from='gw.localhost' to='localhost'><query xmlns='jabber:iq:version'/></iq>")
	if r := gw.reply("own"); r.Type() != stanza.TypeResult || !strings.Contains(r.String(), "Parley") {
		t.Fatalf("the component's own request: %s", r)
	}
	// Other namespaces stay the server's, and the server advertises
	// delegation.
	res, err := alice.SendIQ(xmpptest.Context(t, xmpptest.Wait), stanza.NewIQ(stanza.TypeGet, "", "localhost", stanza.New(disco.NSInfo, "query")))
	if err != nil || !strings.Contains(res.String(), "urn:xmpp:delegation:2") {
		t.Fatalf("disco#info: %v %v", res, err)
	}
}

// TestDelegationComponentAway: with the component away, a delegated
// request is answered <service-unavailable/> once the component's grace
// is over.
func TestDelegationComponentAway(t *testing.T) {
	s, _ := serverWith(t, config.Privileges{}, "urn:example:store")
	alice := online(t, s, "alice")
	_, err := alice.SendIQ(xmpptest.Context(t, 15e9), stanza.NewIQ(stanza.TypeGet, "", "localhost", stanza.New("urn:example:store", "store")))
	if err == nil || !strings.Contains(err.Error(), "service-unavailable") {
		t.Fatalf("delegated request with the component away: %v", err)
	}
}

// TestTimeouts: a delegated IQ the component does not answer, and a
// privileged IQ nobody answers, are answered by the server once
// modules.privilege.timeout is over.
func TestTimeouts(t *testing.T) {
	s := xmpptest.NewServer(t, func(c *config.Config) {
		c.Components = []config.Component{
			{Domain: "gw.localhost", Secret: secret, Delegations: []string{"urn:example:store"},
				Privileges: config.Privileges{IQ: map[string]string{"urn:example:store": "get"}}},
			{Domain: "plain.localhost", Secret: secret},
		}
		c.Listeners = append(c.Listeners, config.Listener{Type: config.ListenerComponent, Address: "127.0.0.1:0"})
		mods, err := config.ParseModules("t.yaml", []byte("modules:\n  privilege: {timeout: 500ms}\n"), func(*config.Config) map[string]config.SectionDecoder {
			return map[string]config.SectionDecoder{"privilege": func(config.Section) error { return nil }}
		})
		if err != nil {
			t.Fatal(err)
		}
		c.Modules = mods.Modules
	})
	addr := s.App.Addrs(config.ListenerComponent)[0].String()
	alice := online(t, s, "alice")
	gw := up(t, addr, "gw.localhost")
	gw.next()
	plain := up(t, addr, "plain.localhost")

	got := ask(t, alice, stanza.NewIQ(stanza.TypeGet, "late", "localhost", stanza.New("urn:example:store", "store")))
	gw.delegated() // and never answered
	if r := <-got; r.err == nil || !strings.Contains(r.err.Error(), "service-unavailable") {
		t.Fatalf("unanswered delegated IQ: %v %v", r.res, r.err)
	}
	// A privileged IQ to an entity that never answers.
	gw.send("<iq type='get' id='pt' from='gw.localhost' to='alice@localhost'><privileged_iq xmlns='urn:xmpp:privilege:2'>" +
		"<iq xmlns='jabber:client' type='get' id='q' to='carol@plain.localhost'><store xmlns='urn:example:store'/></iq></privileged_iq></iq>")
	if q := plain.expect("the privileged request", func(el *stanza.Element) bool { return el.Name.Local == "iq" }); q.From() != "alice@localhost" || q.Child("urn:example:store", "store") == nil {
		t.Fatalf("plain.localhost got %s", q)
	}
	if r := gw.reply("pt"); errCondition(r) != stanza.RemoteServerTimeout {
		t.Fatalf("unanswered privileged IQ: %s", r)
	}
}
