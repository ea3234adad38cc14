// Package webadmin is the web admin pages of the admin HTTP listener, at
// /admin/: server-rendered HTML (html/template, no JavaScript) over the
// live operations (server/admin) — an overview, the sessions (kick), the
// accounts of each domain (add, disable, enable, reset the password,
// delete), the MUC rooms, the server-to-server links, the recent
// warnings and errors (server/logring) and an announcement form.
//
// An operator logs in by pasting an admin token (`parley admin token
// --name NAME`, server/admintoken); the browser then holds a session cookie
// (HttpOnly, SameSite=Strict, Secure over TLS) naming a random id in a
// bounded in-memory map, with an absolute expiry. A session ends at its
// expiry, on logout, or as soon as its token is revoked. Every POST
// carries the session's CSRF token in a hidden field (compared in
// constant time); the login form carries one bound to a pre-login
// cookie. Failed logins are logged and limited per client address. The
// pages are served with a strict Content-Security-Policy: nothing but
// the package's own stylesheet loads, and forms post to the same origin
// only.
package webadmin

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/parley-xmpp/parley/server/admin"
	"github.com/parley-xmpp/parley/server/admintoken"
	"github.com/parley-xmpp/parley/server/logring"
)

// Path is where the pages are served.
const Path = "/admin/"

// Defaults of Options.
const (
	DefaultSessionTTL    = 8 * time.Hour
	DefaultMaxSessions   = 64
	DefaultLoginFailures = 5
	DefaultLoginWindow   = time.Minute
)

// maxForm bounds a POST's body, in bytes.
const maxForm = 64 << 10

// maxLimiterAddrs bounds the addresses whose failed logins are counted.
const maxLimiterAddrs = 4096

// Cookie names.
const (
	cookieSession = "parley_admin"
	cookieLogin   = "parley_admin_login"
)

// csp is the Content-Security-Policy of every response.
const csp = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

//go:embed assets
var assets embed.FS

// Options configure the pages.
type Options struct {
	// Ops returns the live operations, nil when they are not running
	// (the pages then answer 503).
	Ops func() *admin.Ops
	// Tokens are the admin tokens an operator logs in with.
	Tokens *admintoken.Store
	// Recent are the recent warnings and errors; nil: not kept.
	Recent *logring.Ring
	// Log receives logins, logouts, failed logins and actions.
	Log *slog.Logger
	// SessionTTL is how long a login lasts (DefaultSessionTTL).
	SessionTTL time.Duration
	// MaxSessions bounds the logged-in sessions (DefaultMaxSessions);
	// beyond it, the oldest ends.
	MaxSessions int
	// LoginFailures failed logins from one address within LoginWindow
	// refuse that address's logins until the window ends
	// (DefaultLoginFailures, DefaultLoginWindow).
	LoginFailures int
	LoginWindow   time.Duration
	// Now is the clock of sessions and login limits (time.Now).
	Now func() time.Time
}

// Handler serves the pages under Path.
type Handler struct {
	o        Options
	mux      *http.ServeMux
	pages    map[string]*template.Template
	sessions *sessions
	limiter  *limiter
	now      func() time.Time
}

// New returns the pages' handler.
func New(o Options) *Handler {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	o.SessionTTL = cmp.Or(o.SessionTTL, DefaultSessionTTL)
	o.MaxSessions = cmp.Or(o.MaxSessions, DefaultMaxSessions)
	o.LoginFailures = cmp.Or(o.LoginFailures, DefaultLoginFailures)
	o.LoginWindow = cmp.Or(o.LoginWindow, DefaultLoginWindow)
	h := &Handler{
		o: o, mux: http.NewServeMux(), pages: map[string]*template.Template{},
		sessions: newSessions(o.MaxSessions, o.SessionTTL),
		limiter:  newLimiter(o.LoginFailures, o.LoginWindow, maxLimiterAddrs),
		now:      o.Now,
	}
	if h.now == nil {
		h.now = time.Now
	}
	funcs := template.FuncMap{"bytes": humanBytes, "time": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") }}
	for _, p := range []string{"login", "overview", "sessions", "users", "rooms", "links", "log", "announce", "error"} {
		h.pages[p] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(assets, "assets/layout.html", "assets/"+p+".html"))
	}
	h.mux.HandleFunc("GET /admin/static/style.css", h.static("style.css", "text/css; charset=utf-8"))
	h.mux.HandleFunc("GET /admin/static/favicon.svg", h.static("favicon.svg", "image/svg+xml"))
	h.mux.HandleFunc("GET /admin/login", h.loginForm)
	h.mux.HandleFunc("POST /admin/login", h.login)
	h.mux.HandleFunc("POST /admin/logout", h.auth(h.logout))
	h.mux.HandleFunc("GET /admin/{$}", h.auth(h.overview))
	h.mux.HandleFunc("GET /admin/sessions", h.auth(h.sessionsPage))
	h.mux.HandleFunc("POST /admin/sessions/kick", h.auth(h.kick))
	h.mux.HandleFunc("GET /admin/users", h.auth(h.users))
	h.mux.HandleFunc("POST /admin/users/{action}", h.auth(h.userAction))
	h.mux.HandleFunc("GET /admin/rooms", h.auth(h.rooms))
	h.mux.HandleFunc("GET /admin/links", h.auth(h.links))
	h.mux.HandleFunc("GET /admin/log", h.auth(h.logPage))
	h.mux.HandleFunc("GET /admin/announce", h.auth(h.announceForm))
	h.mux.HandleFunc("POST /admin/announce", h.auth(h.announce))
	h.mux.HandleFunc("/admin/", func(w http.ResponseWriter, r *http.Request) {
		h.render(w, r, http.StatusNotFound, "error", nil, page{Title: "Not found", Error: "There is no such page."})
	})
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", csp)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	// same-origin, not no-referrer: under no-referrer browsers send
	// "Origin: null" with a form's POST, which sameOrigin refuses.
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Cache-Control", "no-store")
	if r.URL.Path == "/admin" {
		http.Redirect(w, r, Path, http.StatusSeeOther)
		return
	}
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if !sameOrigin(r) {
			h.o.Log.Warn("admin web: a POST from another origin refused", "path", r.URL.Path, "origin", r.Header.Get("Origin"), "remote", r.RemoteAddr)
			h.render(w, r, http.StatusForbidden, "error", nil, page{Title: "Refused", Error: "The request came from another site."})
			return
		}
	}
	h.mux.ServeHTTP(w, r)
}

// sameOrigin: a POST that names its origin (browsers do) names this
// host.
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	scheme := "http://"
	if r.TLS != nil {
		scheme = "https://"
	}
	return origin == scheme+r.Host
}

// page is what every template receives.
type page struct {
	Title string
	Nav   string // the current section
	CSRF  string
	Token string // the logged-in token's name
	Flash flash
	Error string
	Data  any
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, ss *session, p page) {
	if ss != nil {
		p.CSRF, p.Token = ss.csrf, ss.tokenName
		if p.Flash == (flash{}) {
			p.Flash = h.sessions.takeFlash(ss)
		}
	}
	var b bytes.Buffer
	if err := h.pages[name].Execute(&b, p); err != nil {
		h.o.Log.Error("admin web: rendering a page", "page", name, "path", r.URL.Path, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes()) //nolint:errcheck // the client went away
}

// static serves an embedded file of assets.
func (h *Handler) static(name, contentType string) http.HandlerFunc {
	b, err := assets.ReadFile("assets/" + name)
	if err != nil {
		panic("webadmin: " + err.Error()) // the file is embedded
	}
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Write(b) //nolint:errcheck // the client went away
	}
}

// tokenHash is the stored form of an admin token (as admintoken keeps
// it): the hex SHA-256.
func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// clientAddr is the address failed logins are counted by.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (h *Handler) secure(r *http.Request) bool { return r.TLS != nil }

func (h *Handler) loginForm(w http.ResponseWriter, r *http.Request) {
	h.showLogin(w, r, http.StatusOK, "")
}

// showLogin renders the login form with a fresh pre-login CSRF token,
// bound to a cookie.
func (h *Handler) showLogin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	v := randomID()
	http.SetCookie(w, &http.Cookie{Name: cookieLogin, Value: v, Path: Path, MaxAge: 3600, HttpOnly: true, Secure: h.secure(r), SameSite: http.SameSiteStrictMode})
	h.render(w, r, status, "login", nil, page{Title: "Log in", CSRF: v, Error: msg})
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	addr, now := clientAddr(r), h.now()
	c, err := r.Cookie(cookieLogin)
	if err != nil || !equal(c.Value, r.PostFormValue("csrf")) {
		h.o.Log.Warn("admin web: a login without the form's CSRF token refused", "remote", r.RemoteAddr)
		h.showLogin(w, r, http.StatusForbidden, "The form had expired; please try again.")
		return
	}
	if h.limiter.blocked(addr, now) {
		h.o.Log.Warn("admin web: login refused: too many failed logins from this address", "remote", r.RemoteAddr)
		h.showLogin(w, r, http.StatusTooManyRequests, "Too many failed logins from your address; wait a minute.")
		return
	}
	token := strings.TrimSpace(r.PostFormValue("token"))
	name, ok := "", false
	if h.o.Tokens != nil {
		if name, ok, err = h.o.Tokens.Check(token); err != nil {
			h.o.Log.Error("admin web: checking a token", "err", err)
			h.showLogin(w, r, http.StatusInternalServerError, "The tokens cannot be read; see the server's log.")
			return
		}
	}
	if !ok {
		h.limiter.fail(addr, now)
		h.o.Log.Warn("admin web: login with an invalid token", "remote", r.RemoteAddr)
		h.showLogin(w, r, http.StatusUnauthorized, "That is not a valid admin token.")
		return
	}
	id, _ := h.sessions.create(now, name, tokenHash(token))
	http.SetCookie(w, &http.Cookie{Name: cookieLogin, Value: "", Path: Path, MaxAge: -1, HttpOnly: true, Secure: h.secure(r), SameSite: http.SameSiteStrictMode})
	http.SetCookie(w, &http.Cookie{Name: cookieSession, Value: id, Path: Path, MaxAge: int(h.o.SessionTTL / time.Second),
		HttpOnly: true, Secure: h.secure(r), SameSite: http.SameSiteStrictMode})
	h.o.Log.Info("admin web: login", "token", name, "remote", r.RemoteAddr)
	http.Redirect(w, r, Path, http.StatusSeeOther)
}

// auth serves next for a logged-in browser whose token is still valid,
// and, for a POST, whose form carries the session's CSRF token; others
// go to the login form (GET) or are refused (POST).
func (h *Handler) auth(next func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var ss *session
		var id string
		if c, err := r.Cookie(cookieSession); err == nil {
			id = c.Value
			ss = h.sessions.get(id, h.now())
		}
		if ss != nil && !h.tokenLive(ss) {
			h.o.Log.Info("admin web: session ended: its token was revoked", "token", ss.tokenName, "remote", r.RemoteAddr)
			h.sessions.remove(id)
			ss = nil
		}
		if ss == nil {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, Path+"login", http.StatusSeeOther)
				return
			}
			h.o.Log.Warn("admin web: a POST without a session refused", "path", r.URL.Path, "remote", r.RemoteAddr)
			h.render(w, r, http.StatusForbidden, "error", nil, page{Title: "Refused", Error: "You are not logged in."})
			return
		}
		if r.Method == http.MethodPost && !equal(ss.csrf, r.PostFormValue("csrf")) {
			h.o.Log.Warn("admin web: a POST without the session's CSRF token refused", "path", r.URL.Path, "token", ss.tokenName, "remote", r.RemoteAddr)
			h.render(w, r, http.StatusForbidden, "error", ss, page{Title: "Refused", Error: "The form's security token is missing or wrong; reload the page and try again."})
			return
		}
		next(w, r, ss)
	}
}

// tokenLive reports whether the session's token is still stored.
func (h *Handler) tokenLive(ss *session) bool {
	if h.o.Tokens == nil {
		return false
	}
	infos, err := h.o.Tokens.List()
	if err != nil {
		h.o.Log.Error("admin web: reading the tokens", "err", err)
		return false
	}
	live := false
	for _, in := range infos {
		if equal(in.Hash, ss.tokenHash) {
			live = true
		}
	}
	return live
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request, ss *session) {
	if c, err := r.Cookie(cookieSession); err == nil {
		h.sessions.remove(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: cookieSession, Value: "", Path: Path, MaxAge: -1, HttpOnly: true, Secure: h.secure(r), SameSite: http.SameSiteStrictMode})
	h.o.Log.Info("admin web: logout", "token", ss.tokenName, "remote", r.RemoteAddr)
	http.Redirect(w, r, Path+"login", http.StatusSeeOther)
}

// ops returns the live operations, or answers 503.
func (h *Handler) ops(w http.ResponseWriter, r *http.Request, ss *session) *admin.Ops {
	var ops *admin.Ops
	if h.o.Ops != nil {
		ops = h.o.Ops()
	}
	if ops == nil {
		h.render(w, r, http.StatusServiceUnavailable, "error", ss, page{Title: "Unavailable", Error: "The live administration is not running."})
	}
	return ops
}

// done records an action's result for the next page and redirects
// there (POST, redirect, GET).
func (h *Handler) done(w http.ResponseWriter, r *http.Request, ss *session, to, action string, err error, ok string) {
	if err != nil {
		h.o.Log.Info("admin web: action failed", "action", action, "token", ss.tokenName, "err", err)
		h.sessions.setFlash(ss, flash{Text: errText(err), Error: true})
	} else {
		h.o.Log.Info("admin web: action", "action", action, "token", ss.tokenName, "result", ok)
		h.sessions.setFlash(ss, flash{Text: ok})
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// errText is an operation's error for the operator.
func errText(err error) string {
	return strings.TrimPrefix(err.Error(), "admin: ")
}

func (h *Handler) overview(w http.ResponseWriter, r *http.Request, ss *session) {
	ops := h.ops(w, r, ss)
	if ops == nil {
		return
	}
	h.render(w, r, http.StatusOK, "overview", ss, page{Title: "Overview", Nav: "overview", Data: ops.Status(r.Context())})
}

func (h *Handler) sessionsPage(w http.ResponseWriter, r *http.Request, ss *session) {
	ops := h.ops(w, r, ss)
	if ops == nil {
		return
	}
	list, err := ops.Sessions(r.Context(), "")
	p := page{Title: "Sessions", Nav: "sessions", Data: list}
	if err != nil {
		p.Error = errText(err)
	}
	h.render(w, r, http.StatusOK, "sessions", ss, p)
}

func (h *Handler) kick(w http.ResponseWriter, r *http.Request, ss *session) {
	ops := h.ops(w, r, ss)
	if ops == nil {
		return
	}
	target := r.PostFormValue("jid")
	ended, err := ops.Kick(r.Context(), target, strings.TrimSpace(r.PostFormValue("reason")))
	h.done(w, r, ss, Path+"sessions", "kick "+target, err, fmt.Sprintf("Ended %d session(s): %s", len(ended), strings.Join(ended, ", ")))
}

// domainUsers are the accounts of one domain.
type domainUsers struct {
	Domain string
	Users  []admin.User
}

func (h *Handler) users(w http.ResponseWriter, r *http.Request, ss *session) {
	ops := h.ops(w, r, ss)
	if ops == nil {
		return
	}
	p := page{Title: "Users", Nav: "users"}
	list, err := ops.ListUsers(r.Context(), "")
	if err != nil {
		p.Error = errText(err)
	}
	var groups []domainUsers
	for _, u := range list {
		_, domain, _ := strings.Cut(u.JID, "@")
		if len(groups) == 0 || groups[len(groups)-1].Domain != domain {
			groups = append(groups, domainUsers{Domain: domain})
		}
		groups[len(groups)-1].Users = append(groups[len(groups)-1].Users, u)
	}
	slices.SortStableFunc(groups, func(a, b domainUsers) int { return strings.Compare(a.Domain, b.Domain) })
	p.Data = groups
	h.render(w, r, http.StatusOK, "users", ss, p)
}

func (h *Handler) userAction(w http.ResponseWriter, r *http.Request, ss *session) {
	ops := h.ops(w, r, ss)
	if ops == nil {
		return
	}
	ctx, user, action := r.Context(), strings.TrimSpace(r.PostFormValue("jid")), r.PathValue("action")
	var err error
	var ok string
	switch action {
	case "add":
		err, ok = ops.AddUser(ctx, user, r.PostFormValue("password")), "Added "+user+"."
	case "password":
		err, ok = ops.SetPassword(ctx, user, r.PostFormValue("password")), "Set a new password for "+user+"."
	case "disable":
		ok, err = ended(ops.DisableUser(ctx, user))
		ok = "Disabled " + user + ok
	case "enable":
		err, ok = ops.EnableUser(ctx, user), "Enabled "+user+"."
	case "delete":
		if r.PostFormValue("confirm") != "yes" {
			err = errors.New("tick the confirmation box to delete " + user)
			break
		}
		ok, err = ended(ops.DeleteUser(ctx, user))
		ok = "Deleted " + user + ok
	default:
		h.render(w, r, http.StatusNotFound, "error", ss, page{Title: "Not found", Error: "There is no such action."})
		return
	}
	h.done(w, r, ss, Path+"users", action+" "+user, err, ok)
}

// ended describes the sessions an action ended.
func ended(jids []string, err error) (string, error) {
	if len(jids) == 0 {
		return ".", err
	}
	return "; ended " + strings.Join(jids, ", ") + ".", err
}

func (h *Handler) rooms(w http.ResponseWriter, r *http.Request, ss *session) {
	ops := h.ops(w, r, ss)
	if ops == nil {
		return
	}
	list, err := ops.Rooms(r.Context())
	p := page{Title: "Rooms", Nav: "rooms", Data: list}
	if err != nil {
		p.Error = errText(err)
	}
	h.render(w, r, http.StatusOK, "rooms", ss, p)
}

func (h *Handler) links(w http.ResponseWriter, r *http.Request, ss *session) {
	ops := h.ops(w, r, ss)
	if ops == nil {
		return
	}
	h.render(w, r, http.StatusOK, "links", ss, page{Title: "Server links", Nav: "links", Data: ops.Links()})
}

// logData is the log page's data.
type logData struct {
	Kept    bool
	Records []logring.Record
}

func (h *Handler) logPage(w http.ResponseWriter, r *http.Request, ss *session) {
	d := logData{Kept: h.o.Recent != nil}
	if d.Kept {
		d.Records = h.o.Recent.Records()
	}
	h.render(w, r, http.StatusOK, "log", ss, page{Title: "Warnings and errors", Nav: "log", Data: d})
}

func (h *Handler) announceForm(w http.ResponseWriter, r *http.Request, ss *session) {
	h.render(w, r, http.StatusOK, "announce", ss, page{Title: "Announce", Nav: "announce"})
}

func (h *Handler) announce(w http.ResponseWriter, r *http.Request, ss *session) {
	ops := h.ops(w, r, ss)
	if ops == nil {
		return
	}
	n, err := ops.Announce(context.WithoutCancel(r.Context()), r.PostFormValue("text"))
	h.done(w, r, ss, Path+"announce", "announce", err, fmt.Sprintf("Sent to %d session(s).", n))
}

// humanBytes writes a size in B, KiB, MiB or GiB.
func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 2; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMG"[exp])
}
