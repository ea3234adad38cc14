package stream

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	authn "github.com/parley-xmpp/parley/server/auth"
	"github.com/parley-xmpp/parley/server/metrics"
	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/sasl"
	"github.com/parley-xmpp/parley/xmpp/sasl2"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	xstream "github.com/parley-xmpp/parley/xmpp/stream"
)

// extraSASLFailures is how many failed exchanges one connection may make
// beyond one per mechanism offered before it is closed: a client may
// walk down the whole list (slixmpp does: each -PLUS mechanism, then the
// plain SCRAM ones, then PLAIN) and still retry a mistyped password.
const extraSASLFailures = 2

// mechanisms lists the SASL mechanisms offered on this connection: only
// ever over TLS, SCRAM with and without channel binding, PLAIN if allowed.
func (c *conn) mechanisms() []string {
	if !c.t.Secure() {
		return nil
	}
	var m []string
	if len(c.channelBindings()) > 0 {
		m = append(m, sasl.ScramSHA256Plus, sasl.ScramSHA1Plus)
	}
	m = append(m, sasl.ScramSHA256, sasl.ScramSHA1)
	if c.cfg.AllowPLAIN {
		m = append(m, sasl.Plain)
	}
	return m
}

// channelBindings returns the channel-binding data this connection
// supports (Transport.ChannelBindings): tls-exporter (RFC 9266) and
// tls-server-end-point (RFC 5929) over TLS. The map is shared: callers
// must not modify it.
func (c *conn) channelBindings() map[string][]byte {
	if !c.t.Secure() {
		return nil
	}
	return c.t.ChannelBindings()
}

func (c *conn) channelBindingTypes() []string {
	cb := c.channelBindings()
	out := make([]string, 0, len(cb))
	for t := range cb {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

func saslFailure(cond, text string) *stanza.Element {
	f := stanza.New(nsSASL, "failure").Append(stanza.New(nsSASL, cond))
	if text != "" {
		t := stanza.New(nsSASL, "text")
		t.SetNS(stanza.NSXML, "lang", "en")
		f.Append(t.AppendText(text))
	}
	return f
}

// authFailure is a failed mechanism exchange: the condition to report,
// a human-readable reason (<text/>), the account it was attempted for
// (zero if unknown) and whether it was a password guess: a complete
// exchange whose proof or password was wrong, the only failure the
// throttle counts.
type authFailure struct {
	cond, text string
	user       jid.JID
	guess      bool
}

func (f *authFailure) Error() string { return "c2s: authentication failed: " + f.cond }

// reason is the failure's <text/>: its own, or a generic one for its
// condition, so that every failure says why.
func (f *authFailure) reason() string {
	if f.text != "" {
		return f.text
	}
	switch f.cond {
	case sasl.Aborted:
		return "aborted by the client"
	case sasl.AccountDisabled:
		return "the account is disabled"
	case sasl.CredentialsExpired:
		return "the credentials have expired"
	case sasl.IncorrectEncoding:
		return "the data is not valid base64"
	case sasl.InvalidAuthzid:
		return "the authorization identity is refused"
	case sasl.InvalidMechanism:
		return "the mechanism is not supported"
	case sasl.MalformedRequest:
		return "the request is malformed"
	case sasl.TemporaryAuthFailure:
		return "a temporary server error; try again later"
	}
	return "the credentials were not accepted"
}

// authenticated is a mechanism exchange that succeeded.
type authenticated struct {
	mech sasl.ServerMechanism
	user jid.JID // bare
	out  []byte  // the mechanism's success data
}

// handleAuth runs one SASL exchange (RFC 6120 §6.4).
func (c *conn) handleAuth(ctx context.Context, auth *stanza.Element) error {
	c.authMech = auth.Get("mechanism")
	in, ok := decodeSASL(auth.Text())
	var res authenticated
	var err error
	if !ok {
		err = &authFailure{cond: sasl.IncorrectEncoding, text: "the initial response is not valid base64"}
	} else {
		res, err = c.authenticate(ctx, nsSASL, auth.Get("mechanism"), c.mechanisms(), in, nil)
	}
	var f *authFailure
	if errors.As(err, &f) {
		return c.saslFail(saslFailure(f.cond, f.reason()), f)
	}
	if err != nil {
		return err
	}
	return c.saslSucceed(res)
}

// authenticate runs a mechanism exchange for both SASL profiles: RFC 6120
// (ns is nsSASL) and XEP-0388 (ns is sasl2.NS, which qualifies the
// challenges and responses). offered are the mechanisms advertised; mech,
// when not nil, is an already built mechanism (FAST's token mechanisms).
// A failure is an *authFailure; any other error ends the xstream.
func (c *conn) authenticate(ctx context.Context, ns, mechName string, offered []string, in []byte, mech sasl.ServerMechanism) (authenticated, error) {
	c.authMech = mechName
	c.authStarted = time.Now().UnixNano()
	if mech == nil && !slices.Contains(offered, mechName) {
		c.log.Info("c2s: unadvertised SASL mechanism", "mechanism", mechName)
		return authenticated{}, &authFailure{cond: sasl.InvalidMechanism, text: mechanismText(mechName, offered)}
	}
	var ex exchange
	if mech == nil {
		var err error
		if mech, err = sasl.NewServer(mechName, c.saslConfig(ctx, offered, &ex)); err != nil {
			c.log.Warn("c2s: an offered SASL mechanism cannot run", "mechanism", mechName, "err", err)
			text := "mechanism " + mechName + " is not available on this connection"
			if f := (*sasl.Failure)(nil); errors.As(err, &f) && f.Text != "" {
				text = f.Text
			}
			return authenticated{}, &authFailure{cond: sasl.InvalidMechanism, text: text}
		}
	}
	for {
		out, done, err := mech.Next(in)
		if err != nil {
			var f *sasl.Failure
			cond, text := sasl.NotAuthorized, ""
			if errors.As(err, &f) {
				cond, text = f.Condition, f.Text
			}
			if ex.attempted.IsZero() && mech.Username() != "" {
				ex.attempted, _ = jid.New(mech.Username(), c.domain, "")
			}
			// Only a wrong proof (SCRAM) or password (PLAIN) is a guess;
			// unknown users are not told apart from wrong passwords.
			guess := errors.Is(err, sasl.ErrInvalidProof) || errors.Is(err, authn.ErrNotAuthorized)
			c.log.Info("c2s: authentication failed", "mechanism", mechName, "user", ex.attempted.String(), "condition", cond, "guess", guess, "err", err)
			return authenticated{}, &authFailure{cond: cond, text: text, user: ex.attempted, guess: guess}
		}
		if done {
			return c.authorize(ctx, mech, out, &ex)
		}
		if err := c.writeRaw(stanza.New(ns, "challenge").AppendText(base64.StdEncoding.EncodeToString(out)).AppendXML(nil, stanza.NSClient)); err != nil {
			return authenticated{}, err
		}
		el, err := c.t.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return authenticated{}, errClosed
			}
			return authenticated{}, err
		}
		switch {
		case el.Name.Space == ns && el.Name.Local == "response":
			if in, err = decodeResponse(ns, el.Text()); err != nil {
				return authenticated{}, &authFailure{cond: sasl.IncorrectEncoding, text: "the response is not valid base64", user: ex.attempted}
			}
		case el.Name.Space == ns && el.Name.Local == "abort":
			return authenticated{}, &authFailure{cond: sasl.Aborted, text: "aborted by the client"}
		default:
			return authenticated{}, &xstream.Error{Condition: xstream.NotAuthorized, Text: "unexpected element during SASL"}
		}
	}
}

// mechanismText explains an <invalid-mechanism/>.
func mechanismText(name string, offered []string) string {
	if name == "" {
		return "no mechanism named; offered: " + strings.Join(offered, ", ")
	}
	return "mechanism " + name + " is not offered; offered: " + strings.Join(offered, ", ")
}

// throttleWait makes a password login of user wait as long as the
// throttle says (authn.Authenticator.LoginDelay), on this connection's own
// goroutine: no goroutine is added per attempt, other connections are not
// held up, and the wait is bounded by the throttle's maximum. A login that
// also resumes a session of the same account (XEP-0198 inline in SASL2) is
// never slowed down by others' failures.
func (c *conn) throttleWait(ctx context.Context, user jid.JID) error {
	if c.resumeFor != nil && *c.resumeFor == user {
		return nil
	}
	d := c.cfg.Auth.LoginDelay(user, c.remoteIP())
	if d <= 0 {
		return nil
	}
	c.log.Info("c2s: login slowed down after failed logins", "user", user.String(), "delay", d)
	c.cfg.Metrics.Limited(metrics.LimitLoginThrottled)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return &sasl.Failure{Condition: sasl.TemporaryAuthFailure, Text: "the server is shutting down", Err: ctx.Err()}
	}
}

// decodeResponse decodes the data of a <response/> of either profile.
func decodeResponse(ns, s string) ([]byte, error) {
	if ns == nsSASL {
		if b, ok := decodeSASL(s); ok {
			return b, nil
		}
		return nil, errors.New("c2s: incorrect base64 encoding")
	}
	return sasl2.DecodeData(s)
}

// exchange is what the credential lookup of one mechanism exchange learnt.
type exchange struct {
	// attempted is the account the exchange is for; zero if unknown.
	attempted jid.JID
	// statusKnown says that disabled, the account's flag, was read with
	// its keys (loginKeyLookup): authorize then needs no query of its own.
	statusKnown, disabled bool
}

// loginKeyLookup is implemented by authenticators that return an account's
// disabled flag with its SCRAM key (server/auth's Authenticator.LoginKey):
// a SCRAM login then reads both with one storage query instead of two.
type loginKeyLookup interface {
	LoginKey(ctx context.Context, user jid.JID, hash string) (storage.SCRAMKey, bool, error)
}

// fakeIterationSource is implemented by authenticators that know the
// iteration counts of stored accounts (server/auth's Authenticator): an
// unknown user's SCRAM challenge then announces counts in the same
// proportions, not merely the configured one.
type fakeIterationSource interface {
	FakeIterationShares() []sasl.IterationShare
}

// saslConfig is the configuration of the password mechanisms.
func (c *conn) saslConfig(ctx context.Context, offered []string, ex *exchange) sasl.ServerConfig {
	var shares []sasl.IterationShare
	if fs, ok := c.cfg.Auth.(fakeIterationSource); ok {
		shares = fs.FakeIterationShares()
	}
	return sasl.ServerConfig{
		FakeSecret:          c.cfg.FakeSecret,
		FakeIterations:      c.cfg.Iterations,
		FakeIterationShares: shares,
		ChannelBindings:     c.channelBindings(),
		Mechanisms:          offered,
		Lookup: func(username string, h sasl.Hash) (sasl.Credentials, error) {
			user, err := jid.New(username, c.domain, "")
			if err != nil {
				return sasl.Credentials{}, sasl.ErrUnknownUser
			}
			ex.attempted = user
			if err := c.throttleWait(ctx, user); err != nil {
				return sasl.Credentials{}, err
			}
			var k storage.SCRAMKey
			if lk, ok := c.cfg.Auth.(loginKeyLookup); ok {
				k, ex.disabled, err = lk.LoginKey(ctx, user, h.Name())
				ex.statusKnown = err == nil
			} else {
				k, err = c.cfg.Auth.SCRAMKey(ctx, user, h.Name())
			}
			if errors.Is(err, storage.ErrNotFound) {
				return sasl.Credentials{}, sasl.ErrUnknownUser
			}
			if err != nil {
				return sasl.Credentials{}, err
			}
			return sasl.Credentials{Hash: h, Salt: k.Salt, Iterations: k.Iterations, StoredKey: k.StoredKey, ServerKey: k.ServerKey}, nil
		},
		CheckPLAIN: func(username, password string) error {
			user, err := jid.New(username, c.domain, "")
			if err != nil {
				// Cannot name an account: no guess at anyone's password.
				return &sasl.Failure{Condition: sasl.NotAuthorized, Text: "wrong username or password"}
			}
			ex.attempted = user
			if err := c.throttleWait(ctx, user); err != nil {
				return err
			}
			if err := c.cfg.Auth.CheckPassword(ctx, user, password); errors.Is(err, authn.ErrAccountDisabled) {
				return &sasl.Failure{Condition: sasl.AccountDisabled, Text: "the account is disabled", Err: err}
			} else if err != nil {
				text := "wrong username or password"
				if !errors.Is(err, authn.ErrNotAuthorized) {
					// A storage error, not the client's fault.
					return &sasl.Failure{Condition: sasl.TemporaryAuthFailure, Err: err}
				}
				return &sasl.Failure{Condition: sasl.NotAuthorized, Text: text, Err: err}
			}
			return nil
		},
	}
}

// authorize checks, once a mechanism succeeded, that the identity may log
// in: a valid username, an authzid naming no one else, an enabled account.
// ex is what the exchange's credential lookup learnt.
//
// The stream header's 'from' plays no part: RFC 6120 §4.7.1 makes it a
// hint at most (for the TLS certificate), and clients send anything there
// (Perl's XML::Stream, used by sendxmpp, sends the machine's host name).
func (c *conn) authorize(ctx context.Context, mech sasl.ServerMechanism, out []byte, ex *exchange) (authenticated, error) {
	user, err := jid.New(mech.Username(), c.domain, "")
	if err != nil {
		return authenticated{}, &authFailure{cond: sasl.NotAuthorized, text: "the username is not valid"}
	}
	if az := mech.Authzid(); az != "" {
		azj, err := jid.Parse(az)
		if err != nil || azj != user {
			c.log.Warn("c2s: authzid names another identity", "user", user, "authzid", az)
			return authenticated{}, &authFailure{cond: sasl.InvalidAuthzid, text: "an account may only act as itself: the authorization identity must be empty or " + user.String(), user: user}
		}
	}
	if c.from != "" {
		if from, err := jid.Parse(c.from); err != nil || from.Bare() != user {
			c.log.Debug("c2s: the stream's from is not the authenticated account (a hint only)", "from", c.from)
		}
	}
	// Only now, with the identity proven, may the answer say that the
	// account is disabled (XEP-0133 §4.3).
	if err := c.checkEnabled(ctx, user, ex); errors.Is(err, authn.ErrAccountDisabled) {
		c.log.Info("c2s: login to a disabled account", "user", user.String())
		return authenticated{}, &authFailure{cond: sasl.AccountDisabled, text: "the account is disabled", user: user}
	} else if err != nil {
		c.log.Error("c2s: checking the account status", "user", user.String(), "err", err)
		return authenticated{}, &authFailure{cond: sasl.TemporaryAuthFailure}
	}
	return authenticated{mech: mech, user: user, out: out}, nil
}

// checkEnabled is Authenticator.CheckEnabled, answered without a query when
// the exchange's SCRAM lookup read the flag with the keys; other mechanisms
// (PLAIN, FAST tokens) ask for it.
func (c *conn) checkEnabled(ctx context.Context, user jid.JID, ex *exchange) error {
	if !ex.statusKnown || ex.attempted != user {
		return c.cfg.Auth.CheckEnabled(ctx, user)
	}
	if ex.disabled {
		return fmt.Errorf("c2s: login of %s: %w", user, authn.ErrAccountDisabled)
	}
	return nil
}

// decodeSASL decodes the base64 payload of <auth/> or <response/>: empty
// means no data, "=" means empty data (RFC 6120 §6.4.2).
func decodeSASL(s string) ([]byte, bool) {
	if s == "" || s == "=" {
		return []byte{}, true
	}
	b, err := base64.StdEncoding.DecodeString(s)
	return b, err == nil
}

// saslFail reports a failed exchange with the failure element f of either
// profile, counts a password guess against the throttle, counts every
// failure against the connection, and ends the stream after too many.
func (c *conn) saslFail(f *stanza.Element, af *authFailure) error {
	if af.guess {
		c.cfg.Auth.Failed(af.user, c.remoteIP())
	}
	c.cfg.Metrics.LoginFailed(c.authMech, af.cond)
	if err := c.writeRaw(f.AppendXML(nil, stanza.NSClient)); err != nil {
		return err
	}
	if c.saslFailures < 255 {
		c.saslFailures++
	}
	if int(c.saslFailures) >= c.maxSASLFailures() {
		c.cfg.Metrics.Limited(metrics.LimitAuthAttempts)
		return &xstream.Error{Condition: xstream.PolicyViolation, Text: "too many failed authentication attempts"}
	}
	return nil
}

// maxSASLFailures is how many failed exchanges the connection may make:
// one per mechanism offered (RFC 6120's, and FAST's through SASL2), plus
// extraSASLFailures.
func (c *conn) maxSASLFailures() int {
	n := len(c.mechanisms())
	if c.fastEnabled() && !c.cfg.DisableSASL2 {
		n += len(c.fastMechanisms())
	}
	return n + extraSASLFailures
}

// loggedIn records a successful authentication on the connection.
func (c *conn) loggedIn(res authenticated) {
	c.cfg.Auth.Succeeded(res.user, c.remoteIP())
	c.cfg.Metrics.Login(res.mech.Name())
	c.user = res.user
	c.logUser = true
	c.ph = phaseBind
	c.log.Info("c2s: authenticated", "mechanism", res.mech.Name())
}

// saslSucceed completes an RFC 6120 exchange: <success/>, then the stream
// restart.
func (c *conn) saslSucceed(res authenticated) error {
	s := stanza.New(nsSASL, "success")
	if len(res.out) > 0 {
		s.AppendText(base64.StdEncoding.EncodeToString(res.out))
	}
	if err := c.writeRaw(s.AppendXML(nil, stanza.NSClient)); err != nil {
		return err
	}
	c.loggedIn(res)
	c.t.Restart()
	return c.openStream()
}

// revokedLogin undoes the binding of s when the account was disabled or
// deleted after this login checked it (the administrator ended the
// sessions it found then, and s was not bound yet): s, and the session it
// replaced, end with <not-authorized/>. It returns that stream error, or
// nil when the login stands. The account's record is in memory: no
// storage read.
func (c *conn) revokedLogin(s, replaced *session.Session) error {
	if !c.cfg.Auth.RevokedSince(c.user, time.Unix(0, c.authStarted)) {
		return nil
	}
	c.cfg.Sessions.Unbind(s)
	c.log.Info("c2s: the account was disabled or deleted during the login", "user", c.user.String())
	e := &xstream.Error{Condition: xstream.NotAuthorized, Text: "the account was disabled or deleted"}
	if replaced != nil {
		replaced.Conn().Close(e)
	}
	return e
}
