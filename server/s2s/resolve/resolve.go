// Package resolve finds where to connect for a server-to-server stream to
// a domain (RFC 6120 §3.2, XEP-0368) and connects there.
//
// The order: a static route from the configuration, when the domain has
// one; else the SRV records of "_xmpps-server._tcp.<domain>" (direct TLS)
// and "_xmpp-server._tcp.<domain>" (STARTTLS), mixed into one list by
// priority and weight as RFC 2782 orders them; else, when the domain
// publishes neither, the domain itself on port 5269. A lone SRV record
// whose target is "." says the service is not offered: for direct TLS
// only the STARTTLS records remain, and when both say so, or only the
// STARTTLS one does, there is no fallback to the domain's addresses.
package resolve

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
)

// DefaultPort is the port of the fallback when a domain publishes no SRV
// records (RFC 6120 §3.2.1).
const DefaultPort = 5269

// maxTargets bounds the targets taken from DNS for one domain.
const maxTargets = 16

// ErrNotOffered means the domain's SRV records say it offers no
// server-to-server service (a target of ".").
var ErrNotOffered = errors.New("the domain offers no server-to-server service")

// Target is one place to connect to.
type Target struct {
	// Host is a host name or an IP address.
	Host string
	// Port is the TCP port.
	Port uint16
	// DirectTLS says TLS starts at once (XEP-0368); otherwise the stream
	// starts in the clear and negotiates STARTTLS.
	DirectTLS bool
}

// Address returns host:port.
func (t Target) Address() string { return net.JoinHostPort(t.Host, strconv.Itoa(int(t.Port))) }

// String describes the target for logs.
func (t Target) String() string {
	if t.DirectTLS {
		return t.Address() + " (direct TLS)"
	}
	return t.Address()
}

// Resolver looks up SRV records; *net.Resolver is one.
type Resolver interface {
	LookupSRV(ctx context.Context, service, proto, name string) (string, []*net.SRV, error)
}

// Finder finds the targets of a domain.
type Finder struct {
	// Resolver does the SRV lookups; nil means net.DefaultResolver.
	Resolver Resolver
	// Routes maps a domain to the "host:port" to use instead of DNS,
	// for private networks and tests; a route's port is reached with
	// STARTTLS.
	Routes map[string]string
	// Shuffle, when not nil, replaces the random choice among records
	// of equal priority: it returns an integer in [0, n). Tests set it.
	Shuffle func(n int) int
}

// Targets returns where to connect for domain, in the order to try.
func (f *Finder) Targets(ctx context.Context, domain string) ([]Target, error) {
	if route, ok := f.Routes[domain]; ok {
		host, port, err := splitHostPort(route)
		if err != nil {
			return nil, fmt.Errorf("resolve: route of %s: %w", domain, err)
		}
		return []Target{{Host: host, Port: port}}, nil
	}
	r := f.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	direct, directErr := lookup(ctx, r, "xmpps-server", domain)
	plain, plainErr := lookup(ctx, r, "xmpp-server", domain)
	if directErr != nil && plainErr != nil && !isNotFound(directErr) && !isNotFound(plainErr) {
		// Neither lookup got an answer (RFC 6120 §3.2.1 falls back to
		// the domain's addresses then too), but say why in the log.
		return []Target{{Host: domain, Port: DefaultPort}}, fmt.Errorf("resolve: SRV of %s: %w", domain, plainErr)
	}
	directOff, plainOff := notOffered(direct), notOffered(plain)
	switch {
	case plainOff && (directOff || len(direct) == 0):
		return nil, fmt.Errorf("resolve: %s: %w", domain, ErrNotOffered)
	case len(direct) == 0 && len(plain) == 0:
		return []Target{{Host: domain, Port: DefaultPort}}, nil
	}
	var records []record
	if !directOff {
		for _, s := range direct {
			records = append(records, record{SRV: *s, directTLS: true})
		}
	}
	if !plainOff {
		for _, s := range plain {
			records = append(records, record{SRV: *s})
		}
	}
	if len(records) == 0 { // "." for direct TLS, and no STARTTLS records
		return nil, fmt.Errorf("resolve: %s: %w", domain, ErrNotOffered)
	}
	records = order(records, f.shuffle())
	if len(records) > maxTargets {
		records = records[:maxTargets]
	}
	out := make([]Target, 0, len(records))
	for _, rec := range records {
		out = append(out, Target{Host: strings.TrimSuffix(rec.Target, "."), Port: rec.Port, DirectTLS: rec.directTLS})
	}
	return out, nil
}

func (f *Finder) shuffle() func(int) int {
	if f.Shuffle != nil {
		return f.Shuffle
	}
	return rand.IntN
}

// lookup returns the SRV records of _service._tcp.domain.
func lookup(ctx context.Context, r Resolver, service, domain string) ([]*net.SRV, error) {
	_, srvs, err := r.LookupSRV(ctx, service, "tcp", domain)
	if err != nil {
		return nil, err
	}
	return srvs, nil
}

// isNotFound reports whether err says the name has no records, an answer
// rather than a failure to get one.
func isNotFound(err error) bool {
	var dnsErr *net.DNSError
	return errors.As(err, &dnsErr) && dnsErr.IsNotFound
}

// notOffered reports whether the records are the lone "." of RFC 2782.
func notOffered(srvs []*net.SRV) bool {
	return len(srvs) == 1 && (srvs[0].Target == "." || srvs[0].Target == "")
}

// record is an SRV record and the service it came from.
type record struct {
	net.SRV
	directTLS bool
}

// order sorts records by priority and, within one priority, by RFC
// 2782's weighted random selection: each record is picked next with a
// chance proportional to its weight, records of weight 0 rarely first.
func order(records []record, intn func(int) int) []record {
	slices.SortStableFunc(records, func(a, b record) int { return int(a.Priority) - int(b.Priority) })
	out := make([]record, 0, len(records))
	for i := 0; i < len(records); {
		j := i
		for j < len(records) && records[j].Priority == records[i].Priority {
			j++
		}
		group := records[i:j]
		// RFC 2782: weight-0 records first among equals, then pick by
		// running sums of weight + 1 so that weight 0 keeps a chance.
		slices.SortStableFunc(group, func(a, b record) int { return int(a.Weight) - int(b.Weight) })
		for len(group) > 0 {
			total := 0
			for _, r := range group {
				total += int(r.Weight) + 1
			}
			pick, sum := intn(total), 0
			k := 0
			for ; k < len(group); k++ {
				sum += int(group[k].Weight) + 1
				if pick < sum {
					break
				}
			}
			out = append(out, group[k])
			group = slices.Delete(group, k, k+1)
		}
		i = j
	}
	return out
}

// splitHostPort parses "host:port".
func splitHostPort(s string) (string, uint16, error) {
	host, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.ParseUint(p, 10, 16)
	if err != nil || port == 0 || host == "" {
		return "", 0, fmt.Errorf("%q is not host:port", s)
	}
	return host, uint16(port), nil
}

// Dialer connects to the first target that answers.
type Dialer struct {
	// Dialer makes the TCP connections; its Resolver resolves host names,
	// and it tries a name's IPv6 and IPv4 addresses in parallel after
	// FallbackDelay (RFC 8305, "happy eyeballs"). Nil means a net.Dialer
	// with its defaults.
	Dialer *net.Dialer
}

// Dial connects to targets in order and returns the first connection
// made and its target. It returns an error joining every attempt's when
// none answers, or when ctx ends.
func (d *Dialer) Dial(ctx context.Context, targets []Target) (net.Conn, Target, error) {
	nd := d.Dialer
	if nd == nil {
		nd = &net.Dialer{}
	}
	var errs []error
	for _, t := range targets {
		c, err := nd.DialContext(ctx, "tcp", t.Address())
		if err == nil {
			return c, t, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", t, err))
		if ctx.Err() != nil {
			break
		}
	}
	if len(errs) == 0 {
		return nil, Target{}, errors.New("resolve: no target to connect to")
	}
	return nil, Target{}, fmt.Errorf("resolve: %w", errors.Join(errs...))
}
