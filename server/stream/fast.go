package stream

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"slices"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/fast"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/sasl"
	"github.com/parley-xmpp/parley/xmpp/sasl2"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// FAST configures XEP-0484 tokens.
type FAST struct {
	// Store keeps the tokens; nil disables FAST.
	Store storage.FastTokens
	// Lifetime is how long a token stays valid; 0 means 14 days. A token
	// used in its second half is rotated.
	Lifetime time.Duration
}

// defaultFastLifetime is the default validity of a FAST token.
const defaultFastLifetime = 14 * 24 * time.Hour

// fastLogin is a token authentication in progress.
type fastLogin struct {
	mech   *fast.Server
	client string // the user-agent id
	auth   fast.Auth
	used   storage.FastToken
}

func (c *conn) fastEnabled() bool { return c.cfg.FAST.Store != nil }

// fastMechanisms are the token mechanisms this connection supports: the
// channel-binding ones its TLS allows, and HT-SHA-256-NONE.
func (c *conn) fastMechanisms() []string { return fast.Mechanisms(c.channelBindings()) }

func (c *conn) fastLifetime() time.Duration {
	if c.cfg.FAST.Lifetime > 0 {
		return c.cfg.FAST.Lifetime
	}
	return defaultFastLifetime
}

// fastWrap wraps (or unwraps) a token's key digest for storage: it is
// XORed with a pad derived from the server secret, which is not in the
// database, and the token's random id.
func (c *conn) fastWrap(id, key []byte) []byte {
	m := hmac.New(sha256.New, c.cfg.FakeSecret)
	m.Write([]byte("parley fast token key\x00"))
	m.Write(id)
	pad := m.Sum(nil)
	out := make([]byte, len(key))
	for i := range key {
		out[i] = key[i] ^ pad[i%len(pad)]
	}
	return out
}

// fastMechanism builds the server side of a token authentication. FAST
// needs the client's user-agent id: tokens are issued per client.
func (c *conn) fastMechanism(ctx context.Context, a sasl2.Authenticate, uaID string) (sasl.ServerMechanism, *fastLogin, error) {
	if uaID == "" {
		return nil, nil, &authFailure{cond: sasl.NotAuthorized, text: "FAST needs a user-agent id"}
	}
	login := &fastLogin{client: uaID}
	if el := a.Extension(fast.NS, "fast"); el != nil {
		fa, err := fast.ParseAuth(el)
		if err != nil {
			return nil, nil, &authFailure{cond: sasl.MalformedRequest, text: err.Error()}
		}
		login.auth = fa
	}
	now := c.cfg.Now()
	mech, err := fast.NewServer(a.Mechanism, fast.ServerConfig{
		ChannelBindings: c.channelBindings(),
		Lookup: func(username string) ([]fast.Candidate, error) {
			var out []fast.Candidate
			// Never throttled: a token is a 256-bit secret nobody guesses,
			// and a client holding one must not be held up by others'
			// failed passwords. Wrong tokens are not counted either.
			if user, err := jid.New(username, c.domain, ""); err == nil {
				toks, err := c.cfg.FAST.Store.FastTokens(ctx, user, uaID)
				if err != nil {
					return nil, err
				}
				for _, t := range toks {
					cand := fast.Candidate{Key: c.fastWrap(t.ID, t.Key), Ref: t}
					switch {
					case t.Mechanism != a.Mechanism:
						// XEP-0484 §4.4: a token only works with the
						// mechanism it was issued for.
						cand.Reject = &sasl.Failure{Condition: sasl.NotAuthorized, Err: errors.New("token bound to " + t.Mechanism)}
					case !now.Before(t.Expiry):
						cand.Reject = &sasl.Failure{Condition: sasl.CredentialsExpired, Text: "the token has expired"}
					case login.auth.HasCount && login.auth.Count <= t.Count:
						cand.Reject = &sasl.Failure{Condition: sasl.NotAuthorized, Err: storage.ErrReplayed}
					}
					out = append(out, cand)
				}
			}
			if len(out) == 0 {
				// Spend the same work for unknown users and clients.
				_, dummy := fast.NewToken()
				out = append(out, fast.Candidate{Key: dummy, Reject: &sasl.Failure{Condition: sasl.NotAuthorized}})
			}
			return out, nil
		},
	})
	if err != nil {
		return nil, nil, &authFailure{cond: sasl.InvalidMechanism}
	}
	login.mech = mech
	return mech, login, nil
}

// fastUse records the use of the token the client proved, atomically with
// the replay check: a new token becomes current (revoking the previous
// one), an invalidation request deletes it.
func (c *conn) fastUse(ctx context.Context, res authenticated, login *fastLogin) error {
	m, ok := login.mech.Matched()
	if !ok {
		return &authFailure{cond: sasl.NotAuthorized, user: res.user}
	}
	t := m.Ref.(storage.FastToken)
	login.used = t
	if login.auth.Invalidate {
		if err := c.cfg.FAST.Store.DeleteFastToken(ctx, res.user, login.client, t.ID); err != nil {
			return err
		}
		c.log.Info("c2s: FAST token invalidated at the client's request", "user", res.user)
		return nil
	}
	err := c.cfg.FAST.Store.UseFastToken(ctx, res.user, login.client, t.ID, login.auth.Count)
	if errors.Is(err, storage.ErrReplayed) || errors.Is(err, storage.ErrNotFound) {
		c.log.Warn("c2s: FAST token replayed or revoked", "user", res.user, "err", err)
		return &authFailure{cond: sasl.NotAuthorized, user: res.user}
	}
	return err
}

// fastIssue returns the <token/> for the <success/>, or nil: a token the
// client requested with <request-token/>, or a rotation of the token it
// just used once that is in the second half of its life (unless it asked
// to invalidate it). Errors are logged: the login itself succeeded.
func (c *conn) fastIssue(ctx context.Context, a sasl2.Authenticate, uaID string, login *fastLogin) *stanza.Element {
	if !c.fastEnabled() || uaID == "" {
		return nil
	}
	mechanism := ""
	if el := a.Extension(fast.NS, "request-token"); el != nil {
		m, err := fast.ParseRequestToken(el)
		if err != nil || !slices.Contains(c.fastMechanisms(), m) {
			c.log.Info("c2s: FAST token requested for an unavailable mechanism", "mechanism", m)
			return nil
		}
		mechanism = m
	} else if login != nil && !login.auth.Invalidate && login.used.Expiry.Sub(c.cfg.Now()) < c.fastLifetime()/2 {
		mechanism = login.used.Mechanism
	}
	if mechanism == "" {
		return nil
	}
	token, digest := fast.NewToken()
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	expiry := c.cfg.Now().Add(c.fastLifetime()).UTC().Truncate(time.Second)
	err := c.cfg.FAST.Store.PutFastToken(ctx, c.user, uaID, storage.FastToken{
		ID: id, Key: c.fastWrap(id, digest), Mechanism: mechanism, Expiry: expiry,
	})
	if err != nil {
		c.log.Error("c2s: storing a FAST token", "err", err)
		return nil
	}
	c.log.Info("c2s: FAST token issued", "mechanism", mechanism, "expiry", expiry)
	return fast.Token{Token: token, Expiry: expiry}.Element()
}
