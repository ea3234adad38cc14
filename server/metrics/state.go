package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// stateCollector reads the gauges of State when scraped: nothing on the
// server's hot path maintains them.
type stateCollector struct {
	state      State
	sessions   *prometheus.Desc
	queued     *prometheus.Desc
	queueBytes *prometheus.Desc
	links      *prometheus.Desc
	components *prometheus.Desc
}

func newStateCollector(s State) *stateCollector {
	name := func(n string) string { return prometheus.BuildFQName(Namespace, "", n) }
	return &stateCollector{
		state:      s,
		sessions:   prometheus.NewDesc(name("sessions"), "Bound client sessions, by transport and domain.", []string{"transport", "domain"}, nil),
		queued:     prometheus.NewDesc(name("outbound_queue_stanzas"), "Stanzas the client sessions hold for their clients (queued, unacknowledged, held while inactive), all sessions together.", nil, nil),
		queueBytes: prometheus.NewDesc(name("outbound_queue_bytes"), "Estimated bytes of the stanzas the client sessions hold for their clients, all sessions together.", nil, nil),
		links:      prometheus.NewDesc(name("s2s_links"), "Server-to-server links, by direction.", []string{"direction"}, nil),
		components: prometheus.NewDesc(name("components_connected"), "External components (XEP-0114) connected.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.sessions
	ch <- c.queued
	ch <- c.queueBytes
	ch <- c.links
	ch <- c.components
}

// Collect implements prometheus.Collector.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.state
	if s.Sessions != nil {
		type key struct{ transport, domain string }
		counts := map[key]int{}
		s.Sessions(func(transport, domain string) { counts[key{transport, domain}]++ })
		for k, n := range counts {
			ch <- prometheus.MustNewConstMetric(c.sessions, prometheus.GaugeValue, float64(n), k.transport, k.domain)
		}
	}
	if s.Queues != nil {
		n, b := s.Queues()
		ch <- prometheus.MustNewConstMetric(c.queued, prometheus.GaugeValue, float64(n))
		ch <- prometheus.MustNewConstMetric(c.queueBytes, prometheus.GaugeValue, float64(b))
	}
	if s.Links != nil {
		in, out := s.Links()
		ch <- prometheus.MustNewConstMetric(c.links, prometheus.GaugeValue, float64(in), "in")
		ch <- prometheus.MustNewConstMetric(c.links, prometheus.GaugeValue, float64(out), "out")
	}
	if s.Components != nil {
		ch <- prometheus.MustNewConstMetric(c.components, prometheus.GaugeValue, float64(s.Components()))
	}
}
