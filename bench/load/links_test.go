package load

import (
	"bytes"
	"strings"
	"testing"
)

func TestLinksConfig(t *testing.T) {
	base := Config{Dialer: Dialer{Domain: "a.example", Addrs: []string{"127.0.0.1:1"}}, UserFormat: "user%d", Count: 1, Links: 3, LinkDomain: "d%d.example"}
	if err := base.validate("s2s-links"); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for _, bad := range []func(c *Config){
		func(c *Config) { c.Links = 0 },
		func(c *Config) { c.LinkDomain = "" },
		func(c *Config) { c.LinkDomain = "b.example" },
		func(c *Config) { c.LinkDomain = "d%d.%d.example" },
	} {
		c := base
		bad(&c)
		if err := c.validate("s2s-links"); err == nil {
			t.Errorf("links %d, domain %q accepted", c.Links, c.LinkDomain)
		}
	}
	r := &runner{cfg: base}
	if got := r.linkDomain(12); got != "d12.example" {
		t.Errorf("remote domain 12: %q", got)
	}
}

func TestReportFormatLinks(t *testing.T) {
	mem := func(mib uint64) *Mem { return &Mem{RSS: mib << 20, PSS: mib << 20} }
	r := &Report{Scenario: "s2s-links", Sessions: 1, Logins: 1, Links: 300, LinksUp: 300, LinkSetupSeconds: 2.5,
		MemBefore: mem(20), MemMid: mem(30), MemAfter: mem(40), PeerMemBefore: mem(50), PeerMemMid: mem(55), PeerMemAfter: mem(60),
		RSSPerLink: 20 << 20 / 300.0, PSSPerLink: 20 << 20 / 300.0, MarginalRSSPerLink: 10 << 20 / 150.0, MarginalPSSPerLink: 10 << 20 / 150.0,
		PeerRSSPerLink: 10 << 20 / 300.0}
	var b bytes.Buffer
	r.Format(&b)
	for _, want := range []string{
		"links         300 of 300 up in 2.50s, ping to answer",
		"server memory RSS 20.0 MiB before, 30.0 MiB with half the links up (+10.0 MiB), 40.0 MiB with all (+20.0 MiB)\n",
		"peer memory   RSS 50.0 MiB before, 55.0 MiB with half the links up (+5120.0 KiB), 60.0 MiB with all (+10.0 MiB)\n",
		"per link      RSS 68.3 KiB, PSS 68.3 KiB; marginal (second half) RSS 68.3 KiB, PSS 68.3 KiB\n",
		"peer per link RSS 34.1 KiB\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("s2s-links report lacks %q:\n%s", want, b.String())
		}
	}
}
