// Package metrics holds the server's Prometheus metrics: a registry of
// its own (never the process-wide default one), the counters and
// histograms the stream engine, the router and storage update as they
// work, and the gauges read from the server's state when scraped.
//
// Every method is safe on a nil *Metrics, which records nothing: the
// packages that count need no metrics to run (tests, the administration
// commands). On the hot path (stanzas, routing) a method indexes
// pre-resolved series and does no label lookup.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// Namespace prefixes every series of the server.
const Namespace = "parley"

// Limit names an event where a limit or a policy refused or slowed
// something down; it is the "limit" label of parley_limited_total.
type Limit uint8

// The limits counted.
const (
	// LimitSlowConsumer: a session's outbound queue overflowed and the
	// session was closed (limits.outbound_queue, outbound_queue_bytes).
	LimitSlowConsumer Limit = iota
	// LimitLoginThrottled: a password login was slowed down after
	// failures (auth.free_failures_*).
	LimitLoginThrottled
	// LimitAuthAttempts: a connection made too many failed SASL
	// exchanges and was closed.
	LimitAuthAttempts
	// LimitSessions: a bind was refused, the account has
	// limits.sessions_per_account sessions.
	LimitSessions
	// LimitRate: a client's reading was slowed down by limits.rate or
	// limits.preauth_rate.
	LimitRate
	// LimitPolicy: the router bounced a stanza with <policy-violation/>
	// or <resource-constraint/>: a quota, limits.directed_presences or
	// another module's limit.
	LimitPolicy
	numLimits
)

var limitNames = [numLimits]string{"slow_consumer", "login_throttled", "auth_attempts", "sessions_per_account", "rate", "policy_violation"}

// String returns the label value of l.
func (l Limit) String() string {
	if l < numLimits {
		return limitNames[l]
	}
	return "unknown"
}

// StorageOp is the kind of storage work timed: the "op" label of
// parley_storage_operation_duration_seconds.
type StorageOp uint8

// The storage operations timed.
const (
	// StorageQuery is a read of one statement, until its rows are read.
	StorageQuery StorageOp = iota
	// StorageExec is a write of one statement.
	StorageExec
	// StorageTx is a transaction of several writes, commit included.
	StorageTx
	// StorageSnapshot is a read-only transaction of several reads.
	StorageSnapshot
	numStorageOps
)

var storageOpNames = [numStorageOps]string{"query", "exec", "tx", "snapshot"}

// String returns the label value of op.
func (op StorageOp) String() string {
	if op < numStorageOps {
		return storageOpNames[op]
	}
	return "unknown"
}

// Mechanisms are the SASL mechanism names counted under their own
// label value; any other name a client sends counts as "other", so that
// clients cannot create series.
var mechanisms = []string{
	"PLAIN", "EXTERNAL", "ANONYMOUS",
	"SCRAM-SHA-1", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS", "SCRAM-SHA-512", "SCRAM-SHA-512-PLUS",
	"HT-SHA-256-NONE", "HT-SHA-256-UNIQ", "HT-SHA-256-EXPR", "HT-SHA-256-ENDP",
}

// reasons are the SASL failure conditions (RFC 6120 §6.5, XEP-0388)
// counted under their own label value; anything else is "other".
var reasons = []string{
	"aborted", "account-disabled", "credentials-expired", "encryption-required", "incorrect-encoding",
	"invalid-authzid", "invalid-mechanism", "malformed-request", "mechanism-too-weak", "not-authorized",
	"temporary-auth-failure",
}

// State is what the server reports when scraped. Each function may be
// nil (the series is then absent) and must be safe to call from the
// scraping goroutine at any time, also before the server has started.
type State struct {
	// Sessions calls add once for each bound client session.
	Sessions func(add func(transport, domain string))
	// Queues returns how many stanzas and bytes the sessions hold for
	// their clients, all sessions together.
	Queues func() (stanzas, bytes int)
	// Links returns the server-to-server links: incoming and outgoing.
	Links func() (incoming, outgoing int)
	// Components returns how many external components are connected.
	Components func() int
}

// Metrics is the server's metrics and their registry.
type Metrics struct {
	reg *prometheus.Registry

	logins   map[string]prometheus.Counter
	failures *prometheus.CounterVec
	in, out  [stanza.KindIQ + 1]prometheus.Counter
	route    [stanza.KindIQ + 1]prometheus.Observer
	limited  [numLimits]prometheus.Counter
	storage  [numStorageOps]prometheus.Observer
}

// New returns the metrics, registered with a registry of their own
// together with the Go runtime's and the process's collectors; state
// supplies the gauges read when scraped.
func New(state State) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), logins: make(map[string]prometheus.Counter, len(mechanisms)+1)}
	logins := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "logins_total",
		Help: "Successful client logins (SASL), by mechanism.",
	}, []string{"mechanism"})
	for _, name := range append(mechanisms, "other") {
		m.logins[name] = logins.WithLabelValues(name)
	}
	m.failures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "login_failures_total",
		Help: "Failed client login attempts (SASL), by mechanism and failure condition.",
	}, []string{"mechanism", "reason"})
	in := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "stanzas_in_total",
		Help: "Stanzas received from client sessions, by kind.",
	}, []string{"kind"})
	out := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "stanzas_out_total",
		Help: "Stanzas queued for client sessions, by kind.",
	}, []string{"kind"})
	route := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "route_duration_seconds",
		Help:    "Time the router takes to route one stanza (hooks, delivery to queues, storage it needs), by kind.",
		Buckets: []float64{5e-6, 10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 100e-3, 1},
	}, []string{"kind"})
	for k := stanza.KindMessage; k <= stanza.KindIQ; k++ {
		m.in[k] = in.WithLabelValues(k.String())
		m.out[k] = out.WithLabelValues(k.String())
		m.route[k] = route.WithLabelValues(k.String())
	}
	limited := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "limited_total",
		Help: "Events where a limit or policy refused, slowed down or closed something, by limit.",
	}, []string{"limit"})
	for l := range numLimits {
		m.limited[l] = limited.WithLabelValues(l.String())
	}
	storage := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "storage_operation_duration_seconds",
		Help:    "Time of storage operations (statements and transactions), by kind of operation.",
		Buckets: []float64{50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 1, 5},
	}, []string{"op"})
	for op := range numStorageOps {
		m.storage[op] = storage.WithLabelValues(op.String())
	}
	m.reg.MustRegister(logins, m.failures, in, out, route, limited, storage, newStateCollector(state),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry returns the registry the metrics are registered with, for
// tests and for other parts of the server that add their own.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Login counts a successful login with mechanism mech.
func (m *Metrics) Login(mech string) {
	if m == nil {
		return
	}
	c, ok := m.logins[mech]
	if !ok {
		c = m.logins["other"]
	}
	c.Inc()
}

// LoginFailed counts a failed login attempt with mechanism mech that
// failed with the SASL condition reason.
func (m *Metrics) LoginFailed(mech, reason string) {
	if m == nil {
		return
	}
	m.failures.WithLabelValues(known(mechanisms, mech), known(reasons, reason)).Inc()
}

// known returns v when it is one of names, else "other".
func known(names []string, v string) string {
	for _, n := range names {
		if n == v {
			return v
		}
	}
	return "other"
}

// StanzaIn counts a stanza received from a client session.
func (m *Metrics) StanzaIn(k stanza.Kind) {
	if m == nil || k == stanza.KindOther || k > stanza.KindIQ {
		return
	}
	m.in[k].Inc()
}

// StanzaOut counts a stanza queued for a client session.
func (m *Metrics) StanzaOut(k stanza.Kind) {
	if m == nil || k == stanza.KindOther || k > stanza.KindIQ {
		return
	}
	m.out[k].Inc()
}

// Routed records that routing a stanza of kind k took since start.
func (m *Metrics) Routed(k stanza.Kind, start time.Time) {
	if m == nil || k == stanza.KindOther || k > stanza.KindIQ {
		return
	}
	m.route[k].Observe(time.Since(start).Seconds())
}

// Limited counts an event of limit l.
func (m *Metrics) Limited(l Limit) {
	if m == nil || l >= numLimits {
		return
	}
	m.limited[l].Inc()
}

// Storage records that a storage operation took d.
func (m *Metrics) Storage(op StorageOp, d time.Duration) {
	if m == nil || op >= numStorageOps {
		return
	}
	m.storage[op].Observe(d.Seconds())
}
