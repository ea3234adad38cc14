// Package socket serves the operations of server/admin on a Unix socket
// in the data folder, for the parley command on the same machine, and is
// that command's client.
//
// The protocol is JSON lines: a client writes one request per line,
//
//	{"op":"kick","args":{"jid":"alice@example.org","reason":"spam"}}
//
// and reads one response per line, in order:
//
//	{"ok":true,"result":["alice@example.org/phone"]}
//	{"ok":false,"error":"admin: ...","code":"invalid"}
//
// The socket is the owner's only (mode 0600) and is not created when the
// data folder is writable by its group or by others.
package socket

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/parley-xmpp/parley/server/admin"
)

// Name is the socket's file name in the data folder.
const Name = "admin.sock"

// MaxRequestBytes bounds one request line.
const MaxRequestBytes = 64 << 10

// MaxConns bounds the connections served at once; one more is answered
// with an error and closed.
const MaxConns = 16

// idleTimeout ends a connection that sends no request for this long.
const idleTimeout = 5 * time.Minute

// Path returns the socket's path in the data folder dataDir.
func Path(dataDir string) string { return filepath.Join(dataDir, Name) }

// Request is one request line.
type Request struct {
	// Op names the operation (see Handle).
	Op string `json:"op"`
	// Args are the operation's arguments.
	Args json.RawMessage `json:"args,omitempty"`
}

// Response is one response line.
type Response struct {
	OK     bool            `json:"ok"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  string          `json:"error,omitempty"`
	// Code classifies an error: invalid, unavailable, no_account,
	// exists, unknown_op or internal.
	Code string `json:"code,omitempty"`
}

// Listen creates the admin socket in dataDir, mode 0600. It refuses when
// dataDir is writable by its group or others (anyone who may replace the
// socket could impersonate the server to the parley command), and when
// another server answers on the socket already; a stale socket file is
// replaced.
func Listen(dataDir string) (net.Listener, error) {
	fi, err := os.Stat(dataDir)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return nil, fmt.Errorf("admin socket: not created: the data folder %s is writable by its group or others (mode %04o); run chmod go-w %s", dataDir, perm, dataDir)
	}
	path := Path(dataDir)
	if st, err := os.Lstat(path); err == nil {
		if st.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("admin socket: %s exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("admin socket: %s: another server is running on this data folder", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("admin socket: removing the stale %s: %w", path, err)
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	return ln, nil
}

// Server serves requests on admin sockets.
type Server struct {
	ops   *admin.Ops
	log   *slog.Logger
	wg    sync.WaitGroup
	slots chan struct{} // one per connection served (MaxConns)
}

// NewServer returns a server of ops.
func NewServer(ops *admin.Ops, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{ops: ops, log: log, slots: make(chan struct{}, MaxConns)}
}

// Serve accepts connections on ln until ctx ends, then closes ln (which
// removes the socket file) and waits for the connections being served.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	defer s.wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("admin socket: %w", err)
		}
		select {
		case s.slots <- struct{}{}:
		default:
			s.log.Warn("admin socket: too many connections", "max", MaxConns)
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			_ = json.NewEncoder(c).Encode(Response{Error: fmt.Sprintf("admin socket: more than %d connections at once", MaxConns), Code: "unavailable"})
			c.Close()
			continue
		}
		s.wg.Go(func() {
			defer func() { <-s.slots }()
			s.serve(ctx, c)
		})
	}
}

func (s *Server) serve(ctx context.Context, c net.Conn) {
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 0, 4096), MaxRequestBytes)
	enc := json.NewEncoder(c)
	for {
		_ = c.SetReadDeadline(time.Now().Add(idleTimeout))
		if !sc.Scan() {
			if err := sc.Err(); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() == nil {
				s.log.Warn("admin socket: bad request", "err", err)
				_ = enc.Encode(Response{Error: "admin socket: " + err.Error(), Code: "invalid"})
			}
			return
		}
		var req Request
		var resp Response
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			s.log.Warn("admin socket: bad request", "err", err)
			resp = Response{Error: "admin socket: the request is not JSON: " + err.Error(), Code: "invalid"}
		} else {
			resp = s.Handle(ctx, req)
		}
		if !resp.OK {
			s.log.Info("admin socket: request failed", "op", req.Op, "err", resp.Error)
		}
		_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if err := enc.Encode(resp); err != nil {
			return
		}
	}
}
