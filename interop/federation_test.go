package interop

import (
	"context"
	"crypto/tls"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/internal/testca"
	"github.com/parley-xmpp/parley/xmpp/caps"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/disco"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// The federation scenarios: a real `parley serve` federates with a real
// Prosody, a real ejabberd and a second Parley, each serving its own
// domain on its own loopback address, all on port 5269:
//
//	parley.test   127.0.0.2   (and conference.parley.test, its MUC service)
//	prosody.test  127.0.0.3
//	ejabberd.test 127.0.0.4
//	parley2.test  127.0.0.5
//
// Parley finds its peers through static routes (s2s.routes); Prosody and
// ejabberd find Parley through /etc/hosts lines the test adds and removes
// (addHosts). A user of each server, logged in with Parley's client
// library on that server's own address and port 5222, exchanges messages
// with a Parley user both ways, completes a subscription handshake both
// ways, sees the other's presence and a PEP update (an explicit XEP-0060
// subscription to the other's XEP-0172 nick node), and joins a room of
// Parley's MUC service and talks there. Each pair runs twice: with Server
// Dialback (certificates nobody trusts, the peer's default) and with SASL
// EXTERNAL (certificates from a CA the test makes, which every server
// trusts and, on Parley, requires: s2s.require_verified); with Prosody
// also once with trust one way only (each direction then authenticates
// its own way). Parley's log then says how each link authenticated.
//
// What real peers taught, besides the comments in interop/s2s:
//
//   - ejabberd 23.01 offers SASL EXTERNAL on an incoming stream even when
//     it cannot verify the initiator's certificate, and refuses it then
//     (<not-authorized/>, "self signed certificate"): Parley's initiator
//     goes on with dialback on the same stream, which ejabberd accepts.
//   - ejabberd notifies a remote contact of a PEP update only through
//     the contact's capabilities, never through an explicit subscription
//     (see fedUser.presence): every user here announces "+notify" for
//     nicks and answers disco#info.
//   - Prosody asks about a dialback key with <db:verify/> on its own
//     outgoing stream to the authoritative server, before that stream is
//     authenticated (right after its own <db:result/>): Parley answers
//     <db:verify/> on any incoming stream once TLS is on, authenticated
//     or not.
//   - A connection between two loopback addresses comes from 127.0.0.1,
//     whatever address the connecting server listens on.
//   - A server listening on port 5222 or 5269 of every address (a system
//     Prosody or ejabberd service, which .ci/run stops, or any other
//     `parley serve` at its defaults) keeps these servers from binding
//     their loopback addresses. On a shared machine, run the scenarios in
//     a network namespace of their own (unshare -n, then bring lo up).
//   - `parley user add` takes its flags before the account, and a
//     configuration naming the domain.

const (
	parleyDomain, parleyIP     = "parley.test", "127.0.0.2"
	prosodyDomain, prosodyIP   = "prosody.test", "127.0.0.3"
	ejabberdDomain, ejabberdIP = "ejabberd.test", "127.0.0.4"
	parley2Domain, parley2IP   = "parley2.test", "127.0.0.5"

	// fedTimeout bounds each step: the first stanza to a domain waits
	// for a link, authenticated with dialback through a second stream.
	fedTimeout = 20 * time.Second

	nsRoster      = "jabber:iq:roster"
	nsPubSub      = "http://jabber.org/protocol/pubsub"
	nsPubSubEvent = "http://jabber.org/protocol/pubsub#event"
	nsNick        = "http://jabber.org/protocol/nick"
	nsMUC         = "http://jabber.org/protocol/muc"
)

// hostsLines map the scenarios' names to their addresses for the servers
// that resolve names themselves (Prosody, ejabberd).
var hostsLines = []string{
	parleyIP + " " + parleyDomain + " conference." + parleyDomain,
	prosodyIP + " " + prosodyDomain,
	ejabberdIP + " " + ejabberdDomain,
	parley2IP + " " + parley2Domain + " conference." + parley2Domain,
}

// hostsMarker ends every line addHosts adds to /etc/hosts.
const hostsMarker = "# parley interop federation test"

// addHosts adds lines to /etc/hosts, each marked with hostsMarker, and
// removes them when the test ends (and any a killed run left behind). The
// file is rewritten in place: in a container it may be a bind mount that
// cannot be replaced.
func addHosts(t *testing.T, lines ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		need(t, "/etc/hosts", "the test maps its domains to loopback addresses in /etc/hosts, which needs root")
	}
	const hosts = "/etc/hosts"
	unmarked := func() string {
		b, err := os.ReadFile(hosts)
		if err != nil {
			t.Fatal(err)
		}
		var keep []string
		for _, l := range strings.SplitAfter(string(b), "\n") {
			if l != "" && !strings.HasSuffix(strings.TrimRight(l, "\n"), hostsMarker) {
				keep = append(keep, l)
			}
		}
		s := strings.Join(keep, "")
		if s != "" && !strings.HasSuffix(s, "\n") {
			s += "\n"
		}
		return s
	}
	text := unmarked()
	for _, l := range lines {
		text += l + " " + hostsMarker + "\n"
	}
	if err := os.WriteFile(hosts, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.WriteFile(hosts, []byte(unmarked()), 0o644); err != nil {
			t.Errorf("restoring %s: %v", hosts, err)
		}
	})
}

// fedServer is one server of a federation scenario, as its users see it.
type fedServer struct {
	name   string // for messages: "parley", "prosody", "ejabberd"
	domain string
	c2s    string      // host:port its users log in at (STARTTLS)
	tls    *tls.Config // their TLS configuration
	mech   string      // their SASL mechanism; "" for the best offered
	log    func() string
}

// startFederatedParley runs `parley serve` for domain on ip (ports 5222
// and 5269) with accounts alice and bob and the given static routes. With
// ca, its certificate (for domain and its MUC service) comes from ca,
// which it trusts and requires of its peers; without, it has its
// self-signed certificate and peers authenticate with dialback.
func startFederatedParley(t *testing.T, domain, ip string, routes map[string]string, ca *testca.CA) (*server, *fedServer) {
	t.Helper()
	shared := theServer(t) // for its binary
	dir := t.TempDir()
	s := &server{dir: dir, data: filepath.Join(dir, "data"), bin: shared.bin, log: &lockedBuffer{}, exited: make(chan struct{})}
	c2s, s2s := ip+":5222", ip+":5269"
	var y strings.Builder
	fmt.Fprintf(&y, "domains: [%s]\nlisteners:\n  - {type: c2s, address: %q}\n  - {type: s2s, address: %q}\n", domain, c2s, s2s)
	y.WriteString("auth: {scram_iterations: 4096}\nlog: {level: debug}\ns2s:\n  connect_timeout: 20s\n  routes:\n")
	for d, addr := range routes {
		fmt.Fprintf(&y, "    %s: %q\n", d, addr)
	}
	fs := &fedServer{name: "parley " + domain, domain: domain, c2s: c2s,
		tls: &tls.Config{InsecureSkipVerify: true}, log: s.log.String}
	if ca != nil {
		cert, key, caFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "ca.pem")
		serverCert(t, ca, domain, "conference."+domain).WritePEM(t, cert, key)
		ca.WritePEM(t, caFile)
		fmt.Fprintf(&y, "  ca_file: %q\n  require_verified: true\ntls:\n  certificates: [{cert: %q, key: %q}]\n", caFile, cert, key)
		fs.tls = &tls.Config{RootCAs: ca.Pool, ServerName: domain}
	}
	cfg := filepath.Join(dir, "parley.yaml")
	if err := os.WriteFile(cfg, []byte(y.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := addAccounts(s.bin, s.data, cfg, domain, []string{"alice", "bob"}); err != nil {
		t.Fatal(err)
	}
	if err := s.run(s.data, y.String(), c2s+" (STARTTLS)", s2s+" (servers, STARTTLS)"); err != nil {
		t.Fatalf("starting parley for %s: %v\n%s", domain, err, s.log.String())
	}
	t.Cleanup(s.stop)
	return s, fs
}

// prosodyServer runs Prosody for prosody.test with alice and bob (see
// startProsody); secure requires valid certificates of its peers.
func prosodyServer(t *testing.T, ca, trusts *testca.CA, secure bool) *fedServer {
	t.Helper()
	// Without lua-unbound Prosody's own resolver asks the system's DNS
	// server for the SRV records of parley.test, and a lookup that fails
	// (rather than finding none) ends the attempt before /etc/hosts is
	// read.
	if err := exec.Command("lua5.4", "-e", `require "lunbound"`).Run(); err != nil {
		need(t, "lua-unbound", "Prosody's resolver that reads /etc/hosts: apt-get install lua-unbound")
	}
	p := startProsody(t, ca, trusts, prosodyDomain, prosodyIP, map[string]string{"alice": password("alice"), "bob": password("bob")}, secure)
	return &fedServer{name: "prosody", domain: prosodyDomain, c2s: prosodyIP + ":5222",
		tls: &tls.Config{RootCAs: ca.Pool, ServerName: prosodyDomain}, log: p.log}
}

// ejabberdServer runs ejabberd for ejabberd.test on 127.0.0.4 (ports
// 5222 and 5269) with alice and bob, its certificate from ca, trusting ca
// for its peers: a peer whose certificate ca did not issue authenticates
// with dialback. It runs as user ejabberd (setpriv), with a folder of its
// own and its own Erlang node, never the system service.
func ejabberdServer(t *testing.T, ca *testca.CA, node string) *fedServer {
	t.Helper()
	if _, err := exec.LookPath("ejabberdctl"); err != nil {
		need(t, "ejabberd", "ejabberdctl not found on PATH; apt-get install ejabberd")
	}
	needRoot(t, "ejabberd")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := ownedTempDir(t, "ejabberd")
	b, err := os.ReadFile(filepath.Join(testDir(t), "s2s", "ejabberd.yml"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.NewReplacer("{{DIR}}", dir, "{{IP}}", ejabberdIP, "{{DOMAIN}}", ejabberdDomain).Replace(string(b))
	files := map[string]string{
		"ejabberd.yml": text,
		// ejabberdctl finds the node's name here (--config-dir).
		"ejabberdctl.cfg": "ERLANG_NODE=" + node + "\n",
		// Erlang's resolver, as ejabberdctl points it (ERL_INETRC): names
		// from this file and /etc/hosts. No DNS server answers on this
		// address; the SRV lookups ejabberd makes before the addresses
		// fail at once instead of waiting for the system's server.
		"inetrc": `{lookup, ["file", "native"]}.
{host, {127,0,0,1}, ["localhost"]}.
{host, {127,0,0,2}, ["parley.test", "conference.parley.test"]}.
{host, {127,0,0,4}, ["ejabberd.test"]}.
{nameserver, {127,0,0,1}, 53}.
`,
		".erlang.cookie": "parley-federation-test\n",
	}
	for name, body := range files {
		mode := os.FileMode(0o644)
		if name == ".erlang.cookie" {
			mode = 0o400
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	ca.WritePEM(t, filepath.Join(dir, "ca.pem"))
	serverCert(t, ca, ejabberdDomain).WritePEM(t, filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"))
	for _, d := range []string{"spool", "logs"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	chown(t, "ejabberd", dir)
	base := []string{"ejabberdctl", "--config-dir", dir, "--spool", filepath.Join(dir, "spool"),
		"--logs", filepath.Join(dir, "logs"), "--node", node}
	logs := func() string {
		var out strings.Builder
		for _, f := range []string{"ejabberd.log", "error.log", "crash.log"} {
			b, _ := os.ReadFile(filepath.Join(dir, "logs", f))
			fmt.Fprintf(&out, "--- %s:\n%s", f, b)
		}
		return out.String()
	}
	ctl := func(args ...string) {
		t.Helper()
		cmd := exec.CommandContext(ctx, "setpriv", append([]string{"--reuid=ejabberd", "--regid=ejabberd", "--init-groups",
			"env", "HOME=" + dir}, append(base, args...)...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ejabberdctl %s: %v\n%s\n%s", strings.Join(args, " "), err, out, logs())
		}
	}
	ctl("start")
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), time.Minute)
		defer scancel()
		for _, cmd := range []string{"stop", "stopped"} {
			exec.CommandContext(sctx, "setpriv", append([]string{"--reuid=ejabberd", "--regid=ejabberd", "--init-groups",
				"env", "HOME=" + dir}, append(base, cmd)...)...).Run()
		}
	})
	ctl("started")
	for _, u := range []string{"alice", "bob"} {
		ctl("register", u, ejabberdDomain, password(u))
	}
	return &fedServer{name: "ejabberd", domain: ejabberdDomain, c2s: ejabberdIP + ":5222",
		tls: &tls.Config{RootCAs: ca.Pool, ServerName: ejabberdDomain}, log: logs}
}

// fedUser is a user of one server of a scenario, logged in with Parley's
// client library.
type fedUser struct {
	t       *testing.T
	c       *client.Client
	logs    func() string // every server's log, for a failure
	backlog []*stanza.Element
}

// login logs user in, answers the server's roster pushes, gets the roster
// (so that the server counts the session as interested, RFC 6121 §2.1.6)
// and sends initial presence.
func (s *fedServer) login(t *testing.T, user string, logs func() string) *fedUser {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Config{JID: jid.MustParse(user + "@" + s.domain), Password: password(user),
		Address: s.c2s, TLS: s.tls, Mechanism: s.mech, Resource: "federation"})
	if err != nil {
		t.Fatalf("%s@%s logging into %s: %v\n%s", user, s.domain, s.name, err, logs())
	}
	t.Cleanup(func() { c.Close() })
	reply := func(iq, payload *stanza.Element) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c.Send(ctx, stanza.Result(iq, payload))
	}
	c.Handle(stanza.KindIQ, xml.Name{Space: nsRoster, Local: "query"}, func(iq *stanza.Element) { reply(iq, nil) })
	c.Handle(stanza.KindIQ, xml.Name{Space: disco.NSInfo, Local: "query"}, func(iq *stanza.Element) {
		info := fedClientInfo
		info.Node = iq.Payload().Get("node")
		reply(iq, info.Element())
	})
	u := &fedUser{t: t, c: c, logs: logs}
	u.iq(stanza.TypeGet, "", stanza.New(nsRoster, "query"))
	u.presence("")
	return u
}

// fedClientInfo is what the scenarios' clients answer to disco#info: they
// want PEP notifications of nicks (XEP-0163 §4.2, "+notify").
var fedClientInfo = disco.Info{
	Identities: []disco.Identity{{Category: "client", Type: "pc", Name: "Parley federation test"}},
	Features:   []string{caps.NS, disco.NSInfo, nsNick, nsNick + "+notify"},
}

// presence sends available presence with a status (unless empty) and
// the client's capabilities (XEP-0115), as every available presence of a
// client must carry them: ejabberd notifies remote contacts of PEP
// updates only through their capabilities (its PEP nodes deliver to
// explicit subscribers only when they have a session on ejabberd
// itself, pubsub#presence_based_delivery), and asks the client's
// disco#info for a capabilities hash it does not know.
func (u *fedUser) presence(status string) {
	u.t.Helper()
	ver, err := caps.Ver(fedClientInfo, caps.SHA1)
	if err != nil {
		u.t.Fatal(err)
	}
	p := stanza.New(stanza.NSClient, "presence")
	if status != "" {
		p.Append(stanza.New(stanza.NSClient, "status").AppendText(status))
	}
	node := "https://parley.example/federation-test"
	u.send(p.Append(caps.Caps{Hash: caps.SHA1, Node: node, Ver: ver}.Element()))
}

func (u *fedUser) bare() string { return u.c.JID().Bare().String() }
func (u *fedUser) full() string { return u.c.JID().String() }

func (u *fedUser) fail(format string, args ...any) {
	u.t.Helper()
	u.t.Fatalf("%s: %s\n%s", u.c.JID(), fmt.Sprintf(format, args...), u.logs())
}

func (u *fedUser) send(st *stanza.Element) {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), fedTimeout)
	defer cancel()
	if err := u.c.Send(ctx, st); err != nil {
		u.fail("sending %s: %v", st, err)
	}
}

// iq sends an IQ request and returns its result; an error fails the test.
func (u *fedUser) iq(typ, to string, payload *stanza.Element) *stanza.Element {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), fedTimeout)
	defer cancel()
	req := stanza.NewIQ(typ, "", to, payload)
	res, err := u.c.SendIQ(ctx, req)
	if err != nil {
		u.fail("%s: %v (reply %v)", req, err, res)
	}
	return res
}

// expect waits for a stanza matching ok, taking those received earlier
// but not yet matched first.
func (u *fedUser) expect(what string, ok func(*stanza.Element) bool) *stanza.Element {
	u.t.Helper()
	for i, st := range u.backlog {
		if ok(st) {
			u.backlog = append(u.backlog[:i:i], u.backlog[i+1:]...)
			return st
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), fedTimeout)
	defer cancel()
	for {
		st, err := u.c.Recv(ctx)
		if err != nil {
			var seen []string
			for _, b := range u.backlog {
				seen = append(seen, b.String())
			}
			u.fail("no %s: %v\nreceived meanwhile:\n%s", what, err, strings.Join(seen, "\n"))
		}
		if ok(st) {
			return st
		}
		u.backlog = append(u.backlog, st)
	}
}

func isPresence(st *stanza.Element, from, typ string) bool {
	return stanza.KindOf(st) == stanza.KindPresence && st.Type() == typ && (bareOf(st.From()) == from || st.From() == from)
}

// rosterItem polls u's roster until contact has the subscription want.
func (u *fedUser) rosterItem(contact, want string) {
	u.t.Helper()
	got := ""
	for deadline := time.Now().Add(fedTimeout); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		res := u.iq(stanza.TypeGet, "", stanza.New(nsRoster, "query"))
		got = ""
		for _, it := range res.Payload().ChildrenNamed(nsRoster, "item") {
			if it.Get("jid") == contact {
				got = it.Get("subscription")
			}
		}
		if got == want {
			return
		}
	}
	u.fail("roster item %s has subscription %q, want %q", contact, got, want)
}

// federate runs the scenario between alice of home (a Parley, whose MUC
// service hosts the room) and bob of away.
func federate(t *testing.T, home, away *fedServer) {
	logs := func() string {
		var b strings.Builder
		for _, s := range []*fedServer{home, away} {
			l := s.log()
			if len(l) > 60000 {
				l = "…" + l[len(l)-60000:]
			}
			fmt.Fprintf(&b, "--- %s log:\n%s\n", s.name, l)
		}
		return b.String()
	}
	alice, bob := home.login(t, "alice", logs), away.login(t, "bob", logs)

	// Messages both ways.
	for _, p := range [][2]*fedUser{{alice, bob}, {bob, alice}} {
		from, to := p[0], p[1]
		body := fmt.Sprintf("hello %s from %s <&> ü", to.bare(), from.bare())
		from.send(stanza.NewMessage(stanza.TypeChat, to.bare(), body))
		to.expect("the message from "+from.bare(), func(st *stanza.Element) bool {
			return stanza.KindOf(st) == stanza.KindMessage && bareOf(st.From()) == from.bare() &&
				st.ChildText("", "body") == body
		})
	}

	// An IQ to the other server itself (XEP-0199), its answer coming back
	// over the other direction's stream.
	for _, p := range [][2]*fedUser{{alice, bob}, {bob, alice}} {
		p[0].iq(stanza.TypeGet, p[1].c.JID().Domain(), stanza.New("urn:xmpp:ping", "ping"))
	}

	// The subscription handshake (RFC 6121 §3.1), one way then the other.
	for _, p := range [][2]*fedUser{{alice, bob}, {bob, alice}} {
		user, contact := p[0], p[1]
		user.send(stanza.New(stanza.NSClient, "presence", "to", contact.bare(), "type", "subscribe"))
		contact.expect("the subscription request of "+user.bare(), func(st *stanza.Element) bool {
			return isPresence(st, user.bare(), "subscribe")
		})
		contact.send(stanza.New(stanza.NSClient, "presence", "to", user.bare(), "type", "subscribed"))
		user.expect("the approval of "+contact.bare(), func(st *stanza.Element) bool {
			return isPresence(st, contact.bare(), "subscribed")
		})
	}
	alice.rosterItem(bob.bare(), "both")
	bob.rosterItem(alice.bare(), "both")

	// Presence broadcasts to the new contact.
	for _, p := range [][2]*fedUser{{alice, bob}, {bob, alice}} {
		user, contact := p[0], p[1]
		status := "federating from " + user.bare()
		user.presence(status)
		contact.expect("the presence of "+user.full(), func(st *stanza.Element) bool {
			return isPresence(st, user.full(), "") && st.From() == user.full() && st.ChildText("", "status") == status
		})
	}

	// Unavailable presence reaches the contact: bob leaves and comes
	// back, then alice leaves (presence is broadcast to available
	// resources only).
	unavailable := func(user, contact *fedUser) {
		user.send(stanza.New(stanza.NSClient, "presence", "type", "unavailable"))
		contact.expect("the unavailable presence of "+user.full(), func(st *stanza.Element) bool {
			return isPresence(st, user.full(), "unavailable") && st.From() == user.full()
		})
	}
	unavailable(bob, alice)
	bob.presence("back")
	alice.expect("bob's presence on his return", func(st *stanza.Element) bool {
		return isPresence(st, bob.full(), "") && st.ChildText("", "status") == "back"
	})

	// PEP (XEP-0163): the contact subscribes to the user's nick node
	// (XEP-0172) and is notified of the next publication.
	for _, p := range [][2]*fedUser{{alice, bob}, {bob, alice}} {
		user, contact := p[0], p[1]
		publish := func(nick string) {
			item := stanza.New(nsPubSub, "item").Append(stanza.New(nsNick, "nick").AppendText(nick))
			user.iq(stanza.TypeSet, "", stanza.New(nsPubSub, "pubsub").Append(
				stanza.New(nsPubSub, "publish", "node", nsNick).Append(item)))
		}
		publish(user.bare() + " (first)")
		contact.iq(stanza.TypeSet, user.bare(), stanza.New(nsPubSub, "pubsub").Append(
			stanza.New(nsPubSub, "subscribe", "node", nsNick, "jid", contact.bare())))
		nick := user.bare() + " (updated)"
		publish(nick)
		contact.expect("the PEP notification of "+user.bare()+"'s nick", func(st *stanza.Element) bool {
			ev := st.Child(nsPubSubEvent, "event")
			if stanza.KindOf(st) != stanza.KindMessage || st.From() != user.bare() || ev == nil {
				return false
			}
			items := ev.Child(nsPubSubEvent, "items")
			if items == nil || items.Get("node") != nsNick {
				return false
			}
			for _, it := range items.ChildrenNamed(nsPubSubEvent, "item") {
				if it.ChildText(nsNick, "nick") == nick {
					return true
				}
			}
			return false
		})
	}

	// A room on the home Parley: alice makes it (an instant room, XEP-0045
	// §10.1.2), bob joins from his server and they talk.
	room := "den@conference." + home.domain
	alice.send(stanza.New(stanza.NSClient, "presence", "to", room+"/alice").Append(stanza.New(nsMUC, "x")))
	alice.expect("alice in the room", func(st *stanza.Element) bool { return isPresence(st, room+"/alice", "") })
	instant := stanza.New(nsMUC+"#owner", "query").Append(stanza.New("jabber:x:data", "x", "type", "submit"))
	alice.iq(stanza.TypeSet, room, instant)
	bob.send(stanza.New(stanza.NSClient, "presence", "to", room+"/bob").Append(stanza.New(nsMUC, "x")))
	joined := bob.expect("bob's own presence in the room", func(st *stanza.Element) bool {
		return stanza.KindOf(st) == stanza.KindPresence && st.From() == room+"/bob"
	})
	if joined.Type() != "" {
		bob.fail("joining the room: %s", joined)
	}
	alice.expect("bob's arrival in the room", func(st *stanza.Element) bool { return isPresence(st, room+"/bob", "") })
	for _, p := range []struct {
		u    *fedUser
		nick string
	}{{bob, "bob"}, {alice, "alice"}} {
		body := "in the room, " + p.nick + " says hello"
		p.u.send(stanza.NewMessage(stanza.TypeGroupchat, room, body))
		for _, to := range []*fedUser{alice, bob} {
			to.expect("the room message of "+p.nick, func(st *stanza.Element) bool {
				return stanza.KindOf(st) == stanza.KindMessage && st.From() == room+"/"+p.nick && st.ChildText("", "body") == body
			})
		}
	}
	unavailable(alice, bob)
}

// checkAuth checks in a Parley's log that its links with peer, outgoing
// and incoming, authenticated with want ("dialback" or "SASL EXTERNAL").
func checkAuth(t *testing.T, s *server, peer, want string) {
	t.Helper()
	checkLinks(t, s, `msg="s2s: link up"`, peer, want)
	checkLinks(t, s, `msg="s2s: incoming stream authenticated"`, peer, want)
}

// checkLinks checks that a Parley logged msg for links with peer, each
// authenticated with want.
func checkLinks(t *testing.T, s *server, msg, peer, want string) {
	t.Helper()
	value := want
	if strings.Contains(want, " ") {
		value = fmt.Sprintf("%q", want)
	}
	n := 0
	for _, line := range strings.Split(s.log.String(), "\n") {
		if !strings.Contains(line, msg) || !strings.Contains(line+" ", " remote="+peer+" ") {
			continue
		}
		n++
		t.Logf("%s", line)
		if !strings.Contains(line+" ", " auth="+value+" ") {
			t.Errorf("a link with %s did not authenticate with %s: %s", peer, want, line)
		}
	}
	if n == 0 {
		t.Errorf("no %s with remote=%s in the log:\n%s", msg, peer, s.log.String())
	}
}

// authName is the authentication a scenario expects.
func authName(external bool) string {
	if external {
		return "SASL EXTERNAL"
	}
	return "dialback"
}

// fedCAs returns the CA of Parley's certificate (nil: self-signed) and
// the CA of the peer's, the same one with external; with dialback the
// peer's comes from a CA of its own that Parley does not trust.
func fedCAs(t *testing.T, external bool) (parley, peer *testca.CA) {
	if external {
		ca := testca.New(t)
		return ca, ca
	}
	return nil, testca.New(t)
}

func testFederationProsody(t *testing.T, external bool) {
	addHosts(t, hostsLines...)
	parleyCA, peerCA := fedCAs(t, external)
	p, home := startFederatedParley(t, parleyDomain, parleyIP, map[string]string{prosodyDomain: prosodyIP + ":5269"}, parleyCA)
	federate(t, home, prosodyServer(t, peerCA, nil, external))
	checkAuth(t, p, prosodyDomain, authName(external))
}

// TestFederationProsodyOneWayTrust: Parley trusts Prosody's certificate
// but Prosody does not trust Parley's (s2s_secure_auth off). Prosody's
// streams to Parley authenticate with SASL EXTERNAL; Parley's to Prosody,
// which offers no EXTERNAL, with dialback.
func TestFederationProsodyOneWayTrust(t *testing.T) {
	addHosts(t, hostsLines...)
	ca := testca.New(t)
	p, home := startFederatedParley(t, parleyDomain, parleyIP, map[string]string{prosodyDomain: prosodyIP + ":5269"}, ca)
	federate(t, home, prosodyServer(t, ca, testca.New(t), false))
	checkLinks(t, p, `msg="s2s: link up"`, prosodyDomain, "dialback")
	checkLinks(t, p, `msg="s2s: incoming stream authenticated"`, prosodyDomain, "SASL EXTERNAL")
}

func testFederationEjabberd(t *testing.T, external bool) {
	addHosts(t, hostsLines...)
	parleyCA, peerCA := fedCAs(t, external)
	p, home := startFederatedParley(t, parleyDomain, parleyIP, map[string]string{ejabberdDomain: ejabberdIP + ":5269"}, parleyCA)
	node := fmt.Sprintf("parleyfed%d%s@localhost", os.Getpid(), map[bool]string{true: "ext", false: "db"}[external])
	away := ejabberdServer(t, peerCA, node)
	away.mech = "SCRAM-SHA-1"
	federate(t, home, away)
	checkAuth(t, p, ejabberdDomain, authName(external))
}

// testFederationParley: two Parleys find each other through their static
// routes alone, so no /etc/hosts lines and no root are needed.
func testFederationParley(t *testing.T, external bool) {
	ca, _ := fedCAs(t, external)
	p1, home := startFederatedParley(t, parleyDomain, parleyIP, map[string]string{parley2Domain: parley2IP + ":5269"}, ca)
	p2, away := startFederatedParley(t, parley2Domain, parley2IP, map[string]string{
		parleyDomain: parleyIP + ":5269", "conference." + parleyDomain: parleyIP + ":5269"}, ca)
	federate(t, home, away)
	checkAuth(t, p1, parley2Domain, authName(external))
	checkAuth(t, p2, parleyDomain, authName(external))
}

func TestFederationProsodyDialback(t *testing.T)  { testFederationProsody(t, false) }
func TestFederationProsodyExternal(t *testing.T)  { testFederationProsody(t, true) }
func TestFederationEjabberdDialback(t *testing.T) { testFederationEjabberd(t, false) }
func TestFederationEjabberdExternal(t *testing.T) { testFederationEjabberd(t, true) }
func TestFederationParleyDialback(t *testing.T)   { testFederationParley(t, false) }
func TestFederationParleyExternal(t *testing.T)   { testFederationParley(t, true) }
