package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"strings"
	"time"
)

// certWarnWithin is how close to its expiry a certificate draws a warning.
const certWarnWithin = 14 * 24 * time.Hour

// checkCerts reports, for each served domain and service domain, the
// certificate the server presents for it: an error when none covers the
// name or the one that does has expired (or is not valid yet), a warning
// when it expires within 14 days or no trusted CA signed it.
func (c *checker) checkCerts(ctx context.Context) {
	c.out.section("certs")
	certs, err := loadCertificateFiles(c.cfg)
	if err != nil {
		for _, e := range unjoin(err) {
			c.out.fail("%s", oneLine(e.Error()))
		}
	}
	if len(certs) == 0 && err == nil {
		c.out.note("no certificate yet: the server makes a self-signed one for %s at its first start", strings.Join(c.cfg.Domains, ", "))
		c.out.advise("configure tls.certificates with certificates from a CA (e.g. Let's Encrypt) so that clients and servers trust this one")
		return
	}
	names := append(append([]string{}, c.cfg.Domains...), c.serviceDomains(ctx)...)
	for _, name := range names {
		c.checkName(name, certs)
	}
}

// checkName reports on the certificate served for one name: the first
// that covers it, as the TLS listeners pick it.
func (c *checker) checkName(name string, certs []servedCert) {
	var sc *servedCert
	for i := range certs {
		if certs[i].leaf.VerifyHostname(name) == nil {
			sc = &certs[i]
			break
		}
	}
	if sc == nil {
		c.out.fail("%s: no certificate covers this name", name)
		c.out.advise("get a certificate whose names include %s (or a wildcard for its parent domain) and add it to tls.certificates", name)
		return
	}
	leaf := sc.leaf
	left := leaf.NotAfter.Sub(c.now)
	until := fmt.Sprintf("%s (%s)", leaf.NotAfter.UTC().Format(time.DateOnly), sc.file)
	switch {
	case left <= 0:
		c.out.fail("%s: certificate expired on %s", name, until)
		c.out.advise("renew the certificate and restart or reload the server")
		return
	case c.now.Before(leaf.NotBefore):
		c.out.fail("%s: certificate not valid before %s (%s)", name, leaf.NotBefore.UTC().Format(time.DateTime), sc.file)
		c.out.advise("check this machine's clock")
		return
	case left < certWarnWithin:
		c.out.warn("%s: certificate expires in %d days, on %s", name, int(left.Hours()/24), until)
		c.out.advise("renew it now: clients and servers refuse it once it has expired")
		return
	}
	if sc.self {
		c.out.warn("%s: self-signed certificate, valid until %s", name, until)
		c.out.advise("clients and other servers do not trust it: configure tls.certificates with certificates from a CA")
		return
	}
	inter := x509.NewCertPool()
	for _, ic := range sc.chain {
		inter.AddCert(ic)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: c.roots, Intermediates: inter, CurrentTime: c.now}); err != nil {
		c.out.warn("%s: certificate valid until %s, but not trusted: %s", name, until, oneLine(err.Error()))
		c.out.advise("put the full chain (leaf first, then the intermediates) into the certificate file")
		return
	}
	c.out.ok("%s: certificate valid until %s, %d days left", name, until, int(left.Hours()/24))
}
