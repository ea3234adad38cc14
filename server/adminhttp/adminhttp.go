// Package adminhttp is the admin HTTP server (listener type "admin"):
// Prometheus metrics at /metrics, liveness at /healthz, readiness at
// /readyz, and the admin API under /api/, which needs a bearer token
// (server/admintoken). docs/admin-api.md describes it, and
// docs/admin-api.yaml is its OpenAPI description.
//
// The three probe paths need no token when the listener is bound to a
// loopback address only (Options.OpenProbes): only local users and
// processes reach it. Bound to any other address, every path needs a
// token, the probes too.
package adminhttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/parley-xmpp/parley/server/admintoken"
)

// Paths of the server.
const (
	PathMetrics = "/metrics"
	PathHealth  = "/healthz"
	PathReady   = "/readyz"
	PathAPI     = "/api/"
	PathPages   = "/admin/"
)

// Routes are the patterns the Server serves itself; the admin API
// (HandleAPI) adds its own.
var Routes = []string{"GET " + PathMetrics, "GET " + PathHealth, "GET " + PathReady, "GET /api/version"}

// readyTimeout bounds a readiness check.
const readyTimeout = 2 * time.Second

// Options configure a Server.
type Options struct {
	// Metrics serves /metrics; nil: 404.
	Metrics http.Handler
	// Ready reports whether the server can serve: nil when it can, else
	// why not. Nil: always ready once serving.
	Ready func(ctx context.Context) error
	// Tokens are the bearer tokens the admin API accepts; nil accepts
	// none.
	Tokens *admintoken.Store
	// Version is what GET /api/version reports.
	Version string
	// OpenProbes serves /metrics, /healthz and /readyz without a token:
	// set it when the listener is bound to a loopback address only.
	OpenProbes bool
	// Log receives a line for each refused request.
	Log *slog.Logger
	// Pages serves PathPages (the web admin pages, server/webadmin),
	// which log in with a token of their own form, not a bearer
	// header; nil: 404.
	Pages http.Handler
}

// Server is the admin HTTP server.
type Server struct {
	opts Options
	mux  *http.ServeMux // every path, behind the token check
	root http.Handler
}

// New returns the admin HTTP server.
func New(opts Options) *Server {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, mux: http.NewServeMux()}
	if opts.Metrics != nil {
		s.mux.Handle("GET "+PathMetrics, opts.Metrics)
	}
	s.mux.HandleFunc("GET "+PathHealth, s.health)
	s.mux.HandleFunc("GET "+PathReady, s.ready)
	s.mux.HandleFunc("GET /api/version", s.version)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		opts.Log.Info("admin: no such endpoint", "method", r.Method, "path", r.URL.Path, "token", TokenName(r.Context()), "remote", r.RemoteAddr)
		WriteError(w, http.StatusNotFound, "not_found", "no such endpoint")
	})
	authed := RequireToken(opts.Tokens, opts.Log, s.mux)
	s.root = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if opts.Pages != nil && (r.URL.Path == "/admin" || strings.HasPrefix(r.URL.Path, PathPages)) {
			opts.Pages.ServeHTTP(w, r)
			return
		}
		if opts.OpenProbes && isProbe(r.URL.Path) {
			s.mux.ServeHTTP(w, r)
			return
		}
		authed.ServeHTTP(w, r)
	})
	return s
}

func isProbe(path string) bool {
	return path == PathMetrics || path == PathHealth || path == PathReady
}

// HandleAPI serves pattern (a http.ServeMux pattern under /api/, such as
// "GET /api/sessions") with h, behind the token check: the mount point of
// the admin API's endpoints.
func (s *Server) HandleAPI(pattern string, h http.Handler) {
	s.mux.Handle(pattern, h)
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.root.ServeHTTP(w, r) }

// Serve serves HTTP on ln until ctx ends.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.opts.Log.Handler(), slog.LevelInfo),
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			defer cancel()
			srv.Shutdown(shut) //nolint:errcheck // closing anyway
		case <-done:
		}
	}()
	// A closed listener is the server stopping (it closes its listeners
	// as it ends their contexts), not a failure.
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("admin HTTP: %w", err)
	}
	return nil
}

func (s *Server) health(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n")) //nolint:errcheck // the client went away
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s.opts.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := s.opts.Ready(ctx); err != nil {
			s.opts.Log.Warn("admin: not ready", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("not ready: " + err.Error() + "\n")) //nolint:errcheck // the client went away
			return
		}
	}
	w.Write([]byte("ready\n")) //nolint:errcheck // the client went away
}

func (s *Server) version(w http.ResponseWriter, _ *http.Request) {
	WriteJSON(w, http.StatusOK, map[string]string{"version": s.opts.Version})
}

// RequireToken serves next only for requests that carry one of tokens'
// tokens as "Authorization: Bearer <token>" (RFC 6750); it answers
// others 401 with a WWW-Authenticate challenge, and logs them.
func RequireToken(tokens *admintoken.Store, log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, found := bearer(r)
		if !found {
			log.Info("admin: request without a token", "path", r.URL.Path, "remote", r.RemoteAddr)
			w.Header().Set("WWW-Authenticate", `Bearer realm="parley-admin"`)
			WriteError(w, http.StatusUnauthorized, "unauthorized", "a bearer token is required")
			return
		}
		name, ok := "", false
		if tokens != nil {
			var err error
			if name, ok, err = tokens.Check(token); err != nil {
				log.Error("admin: checking a token", "err", err)
				WriteError(w, http.StatusInternalServerError, "internal", "the tokens cannot be read")
				return
			}
		}
		if !ok {
			log.Warn("admin: request with an invalid token", "path", r.URL.Path, "remote", r.RemoteAddr)
			w.Header().Set("WWW-Authenticate", `Bearer realm="parley-admin", error="invalid_token"`)
			WriteError(w, http.StatusUnauthorized, "invalid_token", "the token is not valid")
			return
		}
		log.Debug("admin: request", "token", name, "method", r.Method, "path", r.URL.Path)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tokenKey{}, name)))
	})
}

// bearer returns the token of the request's Authorization header.
func bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

type tokenKey struct{}

// TokenName returns the name of the token a request passed RequireToken
// with, "" for a request that needed none (a probe on loopback).
func TokenName(ctx context.Context) string {
	name, _ := ctx.Value(tokenKey{}).(string)
	return name
}

// WriteError writes the JSON error body of the admin API:
// {"error": code, "message": msg}.
func WriteError(w http.ResponseWriter, status int, code, msg string) {
	WriteJSON(w, status, map[string]string{"error": code, "message": msg})
}

// WriteJSON writes v as the JSON body of a response with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) //nolint:errcheck // the client went away
}
