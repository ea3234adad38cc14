package config

import (
	"go.yaml.in/yaml/v3"
)

// config decodes the top-level mapping into c.
func (d *decoder) config(root *yaml.Node, c *Config) {
	if !isNull(root) && root.Kind != yaml.MappingNode {
		d.fail(root, "", "the top level must be a mapping of keys, not %s", kindName(root))
		return
	}
	d.mapping(root, root, "", map[string]field{
		"domains":   func(at, v *yaml.Node, key string) { d.domains(at, v, key, c) },
		"data_dir":  func(at, v *yaml.Node, key string) { d.str(at, v, key, &c.DataDir) },
		"listeners": func(at, v *yaml.Node, key string) { d.listeners(at, v, key, c) },
		"tls":       func(at, v *yaml.Node, key string) { d.tls(at, v, key, &c.TLS) },
		"storage": func(at, v *yaml.Node, key string) {
			var s string
			if !d.str(at, v, key, &s) {
				return
			}
			st, err := parseStorage(s)
			if err != nil {
				d.fail(at, key, "%v", err)
				return
			}
			c.Storage = st
		},
		"auth":              func(at, v *yaml.Node, key string) { d.auth(at, v, key, &c.Auth) },
		"limits":            func(at, v *yaml.Node, key string) { d.limits(at, v, key, &c.Limits) },
		"quotas":            func(at, v *yaml.Node, key string) { d.quotas(at, v, key, &c.Quotas) },
		"modules":           func(at, v *yaml.Node, key string) { d.modules(at, v, key, &c.Modules) },
		"log":               func(at, v *yaml.Node, key string) { d.log(at, v, key, &c.Log) },
		"admins":            func(at, v *yaml.Node, key string) { d.admins(at, v, key, c) },
		"registration":      func(at, v *yaml.Node, key string) { d.registration(at, v, key, &c.Registration) },
		"stream_management": func(at, v *yaml.Node, key string) { d.streamManagement(at, v, key, &c.StreamManagement) },
		"csi":               func(at, v *yaml.Node, key string) { d.csi(at, v, key, &c.CSI) },
		"runtime":           func(at, v *yaml.Node, key string) { d.runtime(at, v, key, &c.Runtime) },
		"s2s":               func(at, v *yaml.Node, key string) { d.s2s(at, v, key, &c.S2S) },
		"components":        func(at, v *yaml.Node, key string) { d.components(at, v, key, c) },
		"http":              func(at, v *yaml.Node, key string) { d.http(at, v, key, &c.HTTP) },
		"contact_addresses": func(at, v *yaml.Node, key string) { d.contactAddresses(at, v, key, &c.ContactAddresses) },
		"server_info":       func(at, v *yaml.Node, key string) { d.serverInfo(at, v, key, c) },
		"cluster":           func(at, v *yaml.Node, key string) { d.cluster(at, v, key, &c.Cluster) },
	})
}

// domains decodes and normalises the list of served domains.
func (d *decoder) domains(at, n *yaml.Node, key string, c *Config) {
	d.domainList(at, n, key, &c.Domains)
}

// listeners decodes the list of listeners, replacing the defaults.
func (d *decoder) listeners(at, n *yaml.Node, key string, c *Config) {
	list, before := []Listener{}, len(d.errs)
	ok := d.sequence(at, n, key, func(_ int, it *yaml.Node, ik string) {
		var l Listener
		var typ string
		d.required(it, ik, []string{"type", "address"}, map[string]field{
			"type":    func(at, v *yaml.Node, k string) { d.str(at, v, k, &typ) },
			"address": func(at, v *yaml.Node, k string) { d.str(at, v, k, &l.Address) },
		})
		l.Type = ListenerType(typ)
		list = append(list, l)
	})
	if ok && len(d.errs) == before {
		c.Listeners = list
	}
}

// required decodes list item n as a mapping with fields, and fails for
// each of the names in req that is missing.
func (d *decoder) required(n *yaml.Node, key string, req []string, fields map[string]field) {
	set := map[string]bool{}
	wrapped := make(map[string]field, len(fields))
	for name, fn := range fields {
		wrapped[name] = func(at, v *yaml.Node, k string) {
			set[name] = true
			fn(at, v, k)
		}
	}
	before := len(d.errs)
	d.mapping(n, n, key, wrapped)
	if n.Kind != yaml.MappingNode || len(d.errs) > before {
		return
	}
	for _, name := range req {
		if !set[name] {
			d.fail(n, key+"."+name, "is required")
		}
	}
}

// tls decodes the tls section.
func (d *decoder) tls(at, n *yaml.Node, key string, t *TLS) {
	d.mapping(at, n, key, map[string]field{
		"certificates": func(at, v *yaml.Node, key string) {
			list, before := []Certificate{}, len(d.errs)
			ok := d.sequence(at, v, key, func(_ int, it *yaml.Node, ik string) {
				var c Certificate
				d.required(it, ik, []string{"cert", "key"}, map[string]field{
					"cert": func(at, v *yaml.Node, k string) { d.str(at, v, k, &c.Cert) },
					"key":  func(at, v *yaml.Node, k string) { d.str(at, v, k, &c.Key) },
				})
				list = append(list, c)
			})
			if ok && len(d.errs) == before {
				t.Certificates = list
			}
		},
		"min_version": func(at, v *yaml.Node, key string) {
			s, ok := d.scalar(at, v, key, `"1.2" or "1.3"`)
			if !ok {
				return
			}
			ver, err := parseTLSVersion(s)
			if err != nil {
				d.fail(at, key, "%v", err)
				return
			}
			t.MinVersion = ver
		},
		"acme": func(at, v *yaml.Node, key string) { d.acme(at, v, key, &t.ACME) },
		"session_tickets": func(at, v *yaml.Node, key string) {
			st := &t.SessionTickets
			d.mapping(at, v, key, map[string]field{
				"enabled":      func(at, v *yaml.Node, k string) { d.boolean(at, v, k, &st.Enabled) },
				"rotate_every": func(at, v *yaml.Node, k string) { d.duration(at, v, k, &st.RotateEvery) },
				"lifetime":     func(at, v *yaml.Node, k string) { d.duration(at, v, k, &st.Lifetime) },
				"key_file":     func(at, v *yaml.Node, k string) { d.str(at, v, k, &st.KeyFile) },
			})
		},
		"record_layer": func(at, v *yaml.Node, key string) {
			s, ok := d.scalar(at, v, key, `"parley" or "go"`)
			if !ok {
				return
			}
			switch l := RecordLayer(s); l {
			case RecordLayerParley, RecordLayerGo:
				t.RecordLayer = l
			default:
				d.fail(at, key, `must be "parley" or "go", not %q`, s)
			}
		},
	})
}

// acme decodes the tls.acme section.
func (d *decoder) acme(at, n *yaml.Node, key string, a *ACME) {
	d.mapping(at, n, key, map[string]field{
		"enabled":     func(at, v *yaml.Node, key string) { d.boolean(at, v, key, &a.Enabled) },
		"email":       func(at, v *yaml.Node, key string) { d.str(at, v, key, &a.Email) },
		"directory":   func(at, v *yaml.Node, key string) { d.str(at, v, key, &a.Directory) },
		"ca_file":     func(at, v *yaml.Node, key string) { d.str(at, v, key, &a.CAFile) },
		"challenges":  func(at, v *yaml.Node, key string) { d.stringList(at, v, key, &a.Challenges) },
		"retry_after": func(at, v *yaml.Node, key string) { d.duration(at, v, key, &a.RetryAfter) },
	})
}

// auth decodes the auth section.
func (d *decoder) auth(at, n *yaml.Node, key string, a *Auth) {
	d.mapping(at, n, key, map[string]field{
		"scram_iterations":          func(at, v *yaml.Node, k string) { d.integer(at, v, k, &a.ScramIterations) },
		"allow_plain":               func(at, v *yaml.Node, k string) { d.boolean(at, v, k, &a.AllowPlain) },
		"free_failures_per_account": func(at, v *yaml.Node, k string) { d.integer(at, v, k, &a.FreeFailuresPerAccount) },
		"free_failures_per_address": func(at, v *yaml.Node, k string) { d.integer(at, v, k, &a.FreeFailuresPerAddress) },
		"failure_delay":             func(at, v *yaml.Node, k string) { d.duration(at, v, k, &a.FailureDelay) },
		"max_failure_delay":         func(at, v *yaml.Node, k string) { d.duration(at, v, k, &a.MaxFailureDelay) },
		"failure_window":            func(at, v *yaml.Node, k string) { d.duration(at, v, k, &a.FailureWindow) },
		// Replaced keys: failures used to lock the account (or address)
		// out; they now slow logins down per account and address.
		"max_failures_per_account": func(at, _ *yaml.Node, k string) {
			d.fail(at, k, "was replaced: failed logins now slow down (never refuse) the logins of one account from one address; use auth.free_failures_per_account, auth.failure_delay and auth.max_failure_delay (0 disables throttling)")
		},
		"max_failures_per_ip": func(at, _ *yaml.Node, k string) {
			d.fail(at, k, "was replaced: failed logins now slow down (never refuse) logins from an address; use auth.free_failures_per_address, auth.failure_delay and auth.max_failure_delay (0 disables throttling)")
		},
		"sasl2":               func(at, v *yaml.Node, k string) { d.boolean(at, v, k, &a.SASL2) },
		"fast_token_lifetime": func(at, v *yaml.Node, k string) { d.duration(at, v, k, &a.FastTokenLifetime) },
	})
}

// limits decodes the limits section.
func (d *decoder) limits(at, n *yaml.Node, key string, l *Limits) {
	d.mapping(at, n, key, map[string]field{
		"max_stanza_bytes":     func(at, v *yaml.Node, k string) { d.size(at, v, k, &l.MaxStanzaBytes) },
		"max_depth":            func(at, v *yaml.Node, k string) { d.integer(at, v, k, &l.MaxDepth) },
		"preauth_stanza_bytes": func(at, v *yaml.Node, k string) { d.size(at, v, k, &l.PreauthStanzaBytes) },
		"preauth_elements":     func(at, v *yaml.Node, k string) { d.integer(at, v, k, &l.PreauthElements) },
		"preauth_timeout":      func(at, v *yaml.Node, k string) { d.duration(at, v, k, &l.PreauthTimeout) },
		"sessions_per_account": func(at, v *yaml.Node, k string) { d.integer(at, v, k, &l.SessionsPerAccount) },
		"outbound_queue":       func(at, v *yaml.Node, k string) { d.integer(at, v, k, &l.OutboundQueue) },
		"offline_messages":     func(at, v *yaml.Node, k string) { d.integer(at, v, k, &l.OfflineMessages) },
		"idle_ping":            func(at, v *yaml.Node, k string) { d.duration(at, v, k, &l.IdlePing) },
		"ping_timeout":         func(at, v *yaml.Node, k string) { d.duration(at, v, k, &l.PingTimeout) },
		"park_after":           func(at, v *yaml.Node, k string) { d.duration(at, v, k, &l.ParkAfter) },
		"bosh_inactivity":      func(at, v *yaml.Node, k string) { d.duration(at, v, k, &l.BOSHInactivity) },
		"bosh_polling":         func(at, v *yaml.Node, k string) { d.duration(at, v, k, &l.BOSHPolling) },
		"component_grace":      func(at, v *yaml.Node, k string) { d.duration(at, v, k, &l.ComponentGrace) },

		"outbound_queue_bytes":            func(at, v *yaml.Node, k string) { d.size(at, v, k, &l.OutboundQueueBytes) },
		"directed_presences":              func(at, v *yaml.Node, k string) { d.integer(at, v, k, &l.DirectedPresences) },
		"shared_presences":                func(at, v *yaml.Node, k string) { d.integer(at, v, k, &l.SharedPresences) },
		"preauth_connections_per_address": func(at, v *yaml.Node, k string) { d.integer(at, v, k, &l.PreauthConnectionsPerAddress) },
		"rate":                            func(at, v *yaml.Node, k string) { d.rate(at, v, k, &l.Rate) },
		"preauth_rate":                    func(at, v *yaml.Node, k string) { d.rate(at, v, k, &l.PreauthRate) },
	})
}

// modules decodes the modules section: the list of disabled modules, and
// the section of each module, kept undecoded for the module.
func (d *decoder) modules(at, n *yaml.Node, key string, m *Modules) {
	d.mappingOr(at, n, key, map[string]field{
		"disabled": func(at, v *yaml.Node, k string) { d.stringList(at, v, k, &m.Disabled) },
	}, func(at, v *yaml.Node, k string) {
		m.Sections = append(m.Sections, Section{file: d.file, name: at.Value, key: k, at: at, val: v})
	})
}

// log decodes the log section.
func (d *decoder) log(at, n *yaml.Node, key string, l *Log) {
	d.mapping(at, n, key, map[string]field{
		"level": func(at, v *yaml.Node, k string) {
			var s string
			if !d.str(at, v, k, &s) {
				return
			}
			lvl, err := parseLogLevel(s)
			if err != nil {
				d.fail(at, k, "%v", err)
				return
			}
			l.Level = lvl
		},
		"format": func(at, v *yaml.Node, k string) {
			var s string
			if d.str(at, v, k, &s) {
				l.Format = LogFormat(s)
			}
		},
	})
}
