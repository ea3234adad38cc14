package app

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/parley-xmpp/parley/server/admin"
	"github.com/parley-xmpp/parley/server/admin/socket"
	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/loglevel"
	"github.com/parley-xmpp/parley/server/logring"
	"github.com/parley-xmpp/parley/server/mod/muc"
	"github.com/parley-xmpp/parley/server/stream"
)

// AdminOptions configure the live administration of the server: the
// operations (server/admin) and the admin socket in the data folder.
type AdminOptions struct {
	// Version is reported by the status operation.
	Version string
	// Levels are the log levels of the server's logger (built with
	// Levels.Handler); nil: the levels cannot change.
	Levels *loglevel.Levels
	// Recent are the recent warnings and errors of the server's logger
	// (built with Recent.Handler), shown by the web admin pages; nil:
	// not kept.
	Recent *logring.Ring
	// Load re-reads the configuration for a reload; nil: no reload.
	Load func() (*config.Config, error)
	// NoSocket: do not serve the admin socket (the operations remain,
	// through Admin).
	NoSocket bool
}

// EnableAdmin turns the live administration on; call it before Start,
// which then serves the admin socket (socket.Listen) in the data folder.
func (a *App) EnableAdmin(o AdminOptions) { a.adminOpts = &o }

// Admin returns the operations on the running server, nil before Start
// or without EnableAdmin.
func (a *App) Admin() *admin.Ops {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ops
}

// startAdmin builds the operations and serves the admin socket until ctx
// ends. A socket that cannot be made (an unsafe data folder) is logged,
// and the server runs without it.
func (a *App) startAdmin(ctx context.Context) {
	o := a.adminOpts
	started := time.Now()
	opts := admin.Options{
		Version:      o.Version,
		Started:      started,
		Domains:      a.cfg.Domains,
		Sessions:     a.router.Sessions(),
		Route:        a.router.Route,
		Accounts:     a.Accounts(),
		ListAccounts: a.stores.Accounts.ListAccounts,
		Components:   a.componentStatus,
		Levels:       o.Levels,
		Log:          a.log.With("component", "admin"),
	}
	if a.cfg.S2S.Enabled {
		opts.Links = federationLinks{a}.Links
	}
	if a.cluster != nil {
		opts.Cluster = a.clusterStatus
	}
	for _, m := range a.modules {
		if mm, ok := m.(*muc.Module); ok {
			opts.Rooms = func(ctx context.Context) ([]admin.Room, error) { return mucRooms(ctx, mm) }
		}
	}
	if o.Load != nil {
		opts.Reload = a.reload
	}
	ops := admin.New(opts)
	a.mu.Lock()
	a.ops = ops
	a.mu.Unlock()
	if o.NoSocket {
		return
	}
	ln, err := socket.Listen(a.cfg.DataDir)
	if err != nil {
		a.log.Error("no admin socket: the parley commands status, kick, reload, ... cannot reach this server", "err", err)
		return
	}
	a.log.Info("admin socket ready", "path", ln.Addr().String())
	srv := socket.NewServer(ops, a.log.With("component", "admin"))
	a.wg.Go(func() {
		if err := srv.Serve(ctx, ln); err != nil {
			a.log.Error("admin socket failed", "err", err)
		}
	})
}

// mucRooms lists the rooms of the MUC module.
func mucRooms(ctx context.Context, m *muc.Module) ([]admin.Room, error) {
	rooms, err := m.Rooms(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]admin.Room, 0, len(rooms))
	for _, r := range rooms {
		out = append(out, admin.Room{JID: r.JID.String(), Name: r.Name, Occupants: r.Occupants, Persistent: r.Persistent, Public: r.Public})
	}
	return out, nil
}

// componentStatus reports the configured components, sorted by domain.
func (a *App) componentStatus() []admin.Component {
	if a.components == nil {
		return nil
	}
	var out []admin.Component
	var where map[string]string
	if a.cluster != nil {
		where = a.cluster.Components()
	}
	for domain, r := range a.components.Routes() {
		out = append(out, admin.Component{Domain: domain, Connected: r.Connected(), Node: where[domain]})
	}
	slices.SortFunc(out, func(x, y admin.Component) int { return strings.Compare(x.Domain, y.Domain) })
	return out
}

// hotLimits are the limits (config.Limits fields) a reload changes for
// the client streams accepted from then on; the others need a restart.
var hotLimits = map[string]bool{
	"MaxStanzaBytes": true, "MaxDepth": true, "PreauthStanzaBytes": true, "PreauthElements": true,
	"PreauthTimeout": true, "OutboundQueue": true, "IdlePing": true, "PingTimeout": true, "ParkAfter": true,
	"OutboundQueueBytes": true, "Rate": true, "PreauthRate": true,
}

// reload re-reads the configuration and the certificates and applies the
// limits of client streams, the log level and the certificates; it
// reports the other changes as needing a restart. Open sessions stay.
func (a *App) reload(_ context.Context) (admin.ReloadReport, error) {
	r := admin.ReloadReport{Applied: []string{}, NeedRestart: []string{}}
	next, err := a.adminOpts.Load()
	if err != nil {
		return r, err
	}
	// The served domains are those of the start (a change of domains
	// needs a restart): a self-signed certificate is not re-made for new
	// ones.
	forCerts := *next
	forCerts.Domains, forCerts.DataDir = a.cfg.Domains, a.cfg.DataDir
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	prev := a.certCfg.Load()
	a.certCfg.Store(&forCerts)
	certsChanged := a.certs.Changed()
	if err := a.certs.Reload(); err != nil {
		a.certCfg.Store(prev) // the certificates in use stay
		return r, err
	}
	cur := a.running
	if cur == nil {
		c := *a.cfg
		cur = &c
	}
	running := *cur
	vc, vn := reflect.ValueOf(*cur), reflect.ValueOf(*next)
	for i := range vc.NumField() {
		f := vc.Type().Field(i)
		if reflect.DeepEqual(vc.Field(i).Interface(), vn.Field(i).Interface()) {
			continue
		}
		key := snake(f.Name)
		switch f.Name {
		case "Limits":
			lc, ln := vc.Field(i), vn.Field(i)
			for k := range lc.NumField() {
				name := lc.Type().Field(k).Name
				if reflect.DeepEqual(lc.Field(k).Interface(), ln.Field(k).Interface()) {
					continue
				}
				if hotLimits[name] {
					r.Applied = append(r.Applied, "limits."+snake(name))
				} else {
					r.NeedRestart = append(r.NeedRestart, "limits."+snake(name))
				}
			}
			running.Limits = next.Limits
			a.setLimits(next.Limits)
		case "Log":
			switch {
			case next.Log.Level == cur.Log.Level:
			case a.adminOpts.Levels != nil:
				a.adminOpts.Levels.SetDefault(next.Log.Level)
				running.Log.Level = next.Log.Level
				r.Applied = append(r.Applied, "log.level")
			default: // a logger of fixed levels
				r.NeedRestart = append(r.NeedRestart, "log.level")
			}
			if next.Log.Format != cur.Log.Format {
				r.NeedRestart = append(r.NeedRestart, "log.format")
			}
		case "TLS":
			// The certificates are reloaded below; their paths may change.
			running.TLS.Certificates = next.TLS.Certificates
			if next.TLS.MinVersion != cur.TLS.MinVersion {
				r.NeedRestart = append(r.NeedRestart, "tls.min_version")
			}
			if next.TLS.RecordLayer != cur.TLS.RecordLayer {
				r.NeedRestart = append(r.NeedRestart, "tls.record_layer")
			}
		case "DataDir":
			r.NeedRestart = append(r.NeedRestart, "data_dir")
		default:
			r.NeedRestart = append(r.NeedRestart, key)
		}
	}
	if certsChanged {
		r.Applied = append(r.Applied, "tls certificates")
	}
	a.running = &running
	a.log.Info("configuration reloaded", "applied", r.Applied, "need_restart", r.NeedRestart)
	return r, nil
}

// setLimits gives the client stream engines new limits.
func (a *App) setLimits(cl config.Limits) {
	l := streamLimits(cl)
	a.mu.Lock()
	engines := append([]*stream.Server(nil), a.engines...)
	if a.webEngine != nil {
		engines = append(engines, a.webEngine)
	}
	a.mu.Unlock()
	for _, e := range engines {
		e.SetLimits(l)
	}
}

// snake turns a Go field name into its configuration key
// (MaxStanzaBytes: max_stanza_bytes, TLS: tls, S2S: s2s).
func snake(name string) string {
	var b strings.Builder
	rs := []rune(name)
	for i, c := range rs {
		if unicode.IsUpper(c) && i > 0 && (unicode.IsLower(rs[i-1]) || (i+1 < len(rs) && unicode.IsLower(rs[i+1]) && unicode.IsUpper(rs[i-1]))) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}
