// Package upload stores the files of HTTP File Upload (XEP-0363) and
// serves them: a slot is granted over XMPP (NewSlot), the file is PUT once
// with the slot's secret, then anyone who knows the URL may GET it until
// it expires.
//
// Files live under one folder, each in a folder named by its random slot
// ID ("data" and "meta.json" inside); nothing of a request's path but a
// validated ID ever reaches the file system, so no path can escape it.
package upload

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// Path is the URL path prefix of uploaded files.
const Path = "/upload/"

// Defaults of Options.
const (
	DefaultMaxFileSize = 100 << 20
	DefaultQuota       = 1 << 30
	DefaultRetention   = 30 * 24 * time.Hour
	DefaultSlotTTL     = 5 * time.Minute
	// maxPending bounds the slots granted and not yet used, per owner
	// and overall.
	maxPendingPerOwner = 20
	maxPending         = 10000
	maxNameBytes       = 200
)

// Errors of NewSlot.
var (
	// ErrTooLarge: the file is larger than Options.MaxFileSize.
	ErrTooLarge = errors.New("upload: file too large")
	// ErrQuota: the owner's files (and pending slots) would exceed the
	// quota.
	ErrQuota = errors.New("upload: quota exceeded")
	// ErrBusy: too many slots granted and not used.
	ErrBusy = errors.New("upload: too many pending uploads")
)

// Options configure a Store.
type Options struct {
	// Dir holds the files; created if missing.
	Dir string
	// BaseURL is the public URL of the HTTP server, e.g.
	// "https://example.org:5443", which the slots' URLs start with.
	BaseURL string
	// MaxFileSize bounds one file. 0 means DefaultMaxFileSize.
	MaxFileSize int64
	// Quota bounds the bytes one owner's files take. 0 means
	// DefaultQuota.
	Quota int64
	// Retention is how long a file is kept. 0 means DefaultRetention.
	Retention time.Duration
	// SlotTTL is how long a slot's PUT URL is valid. 0 means
	// DefaultSlotTTL.
	SlotTTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log receives the store's log lines.
	Log *slog.Logger
}

// meta describes a stored file.
type meta struct {
	Owner   string    `json:"owner"`
	Name    string    `json:"name"`
	Size    int64     `json:"size"`
	Type    string    `json:"type"`
	Created time.Time `json:"created"`
}

// slot is a granted upload, not yet used.
type slot struct {
	meta
	secret  string
	expires time.Time
}

// Store grants slots, stores and serves files. Its methods are safe for
// concurrent use.
type Store struct {
	opts Options

	mu      sync.Mutex
	slots   map[string]*slot // by ID
	pending map[string]int   // slots per owner
	usage   map[string]int64 // bytes of stored files and pending slots, per owner
}

// New returns a store for o; Open prepares its folder.
func New(o Options) *Store {
	if o.MaxFileSize <= 0 {
		o.MaxFileSize = DefaultMaxFileSize
	}
	if o.Quota <= 0 {
		o.Quota = DefaultQuota
	}
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	if o.SlotTTL <= 0 {
		o.SlotTTL = DefaultSlotTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	o.BaseURL = strings.TrimSuffix(o.BaseURL, "/")
	return &Store{opts: o, slots: map[string]*slot{}, pending: map[string]int{}, usage: map[string]int64{}}
}

// Open creates the store's folder if missing and counts what each owner's
// files take. Call it once, before anything else.
func (s *Store) Open() error {
	if err := os.MkdirAll(s.opts.Dir, 0o700); err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	entries, err := os.ReadDir(s.opts.Dir)
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range entries {
		if m, err := s.readMeta(e.Name()); err == nil {
			s.usage[m.Owner] += m.Size
		}
	}
	return nil
}

// Options returns the store's options, defaults applied.
func (s *Store) Options() Options { return s.opts }

// MaxFileSize is the largest file a slot is granted for.
func (s *Store) MaxFileSize() int64 { return s.opts.MaxFileSize }

// Slot is a granted upload's URLs.
type Slot struct {
	// Put is where the file is PUT, once, within the slot's lifetime.
	Put string
	// Get is where it is served afterwards.
	Get string
}

// NewSlot grants owner (a bare JID) the upload of a file: its name, size
// in bytes and optional content type. Errors: ErrTooLarge, ErrQuota,
// ErrBusy, or one for a bad name or size.
func (s *Store) NewSlot(owner, name string, size int64, ctype string) (Slot, error) {
	switch {
	case size <= 0:
		return Slot{}, errors.New("upload: the size must be positive")
	case size > s.opts.MaxFileSize:
		return Slot{}, ErrTooLarge
	}
	name = cleanName(name)
	if name == "" {
		return Slot{}, errors.New("upload: no usable file name")
	}
	if ctype != "" {
		if _, _, err := mime.ParseMediaType(ctype); err != nil || strings.ContainsAny(ctype, "\r\n") {
			return Slot{}, errors.New("upload: invalid content type")
		}
	}
	id, secret := randomID(), randomID()
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireSlots(now)
	switch {
	case len(s.slots) >= maxPending || s.pending[owner] >= maxPendingPerOwner:
		return Slot{}, ErrBusy
	case s.usage[owner]+size > s.opts.Quota:
		return Slot{}, ErrQuota
	}
	s.slots[id] = &slot{meta: meta{Owner: owner, Name: name, Size: size, Type: ctype, Created: now}, secret: secret, expires: now.Add(s.opts.SlotTTL)}
	s.pending[owner]++
	s.usage[owner] += size
	get := s.opts.BaseURL + Path + id + "/" + url.PathEscape(name)
	return Slot{Put: get + "?v=" + secret, Get: get}, nil
}

// expireSlots forgets slots past their lifetime; s.mu is held.
func (s *Store) expireSlots(now time.Time) {
	for id, sl := range s.slots {
		if now.After(sl.expires) {
			s.dropSlot(id, sl)
		}
	}
}

func (s *Store) dropSlot(id string, sl *slot) {
	delete(s.slots, id)
	s.pending[sl.Owner]--
	if s.pending[sl.Owner] <= 0 {
		delete(s.pending, sl.Owner)
	}
	s.usage[sl.Owner] -= sl.Size
}

// cleanName keeps a file name's letters, digits and punctuation, without
// path separators or control characters, at most maxNameBytes long with
// its extension kept.
func cleanName(name string) string {
	name = strings.Map(func(r rune) rune {
		switch {
		case r == '/' || r == '\\' || r == 0 || !unicode.IsPrint(r):
			return '_'
		}
		return r
	}, name)
	name = strings.Trim(name, ". ")
	if len(name) > maxNameBytes {
		ext := filepath.Ext(name)
		if len(ext) > 20 {
			ext = ""
		}
		cut := maxNameBytes - len(ext)
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		name = name[:cut] + ext
	}
	return name
}

func randomID() string {
	b := make([]byte, 18)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// logID is how the log names a file: the start of its id, enough to tell
// files apart and find one in the upload folder, but not the whole id,
// which is in the download URL and lets anyone who has it fetch the file.
func logID(id string) string {
	if len(id) > 8 {
		return id[:8] + "…"
	}
	return id
}

// validID reports whether id could be one of ours: the only part of a
// request path that reaches the file system.
func validID(id string) bool {
	if len(id) != 24 {
		return false
	}
	for _, c := range []byte(id) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func (s *Store) readMeta(id string) (meta, error) {
	var m meta
	if !validID(id) {
		return m, os.ErrNotExist
	}
	b, err := os.ReadFile(filepath.Join(s.opts.Dir, id, "meta.json"))
	if err != nil {
		return m, err
	}
	return m, json.Unmarshal(b, &m)
}

// ServeHTTP serves PUT, GET, HEAD and OPTIONS under Path.
func (s *Store) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cors(w)
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), Path)
	id, escName, ok2 := strings.Cut(rest, "/")
	name, err := url.PathUnescape(escName)
	if !ok || !ok2 || err != nil || !validID(id) || strings.Contains(escName, "/") {
		http.NotFound(w, r)
		return
	}
	switch r.Method {
	case http.MethodOptions:
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPut:
		s.put(w, r, id, name)
	case http.MethodGet, http.MethodHead:
		s.get(w, r, id, name)
	default:
		w.Header().Set("Allow", "GET, HEAD, PUT, OPTIONS")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func cors(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "OPTIONS, HEAD, GET, PUT")
	h.Set("Access-Control-Allow-Headers", "Content-Type")
}

// put stores the file of slot id, once, with the slot's secret, exactly
// the announced size and type.
func (s *Store) put(w http.ResponseWriter, r *http.Request, id, name string) {
	now := s.opts.Now()
	s.mu.Lock()
	sl := s.slots[id]
	if sl == nil || now.After(sl.expires) || sl.Name != name ||
		subtle.ConstantTimeCompare([]byte(r.URL.Query().Get("v")), []byte(sl.secret)) != 1 {
		s.mu.Unlock()
		http.Error(w, "no such upload slot, or it expired or was used", http.StatusForbidden)
		return
	}
	// The slot is used now, whatever the outcome: a secret works once.
	delete(s.slots, id)
	if s.pending[sl.Owner]--; s.pending[sl.Owner] <= 0 {
		delete(s.pending, sl.Owner)
	}
	s.mu.Unlock()
	stored := false
	defer func() {
		if !stored {
			s.mu.Lock()
			s.usage[sl.Owner] -= sl.Size
			s.mu.Unlock()
		}
	}()
	if r.ContentLength != sl.Size {
		http.Error(w, "Content-Length must be the size of the slot ("+strconv.FormatInt(sl.Size, 10)+")", http.StatusBadRequest)
		return
	}
	if sl.Type != "" && !sameType(r.Header.Get("Content-Type"), sl.Type) {
		http.Error(w, "Content-Type must be the slot's ("+sl.Type+")", http.StatusBadRequest)
		return
	}
	// A body that trickles in must not hold the connection for ever:
	// allow a minute plus 64 KiB/s.
	http.NewResponseController(w).SetReadDeadline(time.Now().Add(time.Minute + time.Duration(sl.Size/(64<<10))*time.Second))
	dir := filepath.Join(s.opts.Dir, id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		http.Error(w, "cannot store the file", http.StatusInternalServerError)
		return
	}
	if err := s.write(dir, r.Body, sl); err != nil {
		os.RemoveAll(dir)
		s.opts.Log.Info("upload: PUT failed", "id", logID(id), "owner", sl.Owner, "err", err)
		http.Error(w, "upload incomplete", http.StatusBadRequest)
		return
	}
	stored = true
	s.opts.Log.Info("upload: file stored", "id", logID(id), "owner", sl.Owner, "size", sl.Size)
	w.WriteHeader(http.StatusCreated)
}

func sameType(got, want string) bool {
	g, _, err1 := mime.ParseMediaType(got)
	w, _, err2 := mime.ParseMediaType(want)
	return err1 == nil && err2 == nil && g == w
}

// write copies exactly sl.Size bytes of body into dir/data, then the
// metadata.
func (s *Store) write(dir string, body io.Reader, sl *slot) error {
	f, err := os.OpenFile(filepath.Join(dir, "data"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, io.LimitReader(body, sl.Size+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if n != sl.Size {
		return fmt.Errorf("%d bytes received, %d announced", n, sl.Size)
	}
	m := sl.meta
	if m.Type == "" {
		m.Type = "application/octet-stream"
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "meta.json"), b, 0o600)
}

// active reports whether a browser would run or render a type as a
// document of the server's origin: such files are served as attachments.
func active(mediaType string) bool {
	switch mediaType {
	case "text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml",
		"text/javascript", "application/javascript", "application/ecmascript", "text/ecmascript", "application/pdf":
		return true
	}
	return false
}

// get serves a stored file with headers that keep it inert.
func (s *Store) get(w http.ResponseWriter, r *http.Request, id, name string) {
	m, err := s.readMeta(id)
	if err != nil || m.Name != name {
		http.NotFound(w, r)
		return
	}
	if s.opts.Now().After(m.Created.Add(s.opts.Retention)) {
		s.remove(id, m)
		http.NotFound(w, r)
		return
	}
	f, err := os.Open(filepath.Join(s.opts.Dir, id, "data"))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	h := w.Header()
	mt, _, _ := mime.ParseMediaType(m.Type)
	h.Set("Content-Type", m.Type)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; sandbox")
	h.Set("Cache-Control", "public, max-age=86400, immutable")
	if active(mt) || !strings.Contains(mt, "/") {
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": m.Name}))
	}
	http.ServeContent(w, r, "", m.Created, f)
}

// remove deletes a stored file and its accounting.
func (s *Store) remove(id string, m meta) {
	if err := os.RemoveAll(filepath.Join(s.opts.Dir, id)); err != nil {
		s.opts.Log.Warn("upload: cannot delete an expired file", "id", logID(id), "err", err)
		return
	}
	s.mu.Lock()
	s.usage[m.Owner] -= m.Size
	if s.usage[m.Owner] <= 0 {
		delete(s.usage, m.Owner)
	}
	s.mu.Unlock()
}

// Purge deletes the files stored before before; it returns how many.
func (s *Store) Purge(before time.Time) (int, error) {
	entries, err := os.ReadDir(s.opts.Dir)
	if err != nil {
		return 0, fmt.Errorf("upload: %w", err)
	}
	n := 0
	for _, e := range entries {
		m, err := s.readMeta(e.Name())
		if err != nil || !m.Created.Before(before) {
			continue
		}
		s.remove(e.Name(), m)
		n++
	}
	return n, nil
}

// Run deletes expired files every interval until ctx ends.
func (s *Store) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := s.Purge(s.opts.Now().Add(-s.opts.Retention)); err != nil {
			s.opts.Log.Warn("upload: purge", "err", err)
		} else if n > 0 {
			s.opts.Log.Info("upload: expired files deleted", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
