// Package upload is HTTP File Upload (XEP-0363): a service on
// upload.<domain> for each served domain grants the server's users slots
// to PUT a file on the server's HTTP listeners and share its GET URL. The
// files are kept by server/upload's Store, served under its Path.
package upload

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/upload"
	"github.com/parley-xmpp/parley/xmpp/disco"
	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// NS is XEP-0363's namespace.
const NS = "urn:xmpp:http:upload:0"

// Prefix is the service domain's first label.
const Prefix = "upload"

// purgeEvery is how often expired files are deleted.
const purgeEvery = time.Hour

// Module is the upload service.
type Module struct {
	store *upload.Store
	host  module.Host
}

// New returns the module with a store of o (see Configure for the
// section modules.upload that may replace o's settings).
func New(o upload.Options) *Module { return &Module{store: upload.New(o)} }

var (
	_ module.Module       = (*Module)(nil)
	_ module.Starter      = (*Module)(nil)
	_ module.Configurable = (*Module)(nil)
)

// Configure implements module.Configurable: modules.upload's keys
// max_file_size, quota (per user), retention, base_url and dir.
func (m *Module) Configure(s config.Section) error {
	o := m.store.Options()
	var maxFile, quota int
	maxFile, quota = int(o.MaxFileSize), int(o.Quota)
	err := s.Decode(config.Fields{
		"max_file_size": func(v config.Value) { v.Size(&maxFile) },
		"quota":         func(v config.Value) { v.Size(&quota) },
		"retention":     func(v config.Value) { v.Duration(&o.Retention) },
		"base_url":      func(v config.Value) { v.String(&o.BaseURL) },
		"dir":           func(v config.Value) { v.String(&o.Dir) },
	}, func(report config.Report) {
		if maxFile < 1 {
			report("max_file_size", "must be at least 1 byte")
		}
		if quota < maxFile {
			report("quota", "must be at least max_file_size")
		}
		if o.Retention <= 0 {
			report("retention", "must be positive")
		}
		if u, err := url.Parse(o.BaseURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			report("base_url", "%q is not an http(s) URL", o.BaseURL)
		}
	})
	if err != nil {
		return err
	}
	o.MaxFileSize, o.Quota = int64(maxFile), int64(quota)
	m.store = upload.New(o)
	return nil
}

// Store is the module's file store.
func (m *Module) Store() *upload.Store { return m.store }

// Name implements module.Module.
func (*Module) Name() string { return "upload" }

// Register implements module.Module.
func (m *Module) Register(r module.Registrar) error {
	m.host = r.Host()
	o := m.store.Options()
	o.Now, o.Log = m.host.Now, m.host.Logger()
	m.store = upload.New(o)
	for _, d := range m.host.Domains() {
		svc, err := jid.New("", Prefix+"."+d, "")
		if err != nil {
			return err
		}
		r.ServiceDomain(svc.Domain(), m.serviceHook(svc))
	}
	r.HandleHTTP(upload.Path, m.store)
	return nil
}

// Start implements module.Starter: expired files are deleted in the
// background.
func (m *Module) Start(context.Context) error {
	if err := m.store.Open(); err != nil {
		return err
	}
	m.host.Go(func(ctx context.Context) { m.store.Run(ctx, purgeEvery) })
	return nil
}

func (m *Module) serviceHook(svc jid.JID) module.Hook {
	return func(ctx context.Context, p *module.Packet) module.Verdict {
		st := p.Stanza
		if p.Kind != stanza.KindIQ || !st.IsRequest() || st.Type() != stanza.TypeGet || p.To.Resource() != "" || p.To.Local() != "" {
			return module.Continue
		}
		q := st.Payload()
		if q == nil {
			return module.Continue
		}
		switch {
		case q.Name.Space == disco.NSInfo && q.Name.Local == "query" && q.Get("node") == "":
			m.host.Route(ctx, stanza.Result(st, m.info().Element()))
		case q.Name.Space == disco.NSItems && q.Name.Local == "query" && q.Get("node") == "":
			m.host.Route(ctx, stanza.Result(st, disco.Items{}.Element()))
		case q.Name.Space == NS && q.Name.Local == "request":
			m.request(ctx, p, svc)
		default:
			return module.Continue
		}
		return module.Handled
	}
}

// info is the service's disco#info, with its maximum file size
// (XEP-0363 §3).
func (m *Module) info() disco.Info {
	f := form.New(form.TypeResult, NS)
	f.Add(form.Field{Var: "max-file-size", Values: []string{strconv.FormatInt(m.store.MaxFileSize(), 10)}})
	return disco.Info{
		Identities: []disco.Identity{{Category: "store", Type: "file", Name: "HTTP File Upload"}},
		Features:   []string{disco.NSInfo, disco.NSItems, NS},
		Forms:      []*stanza.Element{f.Element()},
	}
}

// request grants a slot (XEP-0363 §4) to a user of a served domain.
func (m *Module) request(ctx context.Context, p *module.Packet, svc jid.JID) {
	st, q := p.Stanza, p.Stanza.Payload()
	reply := func(e *stanza.Error) { m.host.Route(ctx, stanza.ErrorReply(st, e)) }
	if !m.host.IsLocal(p.From.Domain()) {
		reply(stanza.Errorf(stanza.NotAllowed, "only users of this server may upload"))
		return
	}
	size, err := strconv.ParseInt(q.Get("size"), 10, 64)
	if err != nil || size <= 0 || q.Get("filename") == "" {
		reply(stanza.Errorf(stanza.BadRequest, "a request needs a filename and a positive size"))
		return
	}
	slot, err := m.store.NewSlot(p.From.Bare().String(), q.Get("filename"), size, q.Get("content-type"))
	switch {
	case errors.Is(err, upload.ErrTooLarge):
		e := stanza.Errorf(stanza.NotAcceptable, "the file is too large: at most %d bytes", m.store.MaxFileSize())
		e.App = stanza.New(NS, "file-too-large").Append(stanza.New(NS, "max-file-size").AppendText(strconv.FormatInt(m.store.MaxFileSize(), 10)))
		reply(e)
		return
	case errors.Is(err, upload.ErrQuota):
		reply(&stanza.Error{Type: stanza.ErrWait, Condition: stanza.ResourceConstraint, Text: "upload quota reached: delete files or wait for old ones to expire"})
		return
	case errors.Is(err, upload.ErrBusy):
		reply(&stanza.Error{Type: stanza.ErrWait, Condition: stanza.ResourceConstraint, Text: "too many uploads pending"})
		return
	case err != nil:
		reply(stanza.Errorf(stanza.BadRequest, "%v", err))
		return
	}
	m.host.Logger().Info("upload: slot granted", "user", p.From.Bare(), "size", size, "service", svc)
	res := stanza.New(NS, "slot").
		Append(stanza.New(NS, "put", "url", slot.Put)).
		Append(stanza.New(NS, "get", "url", slot.Get))
	m.host.Route(ctx, stanza.Result(st, res))
}
