package client

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/parley-xmpp/parley/xmpp/bind2"
	"github.com/parley-xmpp/parley/xmpp/fast"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/sasl"
	"github.com/parley-xmpp/parley/xmpp/sasl2"
	smns "github.com/parley-xmpp/parley/xmpp/sm"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// UserAgent identifies this client installation to the server (XEP-0388
// §2.3). ID is a UUID, stable for the installation: Bind 2 derives a
// stable resource from it and FAST tokens are issued per ID.
type UserAgent struct {
	ID       string
	Software string
	Device   string
}

// FastToken is a XEP-0484 token: a password substitute for one client
// installation, bound to one mechanism. Keep it as secret as a password.
type FastToken struct {
	Mechanism string
	Token     string
	Expiry    time.Time
}

// defaultBind2Tag is the Bind 2 tag when the user agent names no software.
const defaultBind2Tag = "parley"

// sasl2Offered reports whether SASL2 should be used on this stream.
func (n *negotiator) sasl2Offered() bool {
	return n.cfg.SASL2 && n.features.Child(sasl2.NS, "authentication") != nil
}

// authenticate2 logs in with SASL2 (XEP-0388): with the FAST token if one
// is configured and accepted (falling back to the password if the server
// refuses it), binding with Bind 2 when no resource was asked for, with
// stream management enabled inline when configured and offered. With
// n.sm.resume set, it asks to resume that session inline instead of
// binding (XEP-0198 §9.2), and the outcome is in n.sm. It returns the
// bound JID, or a zero JID when the caller must still bind (or the
// session was resumed); the features of the authenticated stream are in
// n.features unless a session was resumed.
func (n *negotiator) authenticate2(resource string) (jid.JID, error) {
	feat := sasl2.ParseFeature(n.features.Child(sasl2.NS, "authentication"))
	cb := channelBindings(n.conn)
	var fastMechs []string
	if el := feat.InlineFeature(fast.NS, "fast"); el != nil {
		fastMechs = fast.ParseFeature(el).Mechanisms
	}
	var ua *sasl2.UserAgent
	if u := n.cfg.UserAgent; u != nil {
		ua = &sasl2.UserAgent{ID: u.ID, Software: u.Software, Device: u.Device}
	}
	inline := func(requestToken bool) []*stanza.Element {
		var out []*stanza.Element
		b := feat.InlineFeature(bind2.NS, "bind")
		switch {
		case n.sm.resume != nil:
			out = append(out, n.sm.resume.Element())
		case resource == "" && b != nil:
			tag := defaultBind2Tag
			if ua != nil && ua.Software != "" {
				tag = ua.Software
			}
			req := bind2.Request{Tag: tag}
			if n.cfg.StreamManagement && slices.Contains(bind2.ParseFeature(b), smns.NS) {
				req.Features = append(req.Features, smns.Enable{Resume: true}.Element())
			}
			out = append(out, req.Element())
		}
		if requestToken && ua != nil && ua.ID != "" && len(fastMechs) > 0 {
			n.fastMech = preferredFAST(fastMechs, cb)
			out = append(out, fast.RequestToken(n.fastMech))
		}
		return out
	}
	if t := n.cfg.FastToken; t != nil && ua != nil && ua.ID != "" && slices.Contains(fastMechs, t.Mechanism) {
		m, err := fast.NewClient(t.Mechanism, n.cfg.JID.Local(), t.Token, cb)
		if err == nil {
			n.fastMech = t.Mechanism // a rotated token keeps the mechanism
			full, err := n.sasl2Exchange(m, ua, append(inline(false), fast.Auth{}.Element()))
			var ae *AuthError
			if err == nil || !errors.As(err, &ae) || n.cfg.Password == "" {
				return full, err
			}
			n.log.Debug("FAST token refused; using the password", "err", err)
		}
	}
	types := cbTypes(n.features)
	haveCB := false
	for t := range cb {
		if len(types) == 0 || slices.Contains(types, t) {
			haveCB = true
		}
	}
	name := n.cfg.Mechanism
	if name == "" {
		if name = sasl.Preferred(feat.Mechanisms, haveCB); name == "" {
			return jid.JID{}, fmt.Errorf("client: no supported SASL2 mechanism among %v", feat.Mechanisms)
		}
	}
	m, err := sasl.NewClient(name, sasl.ClientConfig{
		Username:         n.cfg.JID.Local(),
		Password:         n.cfg.Password,
		ChannelBindings:  cb,
		ServerMechanisms: feat.Mechanisms,
		ServerCBTypes:    types,
	})
	if err != nil {
		return jid.JID{}, fmt.Errorf("client: SASL2 %s: %w", name, err)
	}
	return n.sasl2Exchange(m, ua, inline(n.cfg.RequestFastToken))
}

// preferredFAST picks the token mechanism to request: one with channel
// binding this connection supports, else the first offered.
func preferredFAST(offered []string, cb map[string][]byte) string {
	for _, m := range offered {
		if t, ok := fast.ChannelBinding(m); ok && t != "" {
			if _, have := cb[t]; have {
				return m
			}
		}
	}
	for _, m := range offered {
		if _, ok := fast.ChannelBinding(m); ok {
			return m
		}
	}
	return offered[0]
}

// sasl2Exchange runs one SASL2 <authenticate/> exchange with mech.
func (n *negotiator) sasl2Exchange(mech sasl.ClientMechanism, ua *sasl2.UserAgent, extra []*stanza.Element) (jid.JID, error) {
	name := mech.Name()
	initial, err := mech.Start()
	if err != nil {
		return jid.JID{}, fmt.Errorf("client: SASL2 %s: %w", name, err)
	}
	req := sasl2.Authenticate{Mechanism: name, Initial: initial, HasInitial: true, UserAgent: ua, Extensions: extra}
	if err := n.write(req.Element()); err != nil {
		return jid.JID{}, fmt.Errorf("client: sending SASL2 authenticate: %w", err)
	}
	for {
		el, err := n.next()
		if err != nil {
			return jid.JID{}, fmt.Errorf("client: SASL2 %s: %w", name, err)
		}
		if el.Name.Space != sasl2.NS {
			return jid.JID{}, fmt.Errorf("client: SASL2 %s: unexpected <%s xmlns='%s'>", name, el.Name.Local, el.Name.Space)
		}
		switch el.Name.Local {
		case "challenge":
			data, err := sasl2.DecodeData(el.Text())
			var resp []byte
			if err == nil {
				resp, err = mech.Next(data)
			}
			if err != nil {
				_ = n.write(sasl2.Abort())
				return jid.JID{}, fmt.Errorf("client: SASL2 %s: %w", name, err)
			}
			if err := n.write(sasl2.Response(resp)); err != nil {
				return jid.JID{}, fmt.Errorf("client: sending SASL2 response: %w", err)
			}
		case "failure":
			f := sasl2.ParseFailure(el)
			return jid.JID{}, &AuthError{Mechanism: name, Condition: f.Condition, Text: f.Text}
		case "success":
			return n.sasl2Success(mech, el)
		default:
			return jid.JID{}, fmt.Errorf("client: SASL2 %s: unsupported <%s/>", name, el.Name.Local)
		}
	}
}

// sasl2Success verifies the server, keeps a FAST token and the outcome
// of inline stream management, reads the features that follow (none
// after a resumption), and returns the JID bound with Bind 2 (zero if
// none).
func (n *negotiator) sasl2Success(mech sasl.ClientMechanism, el *stanza.Element) (jid.JID, error) {
	name := mech.Name()
	s, err := sasl2.ParseSuccess(el)
	if err != nil {
		return jid.JID{}, fmt.Errorf("client: SASL2 %s: %w", name, err)
	}
	if s.AdditionalData != nil || !mech.Done() {
		if _, err := mech.Next(s.AdditionalData); err != nil {
			return jid.JID{}, fmt.Errorf("client: SASL2 %s: server not verified: %w", name, err)
		}
	}
	if !mech.Done() {
		return jid.JID{}, fmt.Errorf("client: SASL2 %s: success before the exchange completed", name)
	}
	n.mechanism = name
	var bound jid.JID
	for _, x := range s.Extensions {
		switch {
		case x.Name.Space == fast.NS && x.Name.Local == "token":
			if t, err := fast.ParseToken(x); err == nil && n.fastMech != "" {
				n.fastToken = &FastToken{Mechanism: n.fastMech, Token: t.Token, Expiry: t.Expiry}
			}
		case x.Name.Space == bind2.NS && x.Name.Local == "bound":
			j, err := jid.Parse(strings.TrimSpace(s.AuthorizationIdentifier))
			if err != nil || j.Resource() == "" || j.Bare() != n.cfg.JID.Bare() {
				return jid.JID{}, fmt.Errorf("client: server bound unexpected JID %q", s.AuthorizationIdentifier)
			}
			bound = j
			if err := n.sm.inlineEnabled(x); err != nil {
				return jid.JID{}, err
			}
		case smns.Is(x, smns.NameResumed):
			r, err := smns.ParseResume(x)
			if err != nil {
				return jid.JID{}, fmt.Errorf("client: SASL2 %s: %w", name, err)
			}
			n.sm.resumed = &r
		case smns.Is(x, smns.NameFailed):
			f, err := smns.ParseFailed(x)
			if err != nil {
				return jid.JID{}, fmt.Errorf("client: SASL2 %s: %w", name, err)
			}
			n.sm.resumeFailed = &f
		}
	}
	if n.sm.resumed != nil {
		// XEP-0198 §9.2: the stream is re-established; no features.
		return jid.JID{}, nil
	}
	f, err := n.next()
	if err != nil {
		return jid.JID{}, fmt.Errorf("client: reading the features after SASL2: %w", err)
	}
	if f.Name.Space != "http://etherx.jabber.org/streams" || f.Name.Local != "features" {
		return jid.JID{}, fmt.Errorf("client: expected stream features after SASL2 success, got <%s/>", f.Name.Local)
	}
	n.features = f
	return bound, nil
}

// FastToken returns the FAST token (XEP-0484) the server issued at login,
// requested with Config.RequestFastToken or rotated, or nil. Store it and
// pass it as Config.FastToken next time.
func (c *Client) FastToken() *FastToken { return c.fast }
