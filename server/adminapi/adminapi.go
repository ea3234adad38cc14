// Package adminapi is the admin HTTP API: the operations of a running
// server (server/admin) as JSON endpoints under /api/, mounted on the
// admin HTTP server (server/adminhttp) behind its bearer-token check.
// docs/admin-api.md describes the endpoints and docs/admin-api.yaml is
// their OpenAPI description; Routes lists them.
package adminapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/parley-xmpp/parley/server/admin"
	"github.com/parley-xmpp/parley/server/adminhttp"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// DefaultMaxBody is the default limit of a request body in bytes.
const DefaultMaxBody = 64 << 10

// Options configure the API.
type Options struct {
	// Ops returns the operations of the running server; nil (or a nil
	// result, before the server has started them) answers 503.
	Ops func() *admin.Ops
	// MaxBody limits a request body in bytes (larger: 413);
	// 0: DefaultMaxBody.
	MaxBody int64
	// Log receives a line per request (method, path, status, token
	// name, remote address, duration; never a body).
	Log *slog.Logger
}

// Mounter is where the endpoints mount: adminhttp.Server.HandleAPI.
type Mounter interface {
	HandleAPI(pattern string, h http.Handler)
}

// Routes are the ServeMux patterns of the API's endpoints, in the order
// docs/admin-api.md lists them.
var Routes = []string{
	"GET /api/status",
	"GET /api/sessions",
	"POST /api/sessions/kick",
	"GET /api/users",
	"POST /api/users",
	"PUT /api/users/{jid}/password",
	"DELETE /api/users/{jid}",
	"POST /api/users/{jid}/disable",
	"POST /api/users/{jid}/enable",
	"GET /api/rooms",
	"GET /api/links",
	"POST /api/announce",
	"GET /api/log-level",
	"PUT /api/log-level",
	"POST /api/reload",
}

// api serves the endpoints.
type api struct {
	opts Options
}

// handler runs one operation: it returns the status and the value to
// encode as the response body (nil with 204), or an error.
type handler func(r *http.Request, ops *admin.Ops) (int, any, error)

// Mount mounts every endpoint of Routes on m.
func Mount(m Mounter, opts Options) {
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	a := &api{opts: opts}
	handlers := map[string]handler{
		"GET /api/status":               a.status,
		"GET /api/sessions":             a.sessions,
		"POST /api/sessions/kick":       a.kick,
		"GET /api/users":                a.users,
		"POST /api/users":               a.addUser,
		"PUT /api/users/{jid}/password": a.setPassword,
		"DELETE /api/users/{jid}":       a.deleteUser,
		"POST /api/users/{jid}/disable": a.disableUser,
		"POST /api/users/{jid}/enable":  a.enableUser,
		"GET /api/rooms":                a.rooms,
		"GET /api/links":                a.links,
		"POST /api/announce":            a.announce,
		"GET /api/log-level":            a.logLevels,
		"PUT /api/log-level":            a.setLogLevel,
		"POST /api/reload":              a.reload,
	}
	allow := map[string][]string{} // path: its methods
	var paths []string
	for _, pattern := range Routes {
		m.HandleAPI(pattern, a.serve(handlers[pattern]))
		method, path, _ := strings.Cut(pattern, " ")
		if allow[path] == nil {
			paths = append(paths, path)
		}
		allow[path] = append(allow[path], method)
	}
	// Another method on a path of the API: 405 with the methods it takes
	// (the ServeMux would send it to the catch-all 404).
	for _, path := range paths {
		methods := strings.Join(allow[path], ", ")
		m.HandleAPI(path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", methods)
			adminhttp.WriteError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" "+r.URL.Path+": the path takes "+methods)
			a.opts.Log.Info("admin api: request", "method", r.Method, "path", r.URL.Path, "status", http.StatusMethodNotAllowed,
				"token", adminhttp.TokenName(r.Context()), "remote", r.RemoteAddr)
		}))
	}
}

// serve wraps h: it finds the operations, maps errors to status codes,
// encodes the result and logs the request.
func (a *api) serve(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		status, code := a.run(w, r, h)
		attrs := []any{"method", r.Method, "path", r.URL.Path, "status", status,
			"token", adminhttp.TokenName(r.Context()), "remote", r.RemoteAddr, "duration", time.Since(start).Round(time.Microsecond)}
		if code != "" {
			attrs = append(attrs, "error", code)
		}
		if status >= http.StatusInternalServerError && status != http.StatusServiceUnavailable {
			a.opts.Log.Error("admin api: request failed", attrs...)
			return
		}
		a.opts.Log.Info("admin api: request", attrs...)
	})
}

// run answers r with h and returns the status and error code sent.
func (a *api) run(w http.ResponseWriter, r *http.Request, h handler) (int, string) {
	var ops *admin.Ops
	if a.opts.Ops != nil {
		ops = a.opts.Ops()
	}
	if ops == nil {
		return fail(w, http.StatusServiceUnavailable, "unavailable", "the server's operations are not running (starting, or live administration is off)")
	}
	r.Body = http.MaxBytesReader(w, r.Body, a.opts.MaxBody)
	status, v, err := h(r, ops)
	if err != nil {
		var be *bodyError
		if errors.As(err, &be) {
			return fail(w, be.status, be.code, be.Error())
		}
		status, code := classify(err)
		msg := err.Error()
		if status == http.StatusInternalServerError {
			a.opts.Log.Error("admin api: operation failed", "method", r.Method, "path", r.URL.Path, "err", err)
			msg = "the operation failed; the server's log says why"
		}
		return fail(w, status, code, msg)
	}
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return status, ""
	}
	adminhttp.WriteJSON(w, status, v)
	return status, ""
}

func fail(w http.ResponseWriter, status int, code, msg string) (int, string) {
	adminhttp.WriteError(w, status, code, msg)
	return status, code
}

// classify maps the errors of admin.Ops to a status and an error code.
func classify(err error) (int, string) {
	switch {
	case errors.Is(err, admin.ErrInvalid):
		return http.StatusBadRequest, "invalid"
	case errors.Is(err, admin.ErrNoAccount):
		return http.StatusNotFound, "no_account"
	case errors.Is(err, admin.ErrAccountExists):
		return http.StatusConflict, "exists"
	case errors.Is(err, admin.ErrUnavailable):
		return http.StatusServiceUnavailable, "unavailable"
	}
	return http.StatusInternalServerError, "internal"
}

// bodyError is a request body the API refuses.
type bodyError struct {
	status int
	code   string
	msg    string
}

func (e *bodyError) Error() string { return e.msg }

// decode reads r's body, which must be one JSON object of v's fields
// with Content-Type application/json, into v.
func decode(r *http.Request, v any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return &bodyError{http.StatusUnsupportedMediaType, "unsupported_media_type", "the body must be JSON (Content-Type: application/json)"}
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return &bodyError{http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the body exceeds %d bytes", tooLarge.Limit)}
		}
		return &bodyError{http.StatusBadRequest, "invalid", "the body is not the JSON object expected: " + err.Error()}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &bodyError{http.StatusBadRequest, "invalid", "the body has more than one JSON value"}
	}
	return nil
}

// Ended lists the sessions an operation ended (kick, delete, disable).
type Ended struct {
	Ended []string `json:"ended"`
}

// Sent is the number of sessions an announcement went to.
type Sent struct {
	Sessions int `json:"sessions"`
}

func (a *api) status(r *http.Request, ops *admin.Ops) (int, any, error) {
	return http.StatusOK, ops.Status(r.Context()), nil
}

func (a *api) sessions(r *http.Request, ops *admin.Ops) (int, any, error) {
	ss, err := ops.Sessions(r.Context(), r.URL.Query().Get("domain"))
	return http.StatusOK, ss, err
}

func (a *api) kick(r *http.Request, ops *admin.Ops) (int, any, error) {
	var in struct {
		JID    string `json:"jid"`
		Reason string `json:"reason"`
	}
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	ended, err := ops.Kick(r.Context(), in.JID, in.Reason)
	return http.StatusOK, Ended{ended}, err
}

func (a *api) users(r *http.Request, ops *admin.Ops) (int, any, error) {
	us, err := ops.ListUsers(r.Context(), r.URL.Query().Get("domain"))
	return http.StatusOK, us, err
}

func (a *api) addUser(r *http.Request, ops *admin.Ops) (int, any, error) {
	var in struct {
		JID      string `json:"jid"`
		Password string `json:"password"`
	}
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	if err := ops.AddUser(r.Context(), in.JID, in.Password); err != nil {
		return 0, nil, err
	}
	created := in.JID
	if j, err := jid.Parse(in.JID); err == nil { // it parsed in AddUser
		created = j.String()
	}
	return http.StatusCreated, admin.User{JID: created}, nil
}

func (a *api) setPassword(r *http.Request, ops *admin.Ops) (int, any, error) {
	var in struct {
		Password string `json:"password"`
	}
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, ops.SetPassword(r.Context(), r.PathValue("jid"), in.Password)
}

func (a *api) deleteUser(r *http.Request, ops *admin.Ops) (int, any, error) {
	ended, err := ops.DeleteUser(r.Context(), r.PathValue("jid"))
	return http.StatusOK, Ended{ended}, err
}

func (a *api) disableUser(r *http.Request, ops *admin.Ops) (int, any, error) {
	ended, err := ops.DisableUser(r.Context(), r.PathValue("jid"))
	return http.StatusOK, Ended{ended}, err
}

func (a *api) enableUser(r *http.Request, ops *admin.Ops) (int, any, error) {
	return http.StatusNoContent, nil, ops.EnableUser(r.Context(), r.PathValue("jid"))
}

func (a *api) rooms(r *http.Request, ops *admin.Ops) (int, any, error) {
	rs, err := ops.Rooms(r.Context())
	return http.StatusOK, rs, err
}

func (a *api) links(_ *http.Request, ops *admin.Ops) (int, any, error) {
	return http.StatusOK, ops.Links(), nil
}

func (a *api) announce(r *http.Request, ops *admin.Ops) (int, any, error) {
	var in struct {
		Text string `json:"text"`
	}
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	n, err := ops.Announce(r.Context(), in.Text)
	return http.StatusOK, Sent{n}, err
}

func (a *api) logLevels(_ *http.Request, ops *admin.Ops) (int, any, error) {
	return http.StatusOK, ops.LogLevels(), nil
}

func (a *api) setLogLevel(r *http.Request, ops *admin.Ops) (int, any, error) {
	var in struct {
		Module string `json:"module"`
		Level  string `json:"level"`
	}
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	lv, err := ops.SetLogLevel(r.Context(), in.Module, in.Level)
	return http.StatusOK, lv, err
}

func (a *api) reload(r *http.Request, ops *admin.Ops) (int, any, error) {
	rep, err := ops.Reload(r.Context())
	return http.StatusOK, rep, err
}
