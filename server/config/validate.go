package config

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"
)

// problem is an invalid value found by validation, before it is located
// in a file.
type problem struct {
	key, reason string
}

// Validate checks every value of c and returns nil, an [*Error] or
// [Errors]. The errors carry no file position; use it after changing a
// loaded configuration, for example after applying a --data flag.
func (c *Config) Validate() error {
	var es []*Error
	for _, p := range c.problems() {
		es = append(es, &Error{Key: p.key, Reason: p.reason})
	}
	return asError(es)
}

// problems returns every invalid value of c, in key order.
func (c *Config) problems() []problem {
	var ps []problem
	add := func(key, format string, args ...any) {
		ps = append(ps, problem{key, fmt.Sprintf(format, args...)})
	}
	atLeast := func(key string, v, min int) {
		if v < min {
			add(key, "must be at least %d", min)
		}
	}
	positive := func(key string, d time.Duration) {
		if d <= 0 {
			add(key, "must be a positive duration")
		}
	}

	if len(c.Domains) == 0 {
		add("domains", "at least one domain is required")
	}
	seen := map[string]bool{}
	for i, d := range c.Domains {
		key := fmt.Sprintf("domains[%d]", i)
		n, err := NormalizeDomain(d)
		switch {
		case err != nil:
			add(key, "%v", err)
		case n != d:
			add(key, "%q must be written in normalised form %q", d, n)
		case seen[n]:
			add(key, "%q is listed twice", n)
		}
		seen[n] = true
	}

	if c.DataDir == "" {
		add("data_dir", "must not be empty")
	}

	if len(c.Listeners) == 0 {
		add("listeners", "at least one listener is required")
	}
	addrs := map[string]bool{}
	for i, l := range c.Listeners {
		key := fmt.Sprintf("listeners[%d]", i)
		switch l.Type {
		case ListenerC2S, ListenerC2STLS, ListenerS2S, ListenerS2STLS, ListenerHTTP, ListenerHTTPS, ListenerComponent, ListenerProxy65, ListenerTURN, ListenerTURNS, ListenerACMEHTTP, ListenerAdmin:
		default:
			add(key+".type", "must be c2s, c2s_tls, s2s, s2s_tls, http, https, component, proxy65, turn, turns, acme_http or admin, not %q", l.Type)
		}
		if err := checkAddress(l.Address); err != nil {
			add(key+".address", "%v", err)
		} else if addrs[l.Address] && !strings.HasSuffix(l.Address, ":0") {
			add(key+".address", "%q is used by another listener", l.Address)
		}
		addrs[l.Address] = true
	}

	for i, cert := range c.TLS.Certificates {
		key := fmt.Sprintf("tls.certificates[%d]", i)
		if cert.Cert == "" {
			add(key+".cert", "a certificate file is required")
		}
		if cert.Key == "" {
			add(key+".key", "a key file is required")
		}
	}
	if v := c.TLS.MinVersion; v != tls.VersionTLS12 && v != tls.VersionTLS13 {
		add("tls.min_version", "must be \"1.2\" or \"1.3\", not %s", tlsVersionName(v))
	}
	c.validateACME(add)
	if st := c.TLS.SessionTickets; st.Enabled {
		if st.RotateEvery <= 0 {
			add("tls.session_tickets.rotate_every", "must be positive")
		}
		if st.Lifetime <= 0 || st.Lifetime > 7*24*time.Hour {
			add("tls.session_tickets.lifetime", "must be positive and at most 168h (RFC 8446 §4.6.1), not %s", st.Lifetime)
		}
	}
	switch c.TLS.RecordLayer {
	case "", RecordLayerParley, RecordLayerGo: // "" (a Config built in code) is the default
	default:
		add("tls.record_layer", "must be \"parley\" or \"go\", not %q", string(c.TLS.RecordLayer))
	}

	switch c.Storage.Kind {
	case StorageSQLite:
	case StoragePostgres:
		if _, err := parseStorage(c.Storage.URL); err != nil {
			add("storage", "%v", err)
		}
	default:
		add("storage", "unknown storage kind %q", c.Storage.Kind)
	}

	a := c.Auth
	atLeast("auth.scram_iterations", a.ScramIterations, 4096)
	atLeast("auth.free_failures_per_account", a.FreeFailuresPerAccount, 1)
	atLeast("auth.free_failures_per_address", a.FreeFailuresPerAddress, 1)
	positive("auth.failure_delay", a.FailureDelay)
	positive("auth.failure_window", a.FailureWindow)
	switch {
	case a.MaxFailureDelay < 0:
		add("auth.max_failure_delay", "must not be negative (0 disables login throttling)")
	case a.MaxFailureDelay > 0 && a.MaxFailureDelay < a.FailureDelay:
		add("auth.max_failure_delay", "must be at least auth.failure_delay (%s)", a.FailureDelay)
	}
	if a.FastTokenLifetime < 0 {
		add("auth.fast_token_lifetime", "must not be negative")
	}

	l := c.Limits
	atLeast("limits.max_stanza_bytes", l.MaxStanzaBytes, 1024)
	atLeast("limits.max_depth", l.MaxDepth, 4)
	atLeast("limits.preauth_stanza_bytes", l.PreauthStanzaBytes, 512)
	if l.PreauthStanzaBytes > l.MaxStanzaBytes && l.MaxStanzaBytes >= 1024 {
		add("limits.preauth_stanza_bytes", "must not exceed limits.max_stanza_bytes (%d)", l.MaxStanzaBytes)
	}
	atLeast("limits.preauth_elements", l.PreauthElements, 1)
	positive("limits.preauth_timeout", l.PreauthTimeout)
	atLeast("limits.sessions_per_account", l.SessionsPerAccount, 1)
	atLeast("limits.outbound_queue", l.OutboundQueue, 1)
	atLeast("limits.offline_messages", l.OfflineMessages, 0)
	if l.IdlePing < 0 {
		add("limits.idle_ping", "must not be negative")
	}
	positive("limits.ping_timeout", l.PingTimeout)
	if c.Runtime.GCMinHeap < 0 {
		add("runtime.gc_min_heap", "must not be negative")
	}
	if l.BOSHInactivity < 0 {
		add("limits.bosh_inactivity", "must not be negative")
	}
	if l.BOSHPolling < 0 {
		add("limits.bosh_polling", "must not be negative")
	}
	if l.ComponentGrace < 0 {
		add("limits.component_grace", "must not be negative")
	}
	if l.ParkAfter < 0 {
		add("limits.park_after", "must not be negative")
	}
	c.smProblems(add)
	c.quotaProblems(add)
	c.s2sProblems(add)
	c.clusterProblems(add)
	c.componentProblems(add)
	c.boundsProblems(add)

	mods := map[string]bool{}
	for i, m := range c.Modules.Disabled {
		key := fmt.Sprintf("modules.disabled[%d]", i)
		switch {
		case m == "":
			add(key, "module name must not be empty")
		case mods[m]:
			add(key, "%q is listed twice", m)
		}
		mods[m] = true
	}

	switch c.Log.Level {
	case slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError:
	default:
		add("log.level", "must be debug, info, warn or error, not %v", c.Log.Level)
	}
	if c.Log.Format != LogText && c.Log.Format != LogJSON {
		add("log.format", "must be text or json, not %q", c.Log.Format)
	}
	c.accountProblems(add)
	return ps
}

// validateACME checks tls.acme when it is enabled.
func (c *Config) validateACME(add func(key, format string, args ...any)) {
	a := c.TLS.ACME
	if !a.Enabled {
		return
	}
	if u, err := url.Parse(a.Directory); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		add("tls.acme.directory", "must be an http or https URL, not %q", a.Directory)
	}
	if a.RetryAfter <= 0 {
		add("tls.acme.retry_after", "must be a positive duration")
	}
	hasHTTP := slices.ContainsFunc(c.Listeners, func(l Listener) bool { return l.Type == ListenerACMEHTTP })
	hasTLS := false
	for _, l := range c.Listeners {
		hasTLS = hasTLS || (l.DirectTLS() && !l.Server())
	}
	for i, ch := range c.TLS.ACME.Challenges {
		key := fmt.Sprintf("tls.acme.challenges[%d]", i)
		switch ch {
		case ChallengeHTTP01:
			if !hasHTTP {
				add(key, "http-01 needs a listener of type acme_http (port 80)")
			}
		case ChallengeTLSALPN01:
			if !hasTLS {
				add(key, "tls-alpn-01 needs a direct-TLS listener (c2s_tls or https) reachable on port 443")
			}
		default:
			add(key, "must be %q or %q, not %q", ChallengeTLSALPN01, ChallengeHTTP01, ch)
		}
	}
	if strings.Contains(a.Email, " ") || (a.Email != "" && !strings.Contains(a.Email, "@")) {
		add("tls.acme.email", "must be an e-mail address, not %q", a.Email)
	}
}
