package config

import (
	"net/netip"
	"path"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// HTTP configures the HTTP side (the http and https listeners).
type HTTP struct {
	// WebSocketOrigins lists the Origin header patterns (path.Match
	// syntax on the origin's host, e.g. "*.example.org") whose pages may
	// open XMPP over WebSocket; empty allows every origin. Key
	// "websocket_origins".
	WebSocketOrigins []string
	// TrustedProxies are the addresses or networks (CIDR) of reverse
	// proxies in front of the HTTP listeners: only from them are
	// X-Forwarded-For (the client's address, which login throttling and
	// limits count) and X-Forwarded-Proto (https: the client's channel
	// is confidential) believed. Key "trusted_proxies".
	TrustedProxies []netip.Prefix
}

// Trusted reports whether a request from addr came through a trusted
// proxy.
func (h HTTP) Trusted(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range h.TrustedProxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// http decodes the http section.
func (d *decoder) http(at, n *yaml.Node, key string, h *HTTP) {
	d.mapping(at, n, key, map[string]field{
		"websocket_origins": func(at, v *yaml.Node, k string) {
			var list []string
			d.stringList(at, v, k, &list)
			for i, p := range list {
				if _, err := path.Match(p, ""); err != nil {
					d.fail(v, k+"["+strconv.Itoa(i)+"]", "%q is not a valid pattern", p)
				}
			}
			h.WebSocketOrigins = list
		},
		"trusted_proxies": func(at, v *yaml.Node, k string) {
			var list []string
			d.stringList(at, v, k, &list)
			var out []netip.Prefix
			for i, s := range list {
				p, err := netip.ParsePrefix(s)
				if err != nil {
					a, aerr := netip.ParseAddr(s)
					if aerr != nil {
						d.fail(v, k+"["+strconv.Itoa(i)+"]", "%q is neither an address nor a network (CIDR)", s)
						continue
					}
					p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
				}
				out = append(out, p.Masked())
			}
			h.TrustedProxies = out
		},
	})
}
