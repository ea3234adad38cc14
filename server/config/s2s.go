package config

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"
)

// S2S configures federation with other XMPP servers (server-to-server,
// RFC 6120 §10.4). Incoming streams need a listener of type s2s or
// s2s_tls; outgoing ones are made on demand.
type S2S struct {
	// Enabled turns federation on. Off, stanzas to other domains bounce
	// with <remote-server-not-found/> and no s2s listener may be
	// configured. Key "enabled".
	Enabled bool
	// Dialback allows Server Dialback (XEP-0220) where a peer's
	// certificate does not verify, both ways. Key "dialback".
	Dialback bool
	// RequireVerified refuses peers whose certificate does not verify for
	// their domain, dialback or not. Key "require_verified".
	RequireVerified bool
	// Allow, when not empty, lists the only domains this server
	// federates with. Key "allow".
	Allow []string
	// Deny lists domains this server never federates with. Key "deny".
	Deny []string
	// Routes maps a remote domain to the host:port of its server, used
	// instead of DNS (private networks, tests). Key "routes".
	Routes map[string]string
	// CAFile is a PEM file of certificate authorities trusted for peers'
	// certificates, besides the system's. Key "ca_file".
	CAFile string
	// Domains overrides Dialback and RequireVerified for single remote
	// domains. Key "domains".
	Domains map[string]S2SDomain
	// QueueBytes bounds what one outgoing link holds while it connects
	// (size). Key "queue_bytes".
	QueueBytes int
	// MaxLinks bounds the outgoing links at once. Key "max_links".
	MaxLinks int
	// MaxIncoming bounds the incoming streams at once. Key
	// "max_incoming".
	MaxIncoming int
	// ConnectTimeout bounds finding, connecting to and authenticating
	// with a remote server. Key "connect_timeout".
	ConnectTimeout time.Duration
	// IdleTimeout closes an outgoing link that carried nothing for this
	// long. Key "idle_timeout".
	IdleTimeout time.Duration
}

// S2SDomain is the policy for one remote domain; nil fields keep the
// section's values.
type S2SDomain struct {
	// Dialback overrides S2S.Dialback. Key "dialback".
	Dialback *bool
	// RequireVerified overrides S2S.RequireVerified. Key
	// "require_verified".
	RequireVerified *bool
}

// S2SPolicy is what the configuration says of one remote domain.
type S2SPolicy struct {
	// Deny: no federation with the domain (off, denied, or outside an
	// allow list).
	Deny bool
	// Dialback is allowed with the domain.
	Dialback bool
	// RequireVerified: the domain's certificate must verify.
	RequireVerified bool
}

// Policy returns the policy for the remote domain d.
func (s S2S) Policy(d string) S2SPolicy {
	p := S2SPolicy{Dialback: s.Dialback, RequireVerified: s.RequireVerified}
	if o, ok := s.Domains[d]; ok {
		if o.Dialback != nil {
			p.Dialback = *o.Dialback
		}
		if o.RequireVerified != nil {
			p.RequireVerified = *o.RequireVerified
		}
	}
	p.Deny = !s.Enabled || slices.Contains(s.Deny, d) || (len(s.Allow) > 0 && !slices.Contains(s.Allow, d))
	return p
}

// defaultS2S is federation on, with dialback, as Prosody and ejabberd.
func defaultS2S() S2S {
	return S2S{
		Enabled:        true,
		Dialback:       true,
		QueueBytes:     1 << 20,
		MaxLinks:       10000,
		MaxIncoming:    10000,
		ConnectTimeout: 30 * time.Second,
		IdleTimeout:    5 * time.Minute,
	}
}

// s2s decodes the s2s section.
func (d *decoder) s2s(at, n *yaml.Node, key string, s *S2S) {
	d.mapping(at, n, key, map[string]field{
		"enabled":          func(at, v *yaml.Node, k string) { d.boolean(at, v, k, &s.Enabled) },
		"dialback":         func(at, v *yaml.Node, k string) { d.boolean(at, v, k, &s.Dialback) },
		"require_verified": func(at, v *yaml.Node, k string) { d.boolean(at, v, k, &s.RequireVerified) },
		"allow":            func(at, v *yaml.Node, k string) { d.domainList(at, v, k, &s.Allow) },
		"ca_file":          func(at, v *yaml.Node, k string) { d.str(at, v, k, &s.CAFile) },
		"deny":             func(at, v *yaml.Node, k string) { d.domainList(at, v, k, &s.Deny) },
		"routes": func(at, v *yaml.Node, k string) {
			routes := map[string]string{}
			d.mappingOr(at, v, k, nil, func(kn, vn *yaml.Node, rk string) {
				dom, ok := d.domainKey(kn, rk)
				var addr string
				if !d.str(kn, vn, rk, &addr) || !ok {
					return
				}
				if err := checkRoute(addr); err != nil {
					d.fail(kn, rk, "%v", err)
					return
				}
				routes[dom] = addr
			})
			s.Routes = routes
		},
		"domains": func(at, v *yaml.Node, k string) {
			domains := map[string]S2SDomain{}
			d.mappingOr(at, v, k, nil, func(kn, vn *yaml.Node, dk string) {
				dom, ok := d.domainKey(kn, dk)
				var o S2SDomain
				d.mapping(kn, vn, dk, map[string]field{
					"dialback": func(at, v *yaml.Node, k string) {
						var b bool
						d.boolean(at, v, k, &b)
						o.Dialback = &b
					},
					"require_verified": func(at, v *yaml.Node, k string) {
						var b bool
						d.boolean(at, v, k, &b)
						o.RequireVerified = &b
					},
				})
				if ok {
					domains[dom] = o
				}
			})
			s.Domains = domains
		},
		"queue_bytes":     func(at, v *yaml.Node, k string) { d.size(at, v, k, &s.QueueBytes) },
		"max_links":       func(at, v *yaml.Node, k string) { d.integer(at, v, k, &s.MaxLinks) },
		"max_incoming":    func(at, v *yaml.Node, k string) { d.integer(at, v, k, &s.MaxIncoming) },
		"connect_timeout": func(at, v *yaml.Node, k string) { d.duration(at, v, k, &s.ConnectTimeout) },
		"idle_timeout":    func(at, v *yaml.Node, k string) { d.duration(at, v, k, &s.IdleTimeout) },
	})
}

// domainList decodes a list of domains, normalised.
func (d *decoder) domainList(at, n *yaml.Node, key string, out *[]string) {
	list, before := []string{}, len(d.errs)
	ok := d.sequence(at, n, key, func(_ int, it *yaml.Node, ik string) {
		var s string
		if !d.str(it, it, ik, &s) {
			return
		}
		dom, err := NormalizeDomain(s)
		if err != nil {
			d.fail(it, ik, "%v", err)
			return
		}
		list = append(list, dom)
	})
	if ok && len(d.errs) == before {
		*out = list
	}
}

// domainKey normalises a mapping key that names a domain.
func (d *decoder) domainKey(k *yaml.Node, key string) (string, bool) {
	dom, err := NormalizeDomain(k.Value)
	if err != nil {
		d.fail(k, key, "%v", err)
		return "", false
	}
	return dom, true
}

// checkRoute checks a static route's host:port.
func checkRoute(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 || host == "" {
		return fmt.Errorf("%q is not host:port", addr)
	}
	return nil
}

// s2sProblems validates the s2s section against the rest.
func (c *Config) s2sProblems(add func(key, format string, args ...any)) {
	s := c.S2S
	for d := range s.Routes {
		if slices.Contains(c.Domains, d) {
			add("s2s.routes."+d, "is a domain this server serves")
		}
	}
	for _, f := range []struct {
		key string
		v   int
	}{{"queue_bytes", s.QueueBytes}, {"max_links", s.MaxLinks}, {"max_incoming", s.MaxIncoming}} {
		if f.v < 1 {
			add("s2s."+f.key, "must be at least 1")
		}
	}
	if s.ConnectTimeout <= 0 {
		add("s2s.connect_timeout", "must be positive")
	}
	if s.IdleTimeout <= 0 {
		add("s2s.idle_timeout", "must be positive")
	}
	if !s.Enabled {
		for i, l := range c.Listeners {
			if l.Type == ListenerS2S || l.Type == ListenerS2STLS {
				add("listeners["+strconv.Itoa(i)+"].type", "%s needs s2s.enabled", l.Type)
			}
		}
	}
}
