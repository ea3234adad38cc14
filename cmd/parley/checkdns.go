package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/parley-xmpp/parley/server/config"
)

// srvService is one of the SRV records a domain publishes for XMPP
// (RFC 6120 §3.2.1, XEP-0368).
type srvService struct {
	service  string              // e.g. "xmpp-client"
	listener config.ListenerType // the listeners it advertises
	who      string              // who looks it up: "clients", "servers"
	fallback bool                // without it, peers try the domain on the default port
	port     int                 // that default port
}

var srvServices = []srvService{
	{"xmpp-client", config.ListenerC2S, "clients", true, 5222},
	{"xmpps-client", config.ListenerC2STLS, "clients", false, 5223},
	{"xmpp-server", config.ListenerS2S, "servers", true, 5269},
	{"xmpps-server", config.ListenerS2STLS, "servers", false, 5270},
}

// resolverAt returns a resolver that asks the DNS server at addr
// (host:port) only.
func resolverAt(addr string) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
}

// interfaceAddrs returns the addresses of this machine's interfaces.
func interfaceAddrs() ([]netip.Addr, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("listing this machine's addresses: %w", err)
	}
	var out []netip.Addr
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, p.Addr().Unmap())
		}
	}
	return out, nil
}

// listenerPorts returns the ports of the configured listeners of type t.
func listenerPorts(cfg *config.Config, t config.ListenerType) []int {
	var ports []int
	for _, l := range cfg.Listeners {
		if l.Type != t {
			continue
		}
		if _, p, err := net.SplitHostPort(l.Address); err == nil {
			if n, err := strconv.Atoi(p); err == nil {
				ports = append(ports, n)
			}
		}
	}
	return ports
}

// localName reports whether a domain is one that only this machine
// resolves, so that DNS is no concern.
func localName(d string) bool {
	return d == "localhost" || strings.HasSuffix(d, ".localhost") || !strings.Contains(d, ".")
}

// checkDNS reports on the DNS records of each served domain: the SRV
// records of the configured listeners and the addresses they (or the
// domain itself) lead to, which should be this machine's; and, with
// federation, that the service domains can be found by other servers.
func (c *checker) checkDNS(ctx context.Context) {
	c.out.section("dns")
	local, err := c.localAddrs()
	if err != nil {
		c.out.warn("%s: cannot tell whether records point here", oneLine(err.Error()))
	}
	for _, d := range c.cfg.Domains {
		if localName(d) {
			c.out.note("%s: a local name, no DNS records needed", d)
			continue
		}
		c.checkDomainDNS(ctx, d, local)
	}
	if len(listenerPorts(c.cfg, config.ListenerS2S))+len(listenerPorts(c.cfg, config.ListenerS2STLS)) == 0 {
		return
	}
	for _, s := range c.serviceDomains(ctx) {
		if localName(s) {
			continue
		}
		srvs, srvErr := c.lookupSRV(ctx, "xmpp-server", s)
		addrs, ipErr := c.lookupIP(ctx, s)
		switch {
		case srvErr != nil || ipErr != nil:
			c.out.fail("%s: DNS query failed: %s", s, oneLine(errors.Join(srvErr, ipErr).Error()))
		case len(srvs) == 0 && len(addrs) == 0:
			c.out.warn("%s: no _xmpp-server._tcp SRV record and no address: users of other servers cannot reach it", s)
			c.out.advise("add %s", srvAdvice("xmpp-server", s, c.port(config.ListenerS2S, 5269), parentOf(s, c.cfg.Domains)))
		default:
			c.out.ok("%s: found by other servers (%s)", s, describe(srvs, addrs))
		}
	}
}

// port returns the first configured port of listener type t, or def.
func (c *checker) port(t config.ListenerType, def int) int {
	if ps := listenerPorts(c.cfg, t); len(ps) > 0 {
		return ps[0]
	}
	return def
}

// parentOf returns the served domain that s is a subdomain of, or s.
func parentOf(s string, domains []string) string {
	for _, d := range domains {
		if strings.HasSuffix(s, "."+d) {
			return d
		}
	}
	return s
}

func srvAdvice(service, domain string, port int, target string) string {
	return fmt.Sprintf("_%s._tcp.%s. 3600 IN SRV 0 5 %d %s.", service, domain, port, target)
}

func describe(srvs []*net.SRV, addrs []netip.Addr) string {
	var parts []string
	for _, s := range srvs {
		parts = append(parts, fmt.Sprintf("SRV %s:%d", strings.TrimSuffix(s.Target, "."), s.Port))
	}
	for _, a := range addrs {
		parts = append(parts, a.String())
	}
	return strings.Join(parts, ", ")
}

// checkDomainDNS checks one served domain.
func (c *checker) checkDomainDNS(ctx context.Context, d string, local []netip.Addr) {
	addrs, err := c.lookupIP(ctx, d)
	if err != nil {
		c.out.fail("%s: DNS query failed: %s", d, oneLine(err.Error()))
		return
	}
	here := func(as []netip.Addr) bool {
		return slices.ContainsFunc(as, func(a netip.Addr) bool { return slices.Contains(local, a) })
	}
	switch {
	case len(addrs) == 0:
		c.out.note("%s: no A/AAAA record (fine when SRV records lead elsewhere)", d)
	case here(addrs):
		c.out.ok("%s: A/AAAA %s, this machine", d, describe(nil, addrs))
	default:
		c.out.warn("%s: A/AAAA %s, none of them this machine's", d, describe(nil, addrs))
		c.out.advise("point the A/AAAA records at this machine's public addresses, unless a NAT or proxy forwards them here")
	}
	reachable := false
	for _, svc := range srvServices {
		ports := listenerPorts(c.cfg, svc.listener)
		srvs, err := c.lookupSRV(ctx, svc.service, d)
		name := "_" + svc.service + "._tcp." + d
		if err != nil {
			c.out.fail("%s: DNS query failed: %s", name, oneLine(err.Error()))
			continue
		}
		if len(srvs) == 1 && srvs[0].Target == "." {
			if len(ports) > 0 {
				c.out.warn("%s says the service is not offered, but a %s listener is configured", name, svc.listener)
				c.out.advise("replace it with %s", srvAdvice(svc.service, d, ports[0], d))
			}
			continue
		}
		if len(srvs) == 0 {
			switch {
			case len(ports) == 0:
				// Nothing to advertise.
			case svc.fallback && slices.Contains(ports, svc.port) && here(addrs):
				if svc.listener == config.ListenerC2S {
					reachable = true
				}
				c.out.note("%s: no SRV record; %s fall back to %s port %d, which works", name, svc.who, d, svc.port)
				c.out.advise("add %s", srvAdvice(svc.service, d, svc.port, d))
			default:
				c.out.warn("%s: no SRV record, so %s do not find the %s listener on port %d", name, svc.who, svc.listener, ports[0])
				c.out.advise("add %s", srvAdvice(svc.service, d, ports[0], d))
			}
			continue
		}
		for _, s := range srvs {
			target := strings.TrimSuffix(s.Target, ".")
			taddrs, err := c.lookupIP(ctx, target)
			switch {
			case err != nil:
				c.out.fail("%s: target %s: DNS query failed: %s", name, target, oneLine(err.Error()))
			case len(taddrs) == 0:
				c.out.fail("%s: target %s has no A/AAAA record", name, target)
				c.out.advise("add A/AAAA records for %s with this machine's addresses", target)
			case !slices.Contains(ports, int(s.Port)):
				c.out.warn("%s: points at %s port %d, but no %s listener is configured on that port", name, target, s.Port, svc.listener)
				if len(ports) > 0 {
					c.out.advise("change the record to port %d, or add a %s listener on port %d", ports[0], svc.listener, s.Port)
				} else {
					c.out.advise("add a %s listener on port %d, or remove the record", svc.listener, s.Port)
				}
			case !here(taddrs):
				c.out.warn("%s: points at %s port %d (%s), not this machine", name, target, s.Port, describe(nil, taddrs))
				c.out.advise("point %s at this machine's public addresses, unless a NAT or proxy forwards them here", target)
			default:
				if svc.listener == config.ListenerC2S || svc.listener == config.ListenerC2STLS {
					reachable = true
				}
				c.out.ok("%s: %s port %d (%s), this machine", name, target, s.Port, describe(nil, taddrs))
			}
		}
	}
	if !reachable && len(addrs) == 0 {
		c.out.fail("%s: clients cannot find this server: no usable SRV record and no A/AAAA record", d)
		c.out.advise("add A/AAAA records for %s and %s", d, srvAdvice("xmpp-client", d, c.port(config.ListenerC2S, 5222), d))
	}
}

// lookupSRV returns the SRV records of _service._tcp.domain; none is no
// error.
func (c *checker) lookupSRV(ctx context.Context, service, domain string) ([]*net.SRV, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	_, srvs, err := c.resolver.LookupSRV(ctx, service, "tcp", domain+".")
	if isNotFound(err) {
		return nil, nil
	}
	return srvs, err
}

// lookupIP returns the A and AAAA addresses of host; none is no error.
func (c *checker) lookupIP(ctx context.Context, host string) ([]netip.Addr, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	addrs, err := c.resolver.LookupNetIP(ctx, "ip", host+".")
	if isNotFound(err) {
		return nil, nil
	}
	for i, a := range addrs {
		addrs[i] = a.Unmap()
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	return addrs, err
}

func isNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}
