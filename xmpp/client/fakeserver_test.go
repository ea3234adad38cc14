package client

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"math/big"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/sasl"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

const testDomain = "example.test"

// testCert returns a self-signed certificate for testDomain and a pool
// trusting it.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: testDomain},
		DNSNames:              []string{testDomain},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// fakeServer is a minimal scripted XMPP server for one connection at a
// time: it negotiates STARTTLS (or direct TLS), SASL with the sasl package's
// server mechanisms and resource binding, then hands the session to script.
type fakeServer struct {
	t         *testing.T
	ln        net.Listener
	cert      tls.Certificate
	pool      *x509.CertPool
	directTLS bool
	noTLS     bool     // do not offer STARTTLS
	password  string   // of every user
	mechs     []string // advertised mechanisms
	saslMechs []string // the list given to the SASL server for XEP-0474 (default: mechs)
	cbTypes   []string // XEP-0440 advertised types (nil: none, and no XEP-0474)
	saslCB    []string // the types given to the SASL server (default: cbTypes)
	gotAuth   chan string
	script    func(s *session)
	errs      chan error
}

// session is the server side of one negotiated stream.
type session struct {
	t    *testing.T
	conn net.Conn
	dec  *stream.Decoder
	jid  jid.JID
}

// read returns the next element from the client.
func (s *session) read() (*stanza.Element, error) { return s.dec.Next() }

// mustRead returns the next element or fails the test.
func (s *session) mustRead() *stanza.Element {
	el, err := s.read()
	if err != nil {
		s.t.Errorf("server read: %v", err)
		return stanza.New("", "nothing")
	}
	return el
}

// write sends an element.
func (s *session) write(el *stanza.Element) {
	if _, err := s.conn.Write(el.AppendXML(nil, stanza.NSClient)); err != nil {
		s.t.Errorf("server write: %v", err)
	}
}

// writeRaw sends bytes.
func (s *session) writeRaw(b string) {
	if _, err := s.conn.Write([]byte(b)); err != nil {
		s.t.Errorf("server write: %v", err)
	}
}

func newFakeServer(t *testing.T, script func(s *session)) *fakeServer {
	t.Helper()
	cert, pool := testCert(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fs := &fakeServer{
		t: t, ln: ln, cert: cert, pool: pool, password: "secret",
		mechs:   []string{sasl.ScramSHA256Plus, sasl.ScramSHA256, sasl.ScramSHA1, sasl.Plain},
		cbTypes: []string{sasl.TLSExporter, sasl.TLSServerEndPoint},
		gotAuth: make(chan string, 4),
		script:  script,
		errs:    make(chan error, 4),
	}
	t.Cleanup(func() { ln.Close() })
	return fs
}

// start begins accepting connections; call after adjusting fields.
func (fs *fakeServer) start() *fakeServer {
	go func() {
		for {
			conn, err := fs.ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				if err := fs.serve(conn); err != nil {
					fs.errs <- err
				}
			}()
		}
	}()
	return fs
}

// config returns a client configuration for user alice.
func (fs *fakeServer) config() Config {
	return Config{
		JID:       jid.MustParse("alice@" + testDomain),
		Password:  fs.password,
		Address:   fs.ln.Addr().String(),
		DirectTLS: fs.directTLS,
		TLS:       &tls.Config{RootCAs: fs.pool},
	}
}

func (fs *fakeServer) tlsConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{fs.cert}, NextProtos: []string{"xmpp-client"}}
}

// open reads the client's stream header and answers with ours and features.
func (fs *fakeServer) open(s *session, features *stanza.Element) error {
	h, err := s.dec.ReadHeader()
	if err != nil {
		return fmt.Errorf("reading client header: %w", err)
	}
	if h.To != testDomain || h.Version != "1.0" {
		return fmt.Errorf("bad client header %+v", h)
	}
	out := stream.AppendHeader(nil, stream.Header{From: testDomain, ID: rand.Text(), Version: "1.0", Lang: "en", ContentNS: stanza.NSClient})
	out = features.AppendXML(out, stanza.NSClient)
	_, err = s.conn.Write(out)
	return err
}

func (fs *fakeServer) serve(conn net.Conn) error {
	s := &session{t: fs.t, conn: conn}
	if fs.directTLS {
		tc := tls.Server(conn, fs.tlsConfig())
		if err := tc.Handshake(); err != nil {
			return err
		}
		s.conn = tc
	}
	s.dec = stream.NewDecoder(s.conn, stream.DefaultLimits())
	if !fs.directTLS {
		f := stanza.New(stanza.NSStream, "features")
		if !fs.noTLS {
			f.Append(stanza.New(nsTLS, "starttls").Append(stanza.New(nsTLS, "required")))
		}
		if err := fs.open(s, f); err != nil {
			return err
		}
		el, err := s.read()
		if err != nil {
			return err
		}
		if el.Name != (xmlName(nsTLS, "starttls")) {
			return fmt.Errorf("expected starttls, got %s", el)
		}
		s.write(stanza.New(nsTLS, "proceed"))
		tc := tls.Server(conn, fs.tlsConfig())
		if err := tc.Handshake(); err != nil {
			return err
		}
		s.conn = tc
		s.dec.Reset(tc)
	}
	if err := fs.auth(s); err != nil {
		return err
	}
	s.dec.Reset(s.conn)
	f := stanza.New(stanza.NSStream, "features").Append(stanza.New(nsBind, "bind"))
	if err := fs.open(s, f); err != nil {
		return err
	}
	el, err := s.read()
	if err != nil {
		return err
	}
	res := "gen-res"
	if b := el.Child(nsBind, "bind"); b != nil && b.ChildText(nsBind, "resource") != "" {
		res = b.ChildText(nsBind, "resource")
	}
	s.jid = jid.MustParse("alice@" + testDomain + "/" + res)
	s.write(stanza.Result(el, stanza.New(nsBind, "bind").Append(stanza.New(nsBind, "jid").AppendText(s.jid.String()))))
	if fs.script != nil {
		fs.script(s)
	}
	return nil
}

// auth runs the SASL exchange with the sasl package's server side.
func (fs *fakeServer) auth(s *session) error {
	f := stanza.New(stanza.NSStream, "features")
	m := stanza.New(nsSASL, "mechanisms")
	for _, name := range fs.mechs {
		m.Append(stanza.New(nsSASL, "mechanism").AppendText(name))
	}
	f.Append(m)
	if fs.cbTypes != nil {
		cb := stanza.New(nsSASLCB, "sasl-channel-binding")
		for _, t := range fs.cbTypes {
			cb.Append(stanza.New(nsSASLCB, "channel-binding", "type", t))
		}
		f.Append(cb)
	}
	if err := fs.open(s, f); err != nil {
		return err
	}
	st := s.conn.(*tls.Conn).ConnectionState()
	all := map[string][]byte{sasl.TLSServerEndPoint: sasl.EndPointBinding(fs.cert.Leaf)}
	if b, err := st.ExportKeyingMaterial(sasl.ExporterLabel, nil, 32); err == nil {
		all[sasl.TLSExporter] = b
	}
	saslMechs := fs.saslMechs
	if saslMechs == nil {
		saslMechs = fs.mechs
	}
	bindings := all
	if fs.cbTypes != nil || fs.saslCB != nil {
		use := fs.saslCB
		if use == nil {
			use = fs.cbTypes
		}
		bindings = map[string][]byte{}
		for _, t := range use {
			bindings[t] = all[t]
		}
	} else {
		saslMechs = nil // a server without XEP-0440 and XEP-0474
	}
	cfg := sasl.ServerConfig{
		Lookup: func(user string, h sasl.Hash) (sasl.Credentials, error) {
			if user != "alice" {
				return sasl.Credentials{}, sasl.ErrUnknownUser
			}
			return sasl.NewCredentials(h, fs.password, 4096)
		},
		FakeSecret:      []byte("fake"),
		ChannelBindings: bindings,
		Mechanisms:      saslMechs,
		CheckPLAIN: func(user, pw string) error {
			if user != "alice" || pw != fs.password {
				return errors.New("bad password")
			}
			return nil
		},
	}
	el, err := s.read()
	if err != nil {
		return err
	}
	if el.Name != xmlName(nsSASL, "auth") {
		return fmt.Errorf("expected auth, got %s", el)
	}
	name := el.Get("mechanism")
	fs.gotAuth <- name
	var mech sasl.ServerMechanism
	if slices.Contains(fs.mechs, name) {
		mech, err = sasl.NewServer(name, cfg)
	} else {
		err = &sasl.Failure{Condition: sasl.InvalidMechanism}
	}
	for err == nil {
		var in []byte
		if in, err = decodeSASL(el.Text()); err != nil {
			break
		}
		out, done, merr := mech.Next(in)
		if merr != nil {
			err = merr
			break
		}
		if done {
			s.write(stanza.New(nsSASL, "success").AppendText(encodeSASL(out)))
			return nil
		}
		s.write(stanza.New(nsSASL, "challenge").AppendText(base64.StdEncoding.EncodeToString(out)))
		if el, err = s.read(); err != nil {
			return err
		}
		if el.Name.Local == "abort" {
			err = &sasl.Failure{Condition: sasl.Aborted}
		}
	}
	cond := sasl.NotAuthorized
	var f2 *sasl.Failure
	if errors.As(err, &f2) {
		cond = f2.Condition
	}
	s.write(stanza.New(nsSASL, "failure").Append(stanza.New(nsSASL, cond)).
		Append(stanza.New(nsSASL, "text").AppendText("try again")))
	s.read() // the client's closing tag
	return nil
}

func xmlName(space, local string) xml.Name { return xml.Name{Space: space, Local: local} }
