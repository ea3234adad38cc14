package c2s

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"slices"

	authn "github.com/parley-xmpp/parley/server/auth"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/sasl"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// maxSASLFailures is how many failed exchanges one connection may make
// before it is closed.
const maxSASLFailures = 3

// mechanisms lists the SASL mechanisms offered on this connection: only
// ever over TLS, SCRAM with and without channel binding, PLAIN if allowed.
func (c *conn) mechanisms() []string {
	if c.tls == nil {
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

// channelBindings returns the channel-binding data this TLS connection
// supports: tls-exporter (RFC 9266; TLS 1.3, or 1.2 with extended master
// secret) and tls-server-end-point (RFC 5929).
func (c *conn) channelBindings() map[string][]byte {
	if c.tls == nil {
		return nil
	}
	st := c.tls.ConnectionState()
	cb := make(map[string][]byte, 2)
	{
		if data, err := st.ExportKeyingMaterial(sasl.ExporterLabel, []byte{}, 32); err == nil {
			cb[sasl.TLSExporter] = data
		}
	}
	if leaf := c.serverCert(st.ServerName); leaf != nil {
		cb[sasl.TLSServerEndPoint] = sasl.EndPointBinding(leaf)
	}
	return cb
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

// serverCert returns the certificate this server presented for a name.
func (c *conn) serverCert(name string) *x509.Certificate {
	var cert *tls.Certificate
	if c.cfg.TLS.GetCertificate != nil {
		cert, _ = c.cfg.TLS.GetCertificate(&tls.ClientHelloInfo{ServerName: name})
	} else if len(c.cfg.TLS.Certificates) > 0 {
		cert = &c.cfg.TLS.Certificates[0]
	}
	if cert == nil || len(cert.Certificate) == 0 {
		return nil
	}
	if cert.Leaf != nil {
		return cert.Leaf
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil
	}
	return leaf
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

// handleAuth runs one SASL exchange (RFC 6120 §6.4).
func (c *conn) handleAuth(ctx context.Context, auth *stanza.Element) error {
	mechName := auth.Get("mechanism")
	offered := c.mechanisms()
	if !slices.Contains(offered, mechName) {
		c.log.Info("c2s: unadvertised SASL mechanism", "mechanism", mechName)
		return c.saslFail(sasl.InvalidMechanism, "", jid.JID{})
	}
	if err := c.cfg.Auth.Allow(jid.JID{}, c.ip); err != nil {
		c.log.Warn("c2s: login throttled for this address")
		return c.saslFail(sasl.TemporaryAuthFailure, "too many failed logins, try later", jid.JID{})
	}
	var attempted jid.JID
	cfg := sasl.ServerConfig{
		FakeSecret:      c.cfg.FakeSecret,
		FakeIterations:  c.cfg.Iterations,
		ChannelBindings: c.channelBindings(),
		Mechanisms:      offered,
		Lookup: func(username string, h sasl.Hash) (sasl.Credentials, error) {
			user, err := jid.New(username, c.domain, "")
			if err != nil {
				return sasl.Credentials{}, sasl.ErrUnknownUser
			}
			attempted = user
			if err := c.cfg.Auth.Allow(user, c.ip); err != nil {
				return sasl.Credentials{}, &sasl.Failure{Condition: sasl.TemporaryAuthFailure, Text: "too many failed logins, try later", Err: err}
			}
			k, err := c.cfg.Auth.SCRAMKey(ctx, user, h.Name())
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
				return &sasl.Failure{Condition: sasl.NotAuthorized}
			}
			attempted = user
			if err := c.cfg.Auth.Allow(user, c.ip); err != nil {
				return &sasl.Failure{Condition: sasl.TemporaryAuthFailure, Text: "too many failed logins, try later", Err: err}
			}
			if err := c.cfg.Auth.CheckPassword(ctx, user, password); errors.Is(err, authn.ErrAccountDisabled) {
				return &sasl.Failure{Condition: sasl.AccountDisabled, Err: err}
			} else if err != nil {
				return &sasl.Failure{Condition: sasl.NotAuthorized, Err: err}
			}
			return nil
		},
	}
	mech, err := sasl.NewServer(mechName, cfg)
	if err != nil {
		return c.saslFail(sasl.InvalidMechanism, "", jid.JID{})
	}
	in, ok := decodeSASL(auth.Text())
	if !ok {
		return c.saslFail(sasl.IncorrectEncoding, "", jid.JID{})
	}
	for {
		out, done, err := mech.Next(in)
		if err != nil {
			var f *sasl.Failure
			cond := sasl.NotAuthorized
			if errors.As(err, &f) {
				cond = f.Condition
			}
			c.log.Info("c2s: authentication failed", "mechanism", mechName, "user", attempted.String(), "condition", cond, "err", err)
			return c.saslFail(cond, "", attempted)
		}
		if done {
			// Only now, with the identity proven, may the answer say
			// that the account is disabled (XEP-0133 §4.3).
			if u, err := jid.New(mech.Username(), c.domain, ""); err == nil {
				if err := c.cfg.Auth.CheckEnabled(ctx, u); errors.Is(err, authn.ErrAccountDisabled) {
					c.log.Info("c2s: login to a disabled account", "user", u.String())
					return c.saslFail(sasl.AccountDisabled, "", u)
				} else if err != nil {
					c.log.Error("c2s: checking the account status", "user", u.String(), "err", err)
					return c.saslFail(sasl.TemporaryAuthFailure, "", jid.JID{})
				}
			}
			return c.saslSucceed(mech, out)
		}
		if err := c.writeRaw(stanza.New(nsSASL, "challenge").AppendText(base64.StdEncoding.EncodeToString(out)).AppendXML(nil, stanza.NSClient)); err != nil {
			return err
		}
		el, err := c.dec.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return errClosed
			}
			return err
		}
		switch {
		case el.Name.Space == nsSASL && el.Name.Local == "response":
			if in, ok = decodeSASL(el.Text()); !ok {
				return c.saslFail(sasl.IncorrectEncoding, "", attempted)
			}
		case el.Name.Space == nsSASL && el.Name.Local == "abort":
			return c.saslFail(sasl.Aborted, "", jid.JID{})
		default:
			return &stream.Error{Condition: stream.NotAuthorized, Text: "unexpected element during SASL"}
		}
	}
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

func (c *conn) saslFail(cond, text string, user jid.JID) error {
	if cond != sasl.Aborted && cond != sasl.TemporaryAuthFailure {
		c.cfg.Auth.Failed(user, c.ip)
	}
	if err := c.writeRaw(saslFailure(cond, text).AppendXML(nil, stanza.NSClient)); err != nil {
		return err
	}
	c.saslFailures++
	if c.saslFailures >= maxSASLFailures {
		return &stream.Error{Condition: stream.PolicyViolation, Text: "too many failed authentication attempts"}
	}
	return nil
}

func (c *conn) saslSucceed(mech sasl.ServerMechanism, out []byte) error {
	user, err := jid.New(mech.Username(), c.domain, "")
	if err != nil {
		return c.saslFail(sasl.NotAuthorized, "", jid.JID{})
	}
	if az := mech.Authzid(); az != "" {
		azj, err := jid.Parse(az)
		if err != nil || azj != user {
			c.log.Warn("c2s: authzid names another identity", "user", user, "authzid", az)
			return c.saslFail(sasl.InvalidAuthzid, "", user)
		}
	}
	c.cfg.Auth.Succeeded(user, c.ip)
	s := stanza.New(nsSASL, "success")
	if len(out) > 0 {
		s.AppendText(base64.StdEncoding.EncodeToString(out))
	}
	if err := c.writeRaw(s.AppendXML(nil, stanza.NSClient)); err != nil {
		return err
	}
	c.user = user
	c.log = c.log.With("user", user.String())
	c.ph = phaseBind
	c.log.Info("c2s: authenticated", "mechanism", mech.Name())
	c.dec.Reset(c.rd)
	return c.openStream()
}
