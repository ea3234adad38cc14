package load

import (
	"bytes"
	"crypto/tls"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/xmpp/sasl"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := []struct {
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{nil, 50, 0},
		{ms(7), 50, 7 * time.Millisecond},
		{ms(7), 99, 7 * time.Millisecond},
		{ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{ms(1, 2, 3, 4), 99, 4 * time.Millisecond},
		{ms(hundred...), 50, 50 * time.Millisecond},
		{ms(hundred...), 99, 99 * time.Millisecond},
		{ms(hundred...), 100, 100 * time.Millisecond},
	}
	for _, tc := range tests {
		if got := Percentile(tc.in, tc.p); got != tc.want {
			t.Errorf("Percentile(%v, %v) = %v, want %v", tc.in, tc.p, got, tc.want)
		}
	}
}

func TestLatenciesSummary(t *testing.T) {
	var l Latencies
	for _, d := range []time.Duration{5, 1, 3, 2, 4} {
		l.Add(d * time.Millisecond)
	}
	got := l.Summary()
	want := Summary{N: 5, P50: 3 * time.Millisecond, P99: 5 * time.Millisecond, Max: 5 * time.Millisecond}
	if got != want {
		t.Errorf("Summary = %+v, want %+v", got, want)
	}
	if s := (Summary{}).String(); s != "no samples" {
		t.Errorf("empty summary = %q", s)
	}
}

func TestPacerSpacing(t *testing.T) {
	p := NewPacer(100) // 10 ms apart
	now := time.Unix(1000, 0)
	var waits []time.Duration
	for range 4 {
		waits = append(waits, p.Reserve(now))
	}
	want := []time.Duration{0, 10 * time.Millisecond, 20 * time.Millisecond, 30 * time.Millisecond}
	if !slices.Equal(waits, want) {
		t.Errorf("waits = %v, want %v", waits, want)
	}
	// After a pause the pacer catches up by at most maxLag (100 ms,
	// 10 slots plus the current one), then spaces again.
	later := now.Add(time.Second)
	for i := range 11 {
		if w := p.Reserve(later); w != 0 {
			t.Fatalf("catch-up slot %d: wait %v, want 0", i, w)
		}
	}
	if w := p.Reserve(later); w != 10*time.Millisecond {
		t.Errorf("after catching up: wait %v, want 10ms", w)
	}
	if NewPacer(0) != nil || NewPacer(-1).Reserve(now) != 0 {
		t.Error("a rate ≤ 0 must not pace")
	}
}

func TestSources(t *testing.T) {
	s, err := ParseSources(DefaultSources)
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 249 {
		t.Fatalf("Len = %d, want 249", s.Len())
	}
	for i, want := range map[int]string{0: "127.0.0.2:0", 1: "127.0.0.3:0", 248: "127.0.0.250:0", 249: "127.0.0.2:0", 500: "127.0.0.4:0"} {
		if got := s.For(i).String(); got != want {
			t.Errorf("For(%d) = %s, want %s", i, got, want)
		}
	}
	list, err := ParseSources("127.0.0.5, ::1")
	if err != nil || list.Len() != 2 || list.For(1).String() != "[::1]:0" {
		t.Errorf("list: %v %v", list, err)
	}
	none, err := ParseSources("")
	if err != nil || none.For(3) != nil {
		t.Errorf("empty spec: For = %v, err %v", none.For(3), err)
	}
	for _, bad := range []string{"10.0.0.1", "127.0.0.9-127.0.0.2", "127.255.255.254-128.0.0.1", "nope", "::1-::2"} {
		if _, err := ParseSources(bad); err == nil {
			t.Errorf("ParseSources(%q) succeeded", bad)
		}
	}
}

func TestParseSmapsRollup(t *testing.T) {
	in := `55d1c0a3b000-7ffd5e9f4000 ---p 00000000 00:00 0                          [rollup]
Rss:               12345 kB
Pss:                6789 kB
Pss_Anon:           5000 kB
Shared_Clean:        100 kB
`
	m, err := ParseSmapsRollup(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS != 12345*1024 || m.PSS != 6789*1024 {
		t.Errorf("got %+v", m)
	}
	if _, err := ParseSmapsRollup(strings.NewReader("Rss: 1 kB\n")); err == nil {
		t.Error("missing Pss accepted")
	}
	rss, pss := memPerSession(Mem{RSS: 1 << 20, PSS: 1 << 20}, Mem{RSS: 2 << 20, PSS: 3 << 20}, 1024)
	if rss != 1024 || pss != 2048 {
		t.Errorf("memPerSession = %v, %v", rss, pss)
	}
}

func TestReportFormat(t *testing.T) {
	r := &Report{
		Scenario: "chat", Sessions: 10, Logins: 10, LoginSeconds: 0.5, LoginsPerSec: 20,
		LoginLatency: Summary{N: 10, P50: time.Millisecond, P99: 2 * time.Millisecond, Max: 3 * time.Millisecond},
		Sent:         100, Expected: 100, Received: 98, Lost: 2, RunSeconds: 2, MsgsPerSec: 49,
		Latency:   Summary{N: 98, P50: 1500 * time.Microsecond, P99: 12345 * time.Microsecond, Max: 1500 * time.Millisecond},
		MemBefore: &Mem{RSS: 10 << 20, PSS: 9 << 20}, MemAfter: &Mem{RSS: 20 << 20, PSS: 19 << 20},
		RSSPerSession: 1024 * 1024, PSSPerSession: 512,
		Errors: 3, ErrorKinds: map[string]int64{"b": 1, "a": 2},
	}
	var b bytes.Buffer
	r.Format(&b)
	want := `== chat ==
sessions      10
logins        10 ok, 0 failed in 0.50s: 20 logins/s (p50 1ms  p99 2ms  max 3ms)
messages      100 sent, 98 of 100 expected deliveries received, 2 lost, in 2.00s: 49 deliveries/s
latency       p50 1.5ms  p99 12.35ms  max 1.5s
server memory RSS 10.0 MiB -> 20.0 MiB, PSS 9216.0 KiB -> 19.0 MiB
per session   RSS 1024.0 KiB, PSS 0.5 KiB
errors        3
       2  a
       1  b
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	(&Report{Scenario: "muc", Skipped: "not supported by this server"}).Format(&b)
	if b.String() != "== muc ==\nskipped: not supported by this server\n" {
		t.Errorf("skipped report: %q", b.String())
	}
}

func TestPayloadRoundTrip(t *testing.T) {
	now := time.Unix(1700000000, 123456789)
	p := payload(nil, 42, now)
	sent, idx, ok := parsePayload(string(p))
	if !ok || idx != 42 || !sent.Equal(now) {
		t.Errorf("parsePayload(%q) = %v %d %v", p, sent, idx, ok)
	}
	for _, bad := range []string{"", "hello", "bench x 1", "bench 1", "bench 1 -3"} {
		if _, _, ok := parsePayload(bad); ok {
			t.Errorf("parsePayload(%q) accepted", bad)
		}
	}
	tr := newTraffic(2, 1, 1)
	if tr.deliver("bench 1 7") || tr.strays.Load() != 1 {
		t.Error("delivery for an unknown sender accepted")
	}
	msg := appendMessage(nil, "a'b@x", "chat", 1, now)
	if !bytes.Contains(msg, []byte("to='a&apos;b@x'")) {
		t.Errorf("attribute not escaped: %s", msg)
	}
}

func TestContactsMutual(t *testing.T) {
	const n, r = 11, 6
	has := map[[2]int]bool{}
	for i := range n {
		c := contacts(i, n, r)
		if len(c) != r || slices.Contains(c, i) {
			t.Fatalf("contacts(%d) = %v", i, c)
		}
		for _, j := range c {
			has[[2]int{i, j}] = true
		}
	}
	for p := range has {
		if !has[[2]int{p[1], p[0]}] {
			t.Errorf("%d lists %d but not the reverse", p[0], p[1])
		}
	}
}

func TestErrorsBounded(t *testing.T) {
	var e Errors
	for i := range 50 {
		e.Add(errors.New(strings.Repeat("x", i)))
	}
	e.Add(nil)
	if e.Total() != 50 {
		t.Errorf("Total = %d", e.Total())
	}
	k := e.Kinds()
	if len(k) != 21 || k["(other errors)"] != 30 {
		t.Errorf("kinds: %d entries, other %d", len(k), k["(other errors)"])
	}
}

// TestKeyCacheMatchesSASL checks the cached keys against xmpp/sasl's
// credential derivation and runs full exchanges against its server
// mechanism, with the cache warm and cold, and with a wrong password.
func TestKeyCacheMatchesSASL(t *testing.T) {
	for _, tc := range []struct {
		mech string
		h    sasl.Hash
	}{{sasl.ScramSHA1, sasl.SHA1}, {sasl.ScramSHA256, sasl.SHA256}} {
		t.Run(tc.mech, func(t *testing.T) {
			creds, err := sasl.NewCredentials(tc.h, "pässword", 4096)
			if err != nil {
				t.Fatal(err)
			}
			cache := NewKeyCache()
			pw, _ := sasl.PreparePassword("pässword")
			k, err := cache.Get(tc.mech, pw, creds.Salt, creds.Iterations)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(k.StoredKey, creds.StoredKey) || !bytes.Equal(k.ServerKey, creds.ServerKey) {
				t.Fatal("cached keys differ from sasl.DeriveCredentials")
			}
			lookup := func(string, sasl.Hash) (sasl.Credentials, error) { return creds, nil }
			for i, password := range []string{"pässword", "pässword", "wrong"} {
				srv, err := sasl.NewServer(tc.mech, sasl.ServerConfig{Lookup: lookup, FakeSecret: []byte("s")})
				if err != nil {
					t.Fatal(err)
				}
				c, err := newScramClient(cache, tc.mech, "alice", password)
				if err != nil {
					t.Fatal(err)
				}
				ch, done, err := srv.Next(c.first())
				if err != nil || done {
					t.Fatalf("server-first: %v %v", done, err)
				}
				fin, err := c.final(ch)
				if err != nil {
					t.Fatal(err)
				}
				out, done, err := srv.Next(fin)
				if password == "wrong" {
					if err == nil {
						t.Fatal("wrong password accepted")
					}
					continue
				}
				if err != nil || !done || srv.Username() != "alice" {
					t.Fatalf("exchange %d: done %v, user %q, err %v", i, done, srv.Username(), err)
				}
				if err := c.verify(out); err != nil {
					t.Fatalf("server signature: %v", err)
				}
				if err := c.verify([]byte("v=AAAA")); err == nil {
					t.Fatal("forged server signature accepted")
				}
			}
			if cache.Len() != 2 {
				t.Errorf("cache holds %d entries, want 2 (right and wrong password)", cache.Len())
			}
		})
	}
}

func TestConfigSubmission(t *testing.T) {
	form := func(fields string) *stanza.Element {
		t.Helper()
		el, err := stream.ParseElement([]byte(`<x xmlns='jabber:x:data' type='form'><title>Configuration</title>`+fields+`</x>`), stream.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		return el
	}
	const formType = `<field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/muc#roomconfig</value></field>`
	const persistent = `<field var='muc#roomconfig_persistentroom' type='boolean'><value>0</value></field>`
	for _, archive := range []string{"muc#roomconfig_enablearchiving", "mam"} {
		in := form(formType + `<field type='fixed'><value>Room</value></field>` + persistent +
			`<field var='muc#roomconfig_roomowners' type='jid-multi'><value>a@x</value><value>b@x</value></field>` +
			`<field var='muc#roomconfig_roomsecret' type='text-private'/>` +
			`<field var='` + archive + `' type='boolean'><value>false</value></field>`)
		out, err := configSubmission(in)
		if err != nil {
			t.Fatalf("%s: %v", archive, err)
		}
		if out.Get("type") != "submit" {
			t.Errorf("%s: form type %q", archive, out.Get("type"))
		}
		got := map[string][]string{}
		for _, f := range out.ChildrenNamed(nsData, "field") {
			for _, v := range f.ChildrenNamed(nsData, "value") {
				got[f.Get("var")] = append(got[f.Get("var")], v.Text())
			}
		}
		want := map[string][]string{
			"FORM_TYPE":                     {"http://jabber.org/protocol/muc#roomconfig"},
			"muc#roomconfig_persistentroom": {"1"},
			"muc#roomconfig_roomowners":     {"a@x", "b@x"},
			archive:                         {"1"},
		}
		if n := len(out.ChildrenNamed(nsData, "field")); n != len(want) || len(got) != len(want) {
			t.Errorf("%s: submitted %d fields %v, want %v", archive, n, got, want)
		}
		for k, v := range want {
			if !slices.Equal(got[k], v) {
				t.Errorf("%s: field %s = %v, want %v", archive, k, got[k], v)
			}
		}
	}
	if _, err := configSubmission(form(formType + persistent)); err == nil || !strings.Contains(err.Error(), "archiving field") {
		t.Errorf("form without archiving: %v", err)
	}
	if _, err := configSubmission(form(formType + `<field var='mam' type='boolean'/>`)); err == nil || !strings.Contains(err.Error(), "persistentroom") {
		t.Errorf("form without persistence: %v", err)
	}
	if _, err := configSubmission(nil); err == nil {
		t.Error("no form: no error")
	}
}

func TestRoomName(t *testing.T) {
	if got := roomName(3, 10, false); got != "benchroom3" {
		t.Errorf("temporary room %q", got)
	}
	if a, b := roomName(0, 10, true), roomName(0, 100, true); a == b || a == roomName(0, 10, false) {
		t.Errorf("archived rooms %q and %q must differ per size and from temporary ones", a, b)
	}
}

func TestS2SConfig(t *testing.T) {
	base := Config{Dialer: Dialer{Domain: "a.example", Addrs: []string{"127.0.0.1:1"}, TLS: &tls.Config{ServerName: "a.example"}},
		UserFormat: "user%d", Count: 4}
	for _, tc := range []struct {
		peer  Dialer
		count int
		want  string
	}{
		{Dialer{Addrs: []string{"127.0.0.1:2"}}, 4, "second server's domain and address"},
		{Dialer{Domain: "b.example"}, 4, "second server's domain and address"},
		{Dialer{Domain: "a.example", Addrs: []string{"127.0.0.1:2"}}, 4, "two domains"},
		{Dialer{Domain: "b.example", Addrs: []string{"127.0.0.1:2"}}, 1, "at least 2 sessions"},
	} {
		cfg := base
		cfg.Peer, cfg.Count = tc.peer, tc.count
		if err := cfg.validate("s2s"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("peer %+v, count %d: %v, want %q", tc.peer, tc.count, err, tc.want)
		}
	}
	p := base.Dialer.peer(Dialer{Domain: "b.example", Addrs: []string{"127.0.0.1:2"}})
	if p.Domain != "b.example" || p.Addrs[0] != "127.0.0.1:2" || p.TLS.ServerName != "b.example" || base.Dialer.TLS.ServerName != "a.example" {
		t.Errorf("peer dialer %+v (TLS name %q), first server's TLS name %q", p, p.TLS.ServerName, base.Dialer.TLS.ServerName)
	}
}

func TestReportFormatS2SAndMUC(t *testing.T) {
	mem := func(mib uint64) *Mem { return &Mem{RSS: mib << 20, PSS: mib << 20} }
	r := &Report{Scenario: "s2s", Sessions: 2, Logins: 2, LinkSetupSeconds: 0.25,
		MemBefore: mem(20), MemMid: mem(22), MemAfter: mem(30), PeerMemBefore: mem(40), PeerMemMid: mem(41), PeerMemAfter: mem(39)}
	var b bytes.Buffer
	r.Format(&b)
	for _, want := range []string{
		"links         up in 0.250s (the first message each way)\n",
		"server memory RSS 20.0 MiB before the logins, 22.0 MiB with the sessions and links up (+2048.0 KiB), 30.0 MiB after the traffic (+10.0 MiB over the run)\n",
		"peer memory   RSS 40.0 MiB before the logins, 41.0 MiB with the sessions and links up (+1024.0 KiB), 39.0 MiB after the traffic (-1024.0 KiB over the run)\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("s2s report lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	(&Report{Scenario: "muc", RoomSize: 1000, Archive: true, JoinSeconds: 1.5, Sent: 10, Bounced: 4, Expected: 6000}).Format(&b)
	for _, want := range []string{
		"rooms         1000 occupants each (persistent rooms with archiving), entered in 1.50s\n",
		"refused       4 messages bounced with an error (their deliveries are not expected)\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("muc report lacks %q:\n%s", want, b.String())
		}
	}
}
