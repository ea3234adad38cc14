// Package client is the built-in web client: Converse.js (MPL-2.0),
// vendored in dist/ at a pinned release (dist/VERSION, refreshed with
// refresh.sh), embedded in the binary and served with a page of the
// server's own that connects it to this server over WebSocket.
package client

import (
	"embed"
	"encoding/json"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
)

// Path is the URL path prefix of the client's files.
const Path = "/client/"

//go:embed dist
var dist embed.FS

// Options describe the server to the page.
type Options struct {
	// Domain is the domain users log in to (the first served domain).
	Domain string
	// Domains are every served domain, for the status line.
	Domains []string
	// Version is the server's version.
	Version string
	// WebSocketPath is the path of the XMPP over WebSocket endpoint.
	WebSocketPath string
}

// Handler serves the page at / and the client's files under Path.
type Handler struct {
	page   []byte
	init   []byte
	assets http.Handler
}

var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Parley · {{.Domain}}</title>
<link rel="icon" href="/client/images/favicon.ico">
<link rel="stylesheet" href="/client/converse.min.css">
<script type="module" src="/client/converse.min.js"></script>
<style>#parley-status{position:fixed;bottom:0;left:0;right:0;z-index:10000;font:12px sans-serif;padding:2px 8px;background:#f3f3f3;color:#333;border-top:1px solid #ddd}</style>
</head>
<body class="converse-fullscreen">
<noscript>This chat client needs JavaScript. Any XMPP client works too: see below.</noscript>
<div id="parley-status">Parley {{.Version}} serving {{.DomainList}}. Log in with your account; other XMPP clients connect to {{.Domain}} (port 5222, or 5223 with direct TLS).</div>
<script type="module" src="/client/parley-init.js"></script>
</body>
</html>
`))

// New returns the handler.
func New(o Options) (*Handler, error) {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		return nil, err
	}
	var page strings.Builder
	if err := pageTemplate.Execute(&page, struct {
		Options
		DomainList string
	}{o, strings.Join(o.Domains, ", ")}); err != nil {
		return nil, err
	}
	cfg, err := json.Marshal(map[string]any{
		"assets_path":                 Path,
		"view_mode":                   "fullscreen",
		"locked_domain":               o.Domain,
		"i18n":                        "en",
		"allow_registration":          false,
		"discover_connection_methods": false,
		"auto_reconnect":              true,
		"play_sounds":                 false,
	})
	if err != nil {
		return nil, err
	}
	init := "(function(){var c=" + string(cfg) + ";c.websocket_url=(location.protocol==='https:'?'wss://':'ws://')+location.host+" +
		jsString(o.WebSocketPath) + ";converse.initialize(c);})();\n"
	return &Handler{page: []byte(page.String()), init: []byte(init), assets: http.StripPrefix(Path, http.FileServerFS(sub))}, nil
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// ServeHTTP serves the page, its start-up script and the client's files.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Referrer-Policy", "no-referrer")
	switch {
	case r.URL.Path == "/":
		hdr.Set("Content-Type", "text/html; charset=utf-8")
		hdr.Set("Cache-Control", "no-cache")
		w.Write(h.page)
	case r.URL.Path == Path+"parley-init.js":
		hdr.Set("Content-Type", "text/javascript; charset=utf-8")
		hdr.Set("Cache-Control", "no-cache")
		w.Write(h.init)
	case strings.HasPrefix(r.URL.Path, Path) && !strings.HasSuffix(r.URL.Path, "/"):
		h.assets.ServeHTTP(w, r)
	default:
		http.NotFound(w, r)
	}
}
