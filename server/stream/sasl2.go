package stream

import (
	"context"
	"errors"
	"slices"

	"github.com/parley-xmpp/parley/xmpp/bind2"
	"github.com/parley-xmpp/parley/xmpp/fast"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/sasl"
	"github.com/parley-xmpp/parley/xmpp/sasl2"
	smns "github.com/parley-xmpp/parley/xmpp/sm"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// appendPreauthFeatures adds the features offered beside RFC 6120's SASL
// on a TLS-protected, unauthenticated stream: XEP-0388's <authentication/>
// with Bind 2, stream resumption and FAST inline, and in-band
// registration when enabled.
func (c *conn) appendPreauthFeatures(f *stanza.Element) {
	if !c.t.Secure() {
		return
	}
	if !c.cfg.DisableSASL2 {
		inline := []*stanza.Element{bind2.Feature(c.bind2Features())}
		if !c.cfg.SM.Disabled {
			// XEP-0198 §9.2: stream resumption inline.
			inline = append(inline, smns.Feature())
		}
		if c.fastEnabled() {
			inline = append(inline, fast.Feature{Mechanisms: c.fastMechanisms()}.Element())
		}
		f.Append(sasl2.Feature{Mechanisms: c.mechanisms(), Inline: inline}.Element())
	}
	c.appendRegisterFeatures(f)
}

// handlePreauth handles what an unauthenticated stream may send besides
// RFC 6120's SASL: a SASL2 <authenticate/> and registration IQs. It
// reports whether el was one of them.
func (c *conn) handlePreauth(ctx context.Context, el *stanza.Element) (bool, error) {
	switch {
	case el.Name.Space == sasl2.NS && el.Name.Local == "authenticate" && !c.cfg.DisableSASL2:
		return true, c.handleSASL2(ctx, el)
	case stanza.KindOf(el) == stanza.KindIQ:
		return c.handleRegisterIQ(ctx, el)
	}
	return false, nil
}

// sasl2Fail reports a failed SASL2 authentication.
func (c *conn) sasl2Fail(f *authFailure) error {
	return c.saslFail(sasl2.Failure{Condition: f.cond, Text: f.reason()}.Element(), f)
}

// handleSASL2 runs a XEP-0388 authentication with its inline requests:
// the same mechanism exchange as RFC 6120's (plus FAST's token
// mechanisms), then, only once it succeeded, FAST token handling, stream
// resumption and Bind 2; then <success/> and the features of the
// authenticated stream, without a stream restart.
//
// A <resume/> is processed first (XEP-0198 §9.2): once it succeeds, the
// <resumed/> element goes inside <success/>, any <bind/> is ignored, and
// no features follow, the stream being re-established; when it fails,
// its <failed/> goes inside <success/> and the <bind/>, if any, is
// processed as without one.
func (c *conn) handleSASL2(ctx context.Context, el *stanza.Element) error {
	a, err := sasl2.ParseAuthenticate(el)
	if err != nil {
		c.log.Info("c2s: malformed SASL2 request", "err", err)
		if errors.Is(err, sasl2.ErrEncoding) {
			return c.sasl2Fail(&authFailure{cond: sasl.IncorrectEncoding})
		}
		return c.sasl2Fail(&authFailure{cond: sasl.MalformedRequest, text: err.Error()})
	}
	uaID := ""
	if a.UserAgent != nil {
		uaID = a.UserAgent.ID
	}
	var resumeReq *stanza.Element
	if r := a.Extension(smns.NS, smns.NameResume); r != nil && !c.cfg.SM.Disabled {
		resumeReq = r
		if acct := c.resumableAccount(r); !acct.IsZero() {
			c.resumeFor = &acct
			defer func() { c.resumeFor = nil }()
		}
	}
	var bindReq *bind2.Request
	if b := a.Extension(bind2.NS, "bind"); b != nil {
		r, err := bind2.ParseRequest(b)
		if err != nil {
			return c.sasl2Fail(&authFailure{cond: sasl.MalformedRequest, text: err.Error()})
		}
		bindReq = &r
	}
	in := a.Initial
	if !a.HasInitial {
		in = []byte{}
	}
	var (
		mech  sasl.ServerMechanism
		token *fastLogin
	)
	c.authMech = a.Mechanism
	if _, isHT := fast.ChannelBinding(a.Mechanism); isHT && c.fastEnabled() && slices.Contains(c.fastMechanisms(), a.Mechanism) {
		if mech, token, err = c.fastMechanism(ctx, a, uaID); err != nil {
			var f *authFailure
			if errors.As(err, &f) {
				return c.sasl2Fail(f)
			}
			return err
		}
	}
	res, err := c.authenticate(ctx, sasl2.NS, a.Mechanism, c.mechanisms(), in, mech)
	if err == nil && token != nil {
		err = c.fastUse(ctx, res, token)
	}
	var f *authFailure
	if errors.As(err, &f) {
		return c.sasl2Fail(f)
	}
	if err != nil {
		return err
	}
	c.loggedIn(res)
	success := sasl2.Success{AdditionalData: res.out, AuthorizationIdentifier: res.user.String()}
	if len(res.out) == 0 {
		success.AdditionalData = nil
	}
	if t := c.fastIssue(ctx, a, uaID, token); t != nil {
		success.Extensions = append(success.Extensions, t)
	}
	if resumeReq != nil {
		resumed := false
		failed, err := c.resumeSM(ctx, resumeReq, func(r *stanza.Element) *stanza.Element {
			// Queued ahead of the stanzas resent: <success/> is the first
			// thing the resumed stream carries.
			resumed = true
			s := success
			s.Extensions = append(slices.Clip(s.Extensions), r)
			return s.Element()
		})
		if err != nil {
			return err
		}
		if resumed {
			return nil
		}
		if failed != nil {
			success.Extensions = append(success.Extensions, failed)
		}
	}
	var release func()
	if bindReq != nil {
		s, bound, rel, err := c.bind2(ctx, *bindReq, uaID)
		if err != nil {
			// The client sees the RFC 6120 bind feature below and may
			// bind that way (and learn why it cannot).
			c.log.Info("c2s: Bind 2 failed", "err", err)
		} else {
			// After the token, if any: a client may consider itself
			// online on <bound/> (@xmpp/client does).
			success.AuthorizationIdentifier = s.JID().String()
			success.Extensions = append(success.Extensions, bound)
			release = rel
		}
	}
	buf := success.Element().AppendXML(nil, stanza.NSClient)
	if c.ph != phaseBound {
		buf = c.appendFeatures(buf)
	} else {
		buf = c.t.AppendStreamElement(buf, c.sasl2Features())
	}
	err = c.writeRaw(buf)
	if release != nil {
		// Even when the write failed: the session is bound and must reach
		// the connection, so that what was held for it is handed back when
		// it ends (or kept for a resumption) instead of staying held.
		release()
	}
	return err
}

// resumableAccount returns the account of the session a <resume/> names
// if it can still be resumed, else the zero JID: a login carrying it is
// not slowed down by others' failed logins (throttleWait). It proves
// nothing by itself; the login still needs the account's credentials.
func (c *conn) resumableAccount(el *stanza.Element) jid.JID {
	r, err := smns.ParseResume(el)
	if err != nil {
		return jid.JID{}
	}
	s := c.cfg.Sessions.Resumable(r.PrevID)
	if s == nil {
		return jid.JID{}
	}
	return s.JID().Bare()
}

// sasl2Features are the features that follow a SASL2 <success/>: those of
// an authenticated stream, or, once Bind 2 bound a session, those a bound
// session may still negotiate (stream management unless it was enabled
// inline).
func (c *conn) sasl2Features() *stanza.Element {
	if c.ph != phaseBound {
		return c.features(nil)
	}
	f := stanza.New(stanza.NSStream, "features")
	for _, el := range c.cfg.Router.StreamFeatures() {
		f.Append(el)
	}
	for _, el := range c.smFeatures() {
		if el.Name.Space == smns.NS && c.sm.enabled {
			continue
		}
		f.Append(el)
	}
	return f
}
