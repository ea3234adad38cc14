package load

import (
	"crypto/tls"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/parley-xmpp/parley/xmpp/fast"
	"github.com/parley-xmpp/parley/xmpp/sasl"
	"github.com/parley-xmpp/parley/xmpp/sasl2"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// Returning is what returning clients keep between logins: each
// account's TLS session ticket and FAST token (XEP-0484), as a client
// application stores them. Set as Dialer.Returning, logins use them:
// a ticket (if any) to resume the TLS session, the token (if the server
// offers FAST) to log in without SCRAM, and they request and keep new
// ones. It is safe for concurrent use; it holds one ticket and one token
// per account index.
type Returning struct {
	mu     sync.Mutex
	caches map[int]*oneTicket
	tokens map[int]fastToken
}

// fastToken is a FAST token and the mechanism it was issued for.
type fastToken struct {
	mechanism, token string
	expiry           time.Time
}

// NewReturning returns an empty store.
func NewReturning() *Returning {
	return &Returning{caches: map[int]*oneTicket{}, tokens: map[int]fastToken{}}
}

// cache returns account idx's session cache.
func (r *Returning) cache(idx int) tls.ClientSessionCache {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.caches[idx]
	if c == nil {
		c = &oneTicket{}
		r.caches[idx] = c
	}
	return c
}

func (r *Returning) token(idx int) (fastToken, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.tokens[idx]
	return t, ok
}

func (r *Returning) setToken(idx int, t fastToken) {
	r.mu.Lock()
	r.tokens[idx] = t
	r.mu.Unlock()
}

// Counts returns how many accounts hold a TLS session ticket and how
// many a FAST token.
func (r *Returning) Counts() (tickets, tokens int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.caches {
		if c.held() {
			tickets++
		}
	}
	return tickets, len(r.tokens)
}

// oneTicket is one account's session cache: the latest ticket only (a
// client of one server needs no more).
type oneTicket struct {
	mu sync.Mutex
	cs *tls.ClientSessionState
}

// Get implements tls.ClientSessionCache.
func (o *oneTicket) Get(string) (*tls.ClientSessionState, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.cs, o.cs != nil
}

// Put implements tls.ClientSessionCache.
func (o *oneTicket) Put(_ string, cs *tls.ClientSessionState) {
	o.mu.Lock()
	o.cs = cs
	o.mu.Unlock()
}

func (o *oneTicket) held() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.cs != nil
}

// userAgentID is the stable XEP-0388 user-agent ID of account idx's
// "installation", under which the server keeps its FAST token.
func userAgentID(idx int) string {
	return fmt.Sprintf("6c6f6164-0000-4000-8000-%012x", idx)
}

// authenticate2 logs in with SASL2 (XEP-0388): with the account's FAST
// token when it holds one the server accepts, else with SCRAM (asking for
// a token when the server offers FAST). The features of the
// authenticated stream follow the success, without a stream restart.
func (d *Dialer) authenticate2(s *Session, acc Account) error {
	feat := sasl2.ParseFeature(s.features.Child(sasl2.NS, "authentication"))
	var fastMechs []string
	if el := feat.InlineFeature(fast.NS, "fast"); el != nil {
		fastMechs = fast.ParseFeature(el).Mechanisms
	}
	ua := &sasl2.UserAgent{ID: userAgentID(s.Index), Software: "parley bench"}
	cb := s.channelBindings()
	if t, ok := d.Returning.token(s.Index); ok && slices.Contains(fastMechs, t.mechanism) {
		m, err := fast.NewClient(t.mechanism, acc.User, t.token, cb)
		if err != nil {
			return err
		}
		err = d.exchange2(s, m, t.mechanism, ua, []*stanza.Element{fast.Auth{}.Element()})
		if err == nil {
			s.FastAuth = true
			return nil
		}
		return fmt.Errorf("FAST: %w", err)
	}
	if !slices.Contains(feat.Mechanisms, d.Mechanism) {
		return fmt.Errorf("server does not offer %s over SASL2", d.Mechanism)
	}
	sc, err := newScramClient(d.keys(), d.Mechanism, acc.User, acc.Password)
	if err != nil {
		return err
	}
	var extra []*stanza.Element
	mech := ""
	if len(fastMechs) > 0 {
		mech = fast.Mechanisms(cb)[0]
		if !slices.Contains(fastMechs, mech) {
			mech = fastMechs[0]
		}
		extra = append(extra, fast.RequestToken(mech))
	}
	return d.exchange2(s, &scramMech{sc: sc, name: d.Mechanism}, mech, ua, extra)
}

// exchange2 runs one SASL2 exchange; fastMech names the mechanism of a
// token the success may carry (requested or rotated), kept for the next
// login.
func (d *Dialer) exchange2(s *Session, m sasl.ClientMechanism, fastMech string, ua *sasl2.UserAgent, extra []*stanza.Element) error {
	initial, err := m.Start()
	if err != nil {
		return err
	}
	req := sasl2.Authenticate{Mechanism: m.Name(), Initial: initial, HasInitial: true, UserAgent: ua, Extensions: extra}
	if err := s.write(req.Element()); err != nil {
		return err
	}
	for {
		el, err := s.next()
		if err != nil {
			return fmt.Errorf("SASL2: %w", err)
		}
		if el.Name.Space != sasl2.NS {
			return fmt.Errorf("SASL2: unexpected <%s/>", el.Name.Local)
		}
		switch el.Name.Local {
		case "challenge":
			data, err := sasl2.DecodeData(el.Text())
			if err != nil {
				return err
			}
			resp, err := m.Next(data)
			if err != nil {
				return err
			}
			if err := s.write(sasl2.Response(resp)); err != nil {
				return err
			}
		case "success":
			ok, err := sasl2.ParseSuccess(el)
			if err != nil {
				return err
			}
			if ok.AdditionalData != nil || !m.Done() {
				if _, err := m.Next(ok.AdditionalData); err != nil {
					return fmt.Errorf("SASL2 %s: server not verified: %w", m.Name(), err)
				}
			}
			for _, x := range ok.Extensions {
				if x.Name.Space == fast.NS && x.Name.Local == "token" && fastMech != "" {
					if t, err := fast.ParseToken(x); err == nil {
						d.Returning.setToken(s.Index, fastToken{mechanism: fastMech, token: t.Token, expiry: t.Expiry})
					}
				}
			}
			return s.readFeatures()
		case "failure":
			f := sasl2.ParseFailure(el)
			return fmt.Errorf("SASL2 %s failure: %s", m.Name(), f.Condition)
		default:
			return fmt.Errorf("SASL2: unexpected <%s/>", el.Name.Local)
		}
	}
}

// scramMech adapts the generator's SCRAM client (with its key cache) to
// sasl.ClientMechanism for SASL2.
type scramMech struct {
	sc    *scramClient
	name  string
	step  int
	final bool
}

func (m *scramMech) Name() string           { return m.name }
func (m *scramMech) Start() ([]byte, error) { return m.sc.first(), nil }
func (m *scramMech) Done() bool             { return m.final }
func (m *scramMech) Next(data []byte) ([]byte, error) {
	m.step++
	if m.step == 1 {
		return m.sc.final(data)
	}
	if err := m.sc.verify(data); err != nil {
		return nil, err
	}
	m.final = true
	return nil, nil
}

// channelBindings returns the connection's tls-exporter channel binding
// (RFC 9266), when it is TLS 1.3.
func (s *Session) channelBindings() map[string][]byte {
	if s.tls == nil {
		return nil
	}
	st := s.tls.ConnectionState()
	if st.Version != tls.VersionTLS13 {
		return nil
	}
	b, err := st.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
	if err != nil {
		return nil
	}
	return map[string][]byte{sasl.TLSExporter: b}
}
