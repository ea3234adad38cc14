package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/parley-xmpp/parley/server/acmecert"
	"github.com/parley-xmpp/parley/server/config"
)

// certWatchEvery is how often the certificate files' modification times
// are checked (Store.Watch): a certificate renewed by another program is
// served within it, without a reload.
const certWatchEvery = 30 * time.Second

// startCertificates watches the certificate files and, with tls.acme
// enabled, starts keeping ACME certificates for the served domains and
// the service domains (the router's, known once the modules registered).
func (a *App) startCertificates(ctx context.Context) error {
	a.wg.Go(func() { a.certs.Watch(ctx, certWatchEvery) })
	ac := a.cfg.TLS.ACME
	if !ac.Enabled {
		return nil
	}
	hc, err := acmeHTTPClient(ac.CAFile)
	if err != nil {
		return err
	}
	a.acme = acmecert.New(acmecert.Options{
		Directory:    ac.Directory,
		Email:        ac.Email,
		HTTPClient:   hc,
		Challenges:   a.cfg.ACMEChallenges(),
		Dir:          a.cfg.ACMEDir(),
		Certificates: certificateNames(a.cfg.Domains, a.router.Services()),
		Store:        a.certs,
		RetryAfter:   ac.RetryAfter,
		Log:          a.log.With("component", "acme"),
		Now:          a.now,
	})
	a.warnACMEPorts()
	a.wg.Go(func() { a.acme.Run(ctx) })
	return nil
}

// warnACMEPorts logs when no listener is bound to the port a challenge
// is validated on (443 for TLS-ALPN-01, 80 for HTTP-01): fine when a
// firewall or proxy forwards it, else validations will fail.
func (a *App) warnACMEPorts() {
	on := func(port string, ok func(config.Listener) bool) bool {
		for _, l := range a.cfg.Listeners {
			if _, p, err := net.SplitHostPort(l.Address); err == nil && p == port && ok(l) {
				return true
			}
		}
		return false
	}
	for _, ch := range a.cfg.ACMEChallenges() {
		switch {
		case ch == config.ChallengeTLSALPN01 && !on("443", func(l config.Listener) bool { return l.DirectTLS() && !l.Server() }):
			a.log.Warn("ACME TLS-ALPN-01 is validated on port 443, where no c2s_tls, https or turns listener is bound: forward port 443 to one of them", "challenge", ch)
		case ch == config.ChallengeHTTP01 && !on("80", func(l config.Listener) bool { return l.Type == config.ListenerACMEHTTP }):
			a.log.Warn("ACME HTTP-01 is validated on port 80, where no acme_http listener is bound: forward port 80 to it", "challenge", ch)
		}
	}
}

// certificateNames groups the names to certify: one certificate per
// served domain, with the service domains under it (conference.,
// upload., …), and one per other service domain.
func certificateNames(domains, services []string) [][]string {
	out := make([][]string, len(domains))
	for i, d := range domains {
		out[i] = []string{d}
	}
next:
	for _, s := range services {
		for i, d := range domains {
			if s == d {
				continue next
			}
			if strings.HasSuffix(s, "."+d) {
				out[i] = append(out[i], s)
				continue next
			}
		}
		out = append(out, []string{s})
	}
	return out
}

// acmeHTTPClient is the client that talks to the ACME directory:
// trusting the CAs of caFile instead of the system's when set.
func acmeHTTPClient(caFile string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("tls.acme.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.acme.ca_file: %s holds no PEM certificate", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: time.Minute}, nil
}

// serveACMEHTTP serves an acme_http listener: ACME HTTP-01 challenges,
// and a redirect to HTTPS for every other request.
func (a *App) serveACMEHTTP(ctx context.Context, ln net.Listener, l config.Listener) {
	a.mu.Lock()
	a.listeners = append(a.listeners, ln)
	a.addrs[l.Type] = append(a.addrs[l.Type], ln.Addr())
	a.mu.Unlock()
	served := map[string]bool{}
	for _, d := range append(append([]string(nil), a.cfg.Domains...), a.router.Services()...) {
		served[d] = true
	}
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { redirectHTTPS(w, r, served) })
	if a.acme != nil {
		h = a.acme.HTTPHandler(h)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    8 << 10,
	}
	a.wg.Go(func() {
		<-ctx.Done()
		_ = srv.Close()
	})
	a.wg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && ctx.Err() == nil {
			a.log.Error("ACME HTTP listener failed", "address", ln.Addr().String(), "err", err)
			select {
			case a.failed <- fmt.Errorf("ACME HTTP listener %s failed: %w", ln.Addr(), err):
			default:
			}
		}
	})
}

// redirectHTTPS sends a plain HTTP request for a served domain to the
// same place over HTTPS; others get 404.
func redirectHTTPS(w http.ResponseWriter, r *http.Request, served map[string]bool) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if !served[strings.ToLower(host)] {
		http.NotFound(w, r)
		return
	}
	http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusMovedPermanently)
}
