package metrics

import (
	"testing"
	"time"

	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// A nil *Metrics records nothing and does not panic: the packages that
// count run without metrics in tests and administration commands.
func TestNilRecordsNothing(t *testing.T) {
	var m *Metrics
	m.Login("PLAIN")
	m.LoginFailed("PLAIN", "not-authorized")
	m.StanzaIn(stanza.KindMessage)
	m.StanzaOut(stanza.KindIQ)
	m.Routed(stanza.KindPresence, time.Now())
	m.Limited(LimitRate)
	m.Storage(StorageQuery, time.Millisecond)
}

// Label values a client chooses (mechanism names, failure conditions)
// are bounded: unknown ones count as "other", so that clients cannot make
// series; the state gauges read their functions when scraped.
func TestLabelsBounded(t *testing.T) {
	m := New(State{
		Sessions: func(add func(string, string)) {
			add("tcp", "a.example")
			add("tcp", "a.example")
			add("bosh", "b.example")
		},
		Components: func() int { return 3 },
	})
	m.Login("SCRAM-SHA-256")
	for i := range 50 {
		m.Login("X-MADE-UP-" + string(rune('A'+i)))
		m.LoginFailed("X-MADE-UP-"+string(rune('A'+i)), "made-up-"+string(rune('a'+i)))
	}
	m.StanzaIn(stanza.KindOther) // not a stanza: not counted
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]float64{}
	for _, f := range families {
		for _, s := range f.Metric {
			key := ""
			for _, l := range s.Label {
				key += l.GetName() + "=" + l.GetValue() + ","
			}
			if got[f.GetName()] == nil {
				got[f.GetName()] = map[string]float64{}
			}
			switch {
			case s.Counter != nil:
				got[f.GetName()][key] = s.Counter.GetValue()
			case s.Gauge != nil:
				got[f.GetName()][key] = s.Gauge.GetValue()
			}
		}
	}
	checks := []struct {
		family, key string
		want        float64
	}{
		{"parley_logins_total", "mechanism=SCRAM-SHA-256,", 1},
		{"parley_logins_total", "mechanism=other,", 50},
		{"parley_login_failures_total", "mechanism=other,reason=other,", 50},
		{"parley_sessions", "domain=a.example,transport=tcp,", 2},
		{"parley_sessions", "domain=b.example,transport=bosh,", 1},
		{"parley_components_connected", "", 3},
		{"parley_stanzas_in_total", "kind=message,", 0},
	}
	for _, c := range checks {
		if v, ok := got[c.family][c.key]; !ok || v != c.want {
			t.Errorf("%s{%s} = %v (present %v), want %v", c.family, c.key, v, ok, c.want)
		}
	}
	if n := len(got["parley_login_failures_total"]); n != 1 {
		t.Errorf("%d series of parley_login_failures_total, want 1", n)
	}
	if _, ok := got["parley_s2s_links"]; ok {
		t.Error("parley_s2s_links present without a Links function")
	}
	if _, ok := got["go_goroutines"]; !ok {
		t.Error("no Go runtime collector")
	}
}

// BenchmarkStanzaPath is what the metrics add to one stanza a client
// sends and another receives: counted in, routing timed, counted out.
func BenchmarkStanzaPath(b *testing.B) {
	m := New(State{})
	b.ReportAllocs()
	for b.Loop() {
		m.StanzaIn(stanza.KindMessage)
		m.Routed(stanza.KindMessage, time.Now())
		m.StanzaOut(stanza.KindMessage)
	}
}
