package socket

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"syscall"
	"time"
)

// ErrNoServer reports that no server answers on the socket: the file is
// missing, or stale.
var ErrNoServer = errors.New("no server is running on this data folder")

// ErrUnsafeFolder reports, with ErrNoServer, a data folder writable by its
// group or others, where a server serves no admin socket (Listen).
var ErrUnsafeFolder = errors.New("the data folder is writable by its group or others")

// Error is an operation's failure as the server reported it.
type Error struct {
	// Code classifies it (Response.Code).
	Code string
	// Message is the server's error text.
	Message string
}

func (e *Error) Error() string { return e.Message }

// Client is a connection to a server's admin socket.
type Client struct {
	c  net.Conn
	rd *bufio.Reader
}

// Dial connects to the admin socket of the server using dataDir. The
// error wraps ErrNoServer when no server runs there.
func Dial(ctx context.Context, dataDir string) (*Client, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", Path(dataDir))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
			if fi, serr := os.Stat(dataDir); serr == nil && fi.Mode().Perm()&0o022 != 0 {
				return nil, fmt.Errorf("admin socket %s: %w, or a server runs there without its admin socket: %w (mode %04o; chmod go-w %s)",
					Path(dataDir), ErrNoServer, ErrUnsafeFolder, fi.Mode().Perm(), dataDir)
			}
			return nil, fmt.Errorf("admin socket %s: %w", Path(dataDir), ErrNoServer)
		}
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	return &Client{c: c, rd: bufio.NewReader(c)}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.c.Close() }

// Call runs the operation op with args and decodes its result into
// result (when not nil). A failure the server reports is an *Error.
func (c *Client) Call(ctx context.Context, op string, args Args, result any) error {
	if dl, ok := ctx.Deadline(); ok {
		_ = c.c.SetDeadline(dl)
	} else {
		_ = c.c.SetDeadline(time.Now().Add(time.Minute))
	}
	b, err := json.Marshal(Request{Op: op, Args: mustJSON(args)})
	if err != nil {
		return fmt.Errorf("admin socket: %w", err)
	}
	// A failed write may come after the server answered and closed (too
	// many connections): the answer is read all the same.
	_, werr := c.c.Write(append(b, '\n'))
	line, err := c.rd.ReadBytes('\n')
	switch {
	case err != nil && werr != nil:
		return fmt.Errorf("admin socket: sending %s: %w", op, werr)
	case err != nil:
		return fmt.Errorf("admin socket: reading the answer to %s: %w", op, err)
	}
	var resp Response
	if err := json.Unmarshal(line, &resp); err != nil {
		return fmt.Errorf("admin socket: the answer to %s: %w", op, err)
	}
	if !resp.OK {
		return &Error{Code: resp.Code, Message: resp.Error}
	}
	if result != nil && len(resp.Result) > 0 {
		if err := json.Unmarshal(resp.Result, result); err != nil {
			return fmt.Errorf("admin socket: the result of %s: %w", op, err)
		}
	}
	return nil
}

// mustJSON encodes Args, which always encode.
func mustJSON(a Args) json.RawMessage {
	b, _ := json.Marshal(a)
	return b
}
