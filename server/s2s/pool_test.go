package s2s_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/internal/testca"
	"github.com/parley-xmpp/parley/server/s2s"
	"github.com/parley-xmpp/parley/server/s2s/dialback"
	"github.com/parley-xmpp/parley/server/s2s/resolve"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

const (
	local  = "local.example"
	remote = "remote.example"
)

// harness is a pool for local.example whose route to remote.example goes
// to a peer, with bounces collected.
type harness struct {
	pool    *s2s.Pool
	keyer   *dialback.Keyer
	bounces chan *stanza.Element
}

func newHarness(t *testing.T, ca *testca.CA, addr string, edit func(*s2s.Options)) *harness {
	t.Helper()
	keyer, err := dialback.NewRandom()
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{keyer: keyer, bounces: make(chan *stanza.Element, 100)}
	o := s2s.Options{
		Certificates: []tls.Certificate{ca.Issue(t, local, certidNames(local), nil).TLS()},
		Roots:        ca.Pool,
		Finder:       &resolve.Finder{Routes: map[string]string{remote: addr}},
		Dialback:     keyer,
		Bounce:       func(_ context.Context, reply *stanza.Element) { h.bounces <- reply },
	}
	if edit != nil {
		edit(&o)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.pool = s2s.NewPool(ctx, o)
	t.Cleanup(func() {
		closeCtx, done := context.WithTimeout(context.Background(), 10*time.Second)
		defer done()
		if err := h.pool.Close(closeCtx); err != nil {
			t.Errorf("Close: %v", err)
		}
		cancel()
	})
	return h
}

func (h *harness) send(t *testing.T, body string) error {
	t.Helper()
	from, to := jid.MustParse("alice@"+local+"/desk"), jid.MustParse("bob@"+remote)
	st := stanza.NewMessage(stanza.TypeChat, to.String(), body)
	st.Set("from", from.String())
	return h.pool.Deliver(context.Background(), from, to, st)
}

func (h *harness) bounce(t *testing.T) *stanza.Error {
	t.Helper()
	select {
	case r := <-h.bounces:
		e := stanza.ParseError(r)
		if e == nil || r.Get("type") != "error" || r.Get("to") != "alice@"+local+"/desk" {
			t.Fatalf("bounce %s: want an error reply to the sender", r)
		}
		return e
	case <-time.After(15 * time.Second):
		t.Fatal("nothing bounced")
		return nil
	}
}

func TestExternal(t *testing.T) {
	ca := testca.New(t)
	p := newPeer(t, ca, remote, func(p *peer) {
		p.offerExternal, p.offerDialback = true, true
	})
	h := newHarness(t, ca, p.addr(), nil)
	for _, body := range []string{"one", "two"} {
		if err := h.send(t, body); err != nil {
			t.Fatal(err)
		}
	}
	if m := p.wait(t, p.authWith, "authentication"); m != "EXTERNAL" {
		t.Fatalf("authenticated with %s, want EXTERNAL", m)
	}
	for _, want := range []string{"one", "two"} {
		st := p.next(t)
		if st.Child("", "body").Text() != want || st.Get("from") != "alice@"+local+"/desk" || st.Name.Space != stanza.NSServer {
			t.Fatalf("peer got %s (namespace %s), want %q from alice in jabber:server", st, st.Name.Space, want)
		}
	}
	links := h.pool.Links()
	if len(links) != 1 || links[0].Auth != "SASL EXTERNAL" || links[0].State != "ready" || links[0].TLS != "TLS 1.3" || links[0].Remote != remote {
		t.Fatalf("Links() = %+v", links)
	}
	// The link is reused.
	if err := h.send(t, "three"); err != nil {
		t.Fatal(err)
	}
	p.next(t)
	if n := p.conns.Load(); n != 1 {
		t.Fatalf("%d connections, want the one link reused", n)
	}
}

func TestDialback(t *testing.T) {
	ca := testca.New(t)
	var h *harness
	p := newPeer(t, ca, remote, func(p *peer) {
		p.offerDialback = true
		p.verifyKey = func(from, to, id, key string) bool {
			// What the authoritative server (the harness) would answer
			// to <db:verify/>: from and to as the result's.
			return from == local && to == remote && h.keyer.Check(key, to, from, id)
		}
	})
	h = newHarness(t, ca, p.addr(), nil)
	if err := h.send(t, "hi"); err != nil {
		t.Fatal(err)
	}
	if m := p.wait(t, p.authWith, "authentication"); m != "dialback" {
		t.Fatalf("authenticated with %s, want dialback", m)
	}
	if st := p.next(t); st.Child("", "body").Text() != "hi" {
		t.Fatalf("peer got %s", st)
	}
}

func TestBadPeers(t *testing.T) {
	ca := testca.New(t)
	t.Run("dialback key refused", func(t *testing.T) {
		p := newPeer(t, ca, remote, func(p *peer) {
			p.offerDialback = true // verifyKey nil: every key is invalid
		})
		h := newHarness(t, ca, p.addr(), nil)
		if err := h.send(t, "hi"); err != nil {
			t.Fatal(err)
		}
		if e := h.bounce(t); e.Condition != stanza.RemoteServerNotFound {
			t.Fatalf("bounced with %s, want remote-server-not-found", e.Condition)
		}
	})
	t.Run("certificate for another domain, verified certificate required", func(t *testing.T) {
		p := newPeer(t, ca, remote, func(p *peer) {
			p.cert = ca.Issue(t, "evil.example", certidNames("evil.example"), nil).TLS()
			p.offerExternal, p.offerDialback = true, true
			p.verifyKey = func(string, string, string, string) bool { return true }
		})
		h := newHarness(t, ca, p.addr(), func(o *s2s.Options) {
			o.Policy = func(string) s2s.Policy { return s2s.Policy{RequireVerified: true} }
		})
		if err := h.send(t, "hi"); err != nil {
			t.Fatal(err)
		}
		if e := h.bounce(t); e.Condition != stanza.RemoteServerNotFound {
			t.Fatalf("bounced with %s, want remote-server-not-found", e.Condition)
		}
		select {
		case st := <-p.got:
			t.Fatalf("the impostor received %s", st)
		default:
		}
	})
	t.Run("no STARTTLS", func(t *testing.T) {
		p := newPeer(t, ca, remote, func(p *peer) {
			p.offerTLS, p.offerDialback = false, true
			p.verifyKey = func(string, string, string, string) bool { return true }
		})
		h := newHarness(t, ca, p.addr(), nil)
		if err := h.send(t, "hi"); err != nil {
			t.Fatal(err)
		}
		if e := h.bounce(t); e.Condition != stanza.RemoteServerNotFound {
			t.Fatalf("bounced with %s", e.Condition)
		}
	})
	t.Run("stalls", func(t *testing.T) {
		p := newPeer(t, ca, remote, func(p *peer) {
			p.stall = true
		})
		h := newHarness(t, ca, p.addr(), func(o *s2s.Options) { o.ConnectTimeout = 500 * time.Millisecond })
		if err := h.send(t, "hi"); err != nil {
			t.Fatal(err)
		}
		if e := h.bounce(t); e.Condition != stanza.RemoteServerTimeout {
			t.Fatalf("bounced with %s, want remote-server-timeout", e.Condition)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		h := newHarness(t, ca, addr, nil)
		if err := h.send(t, "hi"); err != nil {
			t.Fatal(err)
		}
		if e := h.bounce(t); e.Condition != stanza.RemoteServerNotFound {
			t.Fatalf("bounced with %s, want remote-server-not-found", e.Condition)
		}
	})
}

func TestPolicyAndLimits(t *testing.T) {
	ca := testca.New(t)
	t.Run("denied domain", func(t *testing.T) {
		p := newPeer(t, ca, remote, nil)
		h := newHarness(t, ca, p.addr(), func(o *s2s.Options) {
			o.Policy = func(d string) s2s.Policy { return s2s.Policy{Deny: d == remote} }
		})
		var se *stanza.Error
		if err := h.send(t, "hi"); !errors.As(err, &se) || se.Condition != stanza.RemoteServerNotFound {
			t.Fatalf("Deliver = %v, want remote-server-not-found", err)
		}
		if n := p.conns.Load(); n != 0 {
			t.Fatalf("%d connections to a denied domain", n)
		}
	})
	t.Run("queue bounded in bytes", func(t *testing.T) {
		p := newPeer(t, ca, remote, func(p *peer) {
			p.stall = true
		})
		h := newHarness(t, ca, p.addr(), func(o *s2s.Options) {
			o.QueueBytes = 4096
			o.ConnectTimeout = 2 * time.Second
		})
		if err := h.send(t, strings.Repeat("x", 3000)); err != nil {
			t.Fatal(err)
		}
		var se *stanza.Error
		if err := h.send(t, strings.Repeat("y", 3000)); !errors.As(err, &se) || se.Condition != stanza.ResourceConstraint {
			t.Fatalf("Deliver past the queue = %v, want resource-constraint", err)
		}
		h.bounce(t) // the first, once the connection times out
	})
}

func TestIdleCloseAndHandOver(t *testing.T) {
	ca := testca.New(t)
	t.Run("idle", func(t *testing.T) {
		p := newPeer(t, ca, remote, func(p *peer) {
			p.offerExternal = true
		})
		h := newHarness(t, ca, p.addr(), func(o *s2s.Options) { o.IdleTimeout = 300 * time.Millisecond })
		if err := h.send(t, "one"); err != nil {
			t.Fatal(err)
		}
		p.next(t)
		if s := p.wait(t, p.closed, "close"); s != "closed by peer" {
			t.Fatalf("idle link: %s", s)
		}
		if err := h.send(t, "two"); err != nil {
			t.Fatal(err)
		}
		if st := p.next(t); st.Child("", "body").Text() != "two" || p.conns.Load() != 2 {
			t.Fatalf("after the idle close: %s over %d connections", st, p.conns.Load())
		}
	})
	t.Run("peer closes", func(t *testing.T) {
		p := newPeer(t, ca, remote, func(p *peer) {
			p.offerExternal = true
			p.closeAfter = 1
		})
		h := newHarness(t, ca, p.addr(), nil)
		if err := h.send(t, "one"); err != nil {
			t.Fatal(err)
		}
		p.next(t)
		p.wait(t, p.closed, "close")
		// Once the pool saw the link end, the next stanza goes over a
		// new link. (One sent while the peer's closing tag is still on
		// its way is written into the closing stream: without stream
		// management on s2s, nothing tells whether it arrived.)
		xmpptest.Eventually(t, "the pool lists no link", func() bool { return len(h.pool.Links()) == 0 })
		if err := h.send(t, "two"); err != nil {
			t.Fatal(err)
		}
		if st := p.next(t); st.Child("", "body").Text() != "two" {
			t.Fatalf("peer got %s", st)
		}
	})
}

// TestVerifyKey: as a receiving server, the pool asks the originating
// domain's authoritative server about a key, on a stream of its own.
func TestVerifyKey(t *testing.T) {
	ca := testca.New(t)
	auth, err := dialback.NewRandom()
	if err != nil {
		t.Fatal(err)
	}
	p := newPeer(t, ca, remote, func(p *peer) { p.keyer = auth })
	h := newHarness(t, ca, p.addr(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// remote.example opened stream "s9" to local.example with this key.
	key := auth.Key(local, remote, "s9")
	if ok, err := h.pool.VerifyKey(ctx, local, remote, "s9", key); err != nil || !ok {
		t.Fatalf("VerifyKey(the right key) = %v, %v", ok, err)
	}
	for name, args := range map[string][4]string{
		"another stream":         {local, remote, "s10", key},
		"another receiving side": {"other.example", remote, "s9", key},
		"a forged key":           {local, remote, "s9", strings.Repeat("0", 64)},
	} {
		if ok, err := h.pool.VerifyKey(ctx, args[0], args[1], args[2], args[3]); err != nil || ok {
			t.Errorf("%s: VerifyKey = %v, %v; want false", name, ok, err)
		}
	}
	if p.conns.Load() != 4 {
		t.Errorf("%d connections for 4 questions", p.conns.Load())
	}
}
