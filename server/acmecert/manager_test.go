package acmecert

import (
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestHTTPHandlerAnswersOnlyPendingChallenges(t *testing.T) {
	m := New(Options{})
	m.tokens["/.well-known/acme-challenge/tok"] = "tok.thumbprint"
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h := m.HTTPHandler(next)
	for path, want := range map[string]struct {
		code int
		body string
	}{
		"/.well-known/acme-challenge/tok":   {http.StatusOK, "tok.thumbprint"},
		"/.well-known/acme-challenge/other": {http.StatusNotFound, ""},
		"/index.html":                       {http.StatusTeapot, ""},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "http://example.org"+path, nil))
		if rec.Code != want.code || (want.body != "" && strings.TrimSpace(rec.Body.String()) != want.body) {
			t.Errorf("%s: %d %q, want %d %q", path, rec.Code, rec.Body.String(), want.code, want.body)
		}
	}
}

func TestRenewAtTwoThirdsOfTheLifetime(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	leaf := &x509.Certificate{NotBefore: start, NotAfter: start.Add(90 * 24 * time.Hour)}
	if got, want := renewAt(leaf), start.Add(60*24*time.Hour); !got.Equal(want) {
		t.Errorf("renewAt = %v, want %v (day 60 of 90)", got, want)
	}
}
