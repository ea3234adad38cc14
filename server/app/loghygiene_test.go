package app_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/mod/upload"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/muc"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// lockedBuffer is a log destination that handlers write to from many
// goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func distinct(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b)
}

// TestLogHygiene runs a representative session on a server logging at
// info level, then at debug level, and looks for its secrets in the log:
// the passwords of a SCRAM, a PLAIN and a failed login (and the PLAIN
// message as it travels, base64), the FAST token issued at a SASL2 login
// and then used to log in, the secret of an upload slot, the file's
// download URL (whose id lets anyone fetch it) and the file, the
// body of a chat message and of a groupchat message. None may appear at
// either level: passwords, tokens and upload secrets never, and message
// bodies neither, since no log line carries a stanza's content (a stanza
// trace at debug level, should one be added, would have to redact SASL
// and change this test deliberately). The log must show the session
// happened: logins, the slot, the upload.
func TestLogHygiene(t *testing.T) {
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelDebug} {
		t.Run(level.String(), func(t *testing.T) { logHygiene(t, level) })
	}
}

func logHygiene(t *testing.T, level slog.Level) {
	var logged lockedBuffer
	secrets := map[string]string{}
	// Registered before the server, this runs after the server stopped
	// (cleanups run last first), so that the shutdown's lines count too.
	t.Cleanup(func() {
		out := logged.String()
		for what, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("the log at level %s holds the %s %q:\n%s", level, what, s, out)
			}
		}
		// Each of these lines, by its parts.
		for _, want := range [][]string{
			{`msg="c2s: authenticated"`, "user=alice@localhost", "mechanism=SCRAM-SHA-"},
			{`msg="c2s: FAST token issued"`, "user=alice@localhost"},
			{`msg="c2s: authenticated"`, "user=alice@localhost", "mechanism=HT-SHA-256"},
			{`msg="c2s: authentication failed"`, "mechanism=PLAIN", "user=bob@localhost", "guess=true"},
			{`msg="c2s: authenticated"`, "user=bob@localhost", "mechanism=PLAIN"},
			{`msg="upload: slot granted"`, "user=bob@localhost"},
			{`msg="upload: file stored"`, "owner=bob@localhost"},
		} {
			if !slices.ContainsFunc(strings.Split(out, "\n"), func(line string) bool {
				return !slices.ContainsFunc(want, func(part string) bool { return !strings.Contains(line, part) })
			}) {
				t.Errorf("the log at level %s lacks a line with %q:\n%s", level, want, out)
			}
		}
		if level == slog.LevelDebug && !strings.Contains(out, "level=DEBUG") {
			t.Errorf("no debug line in the debug log:\n%s", out)
		}
		if level == slog.LevelInfo && strings.Contains(out, "level=DEBUG") {
			t.Errorf("debug lines in the info log")
		}
	})
	log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: level}))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpAddr := ln.Addr().String()
	ln.Close()
	s := xmpptest.NewServerWithLog(t, log, func(c *config.Config) {
		c.Auth.AllowPlain = true
		c.Listeners = append(c.Listeners, config.Listener{Type: config.ListenerHTTP, Address: httpAddr})
		c.Modules.SetSection("upload", map[string]any{"base_url": "http://" + httpAddr})
	})
	alicePW, bobPW, wrongPW := distinct(t, "alice-pw-"), distinct(t, "bob-pw-"), distinct(t, "wrong-pw-")
	secrets["password of alice"], secrets["password of bob"], secrets["wrong password"] = alicePW, bobPW, wrongPW
	secrets["PLAIN message of bob"] = base64.StdEncoding.EncodeToString([]byte("\x00bob\x00" + bobPW))
	secrets["wrong PLAIN message"] = base64.StdEncoding.EncodeToString([]byte("\x00bob\x00" + wrongPW))
	s.AddUser(t, "alice", alicePW)
	s.AddUser(t, "bob", bobPW)

	// SCRAM over SASL2, asking for a FAST token; then a login with it.
	ua := &client.UserAgent{ID: "5e1a6f0c-88b2-4c57-9d2a-2f4c3b1a0e77", Software: "LogHygiene"}
	cfg := s.ClientConfig(t, "alice", alicePW, "")
	cfg.SASL2, cfg.RequestFastToken, cfg.UserAgent = true, true, ua
	alice := s.Dial(t, cfg)
	tok := alice.FastToken()
	if tok == nil {
		t.Fatal("no FAST token issued")
	}
	secrets["FAST token"] = tok.Token
	secrets["FAST token, base64"] = base64.StdEncoding.EncodeToString([]byte(tok.Token))
	cfg = s.ClientConfig(t, "alice", "", "")
	cfg.SASL2, cfg.UserAgent, cfg.FastToken = true, ua, tok
	// The same user agent: this session replaces the first.
	alice = s.Dial(t, cfg)

	// PLAIN, a wrong password first.
	cfg = s.ClientConfig(t, "bob", wrongPW, "phone")
	cfg.Mechanism = "PLAIN"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if c, err := client.Dial(ctx, cfg); err == nil {
		c.Close()
		t.Fatal("login with a wrong password succeeded")
	}
	cfg.Password = bobPW
	bob := s.Dial(t, cfg)

	// A chat message.
	body := distinct(t, "chat-body-")
	secrets["chat body"] = body
	xmpptest.Send(t, alice, stanza.NewMessage(stanza.TypeChat, bob.JID().String(), body))
	if got := xmpptest.NextMessage(t, bob); got.ChildText(stanza.NSClient, "body") != body {
		t.Fatalf("bob got %s", got)
	}

	// A groupchat message in a room alice creates and bob joins.
	room := "hygiene@conference." + s.Domain()
	joinRoom := func(c *client.Client, nick string) {
		t.Helper()
		occ := jid.MustParse(room + "/" + nick)
		xmpptest.Send(t, c, muc.Join(occ, "", nil))
		xmpptest.Expect(t, c, "self-presence", func(st *stanza.Element) bool {
			return stanza.KindOf(st) == stanza.KindPresence && st.From() == occ.String()
		})
	}
	joinRoom(alice, "alice")
	instant := stanza.New(muc.NSOwner, "query").Append((&form.Form{Type: form.TypeSubmit}).Element())
	if res, err := alice.SendIQ(ctx, stanza.NewIQ(stanza.TypeSet, "", room, instant)); err != nil || res.Type() != stanza.TypeResult {
		t.Fatalf("configuring the room: %v %v", res, err)
	}
	joinRoom(bob, "bob")
	mucBody := distinct(t, "groupchat-body-")
	secrets["groupchat body"] = mucBody
	xmpptest.Send(t, alice, stanza.NewMessage(stanza.TypeGroupchat, room, mucBody))
	xmpptest.Expect(t, bob, "the groupchat message", func(st *stanza.Element) bool {
		return st.ChildText(stanza.NSClient, "body") == mucBody
	})

	// An upload: the slot's secret and the file.
	file := distinct(t, "file-content-")
	secrets["uploaded file"] = file
	req := stanza.New(upload.NS, "request", "filename", "notes.txt", "size", strconv.Itoa(len(file)), "content-type", "text/plain")
	res, err := bob.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", "upload."+s.Domain(), req))
	if err != nil {
		t.Fatalf("upload slot: %v", err)
	}
	slot := res.Child(upload.NS, "slot")
	put, get := slot.Child(upload.NS, "put").Get("url"), slot.Child(upload.NS, "get").Get("url")
	pu, err := url.Parse(put)
	if err != nil || pu.Query().Get("v") == "" {
		t.Fatalf("PUT URL %q: %v", put, err)
	}
	secrets["upload secret"] = pu.Query().Get("v")
	// The download URL lets anyone fetch the file: its id stays out too.
	parts := strings.Split(pu.Path, "/")
	secrets["download URL"] = get
	secrets["file id of the download URL"] = parts[len(parts)-2]
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPut, put, strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	hreq.Header.Set("Content-Type", "text/plain")
	resp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %s", resp.Status)
	}
	resp, err = http.Get(get)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != file {
		t.Fatalf("GET: %q", got)
	}
}
