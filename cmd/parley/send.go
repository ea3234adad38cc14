package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// sendTimeout bounds a whole "parley send" run.
const sendTimeout = 60 * time.Second

// maxStdinMessage bounds a message read from standard input.
const maxStdinMessage = 1 << 20

// runSend implements "parley send": it logs in as --jid, sends one message
// to --to and closes the stream once the server has processed it. The
// password comes from $PARLEY_PASSWORD, else the first line of standard
// input when it is not a terminal, else a terminal prompt; never from the
// command line. Without a message argument the message is read from
// standard input, which requires the password to come from the environment.
// After sending it waits (--wait) for the server to bounce the message or
// confirm that it handled it; a bounce is a failure naming the error
// condition. It returns 0 on success, 1 on failure and 2 on usage errors.
func runSend(ctx context.Context, args []string, env func(string) string, stdin io.Reader, stdinIsTerminal bool, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("parley send", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("jid", "", "account to send from, e.g. alice@localhost (required)")
	to := fs.String("to", "", "recipient JID, e.g. bob@localhost (required)")
	address := fs.String("address", "", "server host:port (default: DNS SRV, then the JID's domain)")
	directTLS := fs.Bool("direct-tls", false, "use direct TLS (XEP-0368) instead of STARTTLS")
	webSocket := fs.String("websocket", "", "connect over XMPP over WebSocket (RFC 7395) to this URL, e.g. wss://example.org:5443/xmpp-websocket")
	bosh := fs.String("bosh", "", "connect over BOSH (XEP-0124, XEP-0206) to this URL, e.g. https://example.org:5443/http-bind")
	insecure := fs.Bool("insecure", false, "do not verify the server certificate")
	typ := fs.String("type", stanza.TypeChat, "message type: chat, normal, headline or groupchat")
	wait := fs.Duration("wait", defaultBounceWait, "how long to wait for the server to confirm that it took the message or to bounce it (0: do not wait)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: parley send --jid JID --to JID [--address host:port | --websocket URL | --bosh URL] [--direct-tls] [--insecure] [--type chat] [--wait 2s] [message]")
		fmt.Fprintln(fs.Output(), "The password is read from $PARLEY_PASSWORD, else from standard input or a prompt.")
		fs.PrintDefaults()
	}
	if code := parseFlags(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	usage := func(msg string) int {
		fmt.Fprintln(stderr, "parley send: "+msg)
		fs.Usage()
		return 2
	}
	switch {
	case *from == "":
		return usage("--jid is required")
	case *to == "":
		return usage("--to is required")
	case fs.NArg() > 1:
		return usage("give the message as a single argument (quote it)")
	case *webSocket != "" && *bosh != "":
		return usage("--websocket and --bosh exclude each other")
	}
	switch *typ {
	case stanza.TypeChat, stanza.TypeNormal, stanza.TypeHeadline, stanza.TypeGroupchat:
	default:
		return usage(fmt.Sprintf("unknown --type %q", *typ))
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "parley send: "+oneLine(err.Error()))
		return 1
	}
	account, err := parseAccount(*from)
	if err != nil {
		return fail(err)
	}
	recipient, err := jid.Parse(*to)
	if err != nil {
		return fail(fmt.Errorf("bad --to: %w", err))
	}

	password := env("PARLEY_PASSWORD")
	fromEnv := password != ""
	if fs.NArg() == 0 && !fromEnv {
		return usage("no message given (reading it from standard input needs $PARLEY_PASSWORD)")
	}
	if !fromEnv {
		if password, err = readPassword(stdin, stdinIsTerminal, stderr, false); err != nil {
			return fail(fmt.Errorf("no password (set PARLEY_PASSWORD or write it on standard input): %w", err))
		}
	}
	var body string
	if fs.NArg() == 1 {
		body = fs.Arg(0)
	} else {
		b, err := io.ReadAll(io.LimitReader(stdin, maxStdinMessage+1))
		if err != nil {
			return fail(fmt.Errorf("reading message from standard input: %w", err))
		}
		if len(b) > maxStdinMessage {
			return fail(errors.New("message on standard input is too long"))
		}
		body = strings.TrimRight(string(b), "\r\n")
	}
	if body == "" {
		return usage("empty message")
	}

	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	c, err := dialAccount(ctx, account, password, *address, *webSocket, *bosh, *directTLS, *insecure)
	if err != nil {
		return fail(err)
	}
	bounces := watchBounces(c)
	msg := stanza.NewMessage(*typ, recipient.String(), body)
	msg.Set("id", randomID())
	if err := c.Send(ctx, msg); err != nil {
		c.Close()
		return fail(fmt.Errorf("sending message: %w", err))
	}
	confirmed, bounce := true, error(nil)
	if *wait > 0 {
		confirmed, bounce = awaitBounce(ctx, c, bounces, msg.ID(), *wait)
	}
	if err := c.Close(); err != nil && bounce == nil {
		return fail(fmt.Errorf("closing stream: %w", err))
	}
	if bounce != nil {
		return fail(fmt.Errorf("%s bounced the message: %w", recipient, bounce))
	}
	if !confirmed {
		fmt.Fprintf(stderr, "parley send: warning: the server did not confirm the message within %v\n", *wait)
	}
	fmt.Fprintf(stdout, "sent to %s\n", recipient)
	return 0
}

// defaultBounceWait is how long "parley send" waits by default for the
// server to bounce the message or confirm that it went through.
const defaultBounceWait = 2 * time.Second

// nsPing is XEP-0199's namespace.
const nsPing = "urn:xmpp:ping"

// watchBounces collects the error messages c receives (bounces) and
// answers XEP-0199 pings. Register it before sending.
func watchBounces(c *client.Client) chan *stanza.Element {
	bounces := make(chan *stanza.Element, 16)
	c.Handle(stanza.KindMessage, xml.Name{}, func(el *stanza.Element) {
		if el.Type() != stanza.TypeError {
			return
		}
		select {
		case bounces <- el:
		default: // more bounces than one message can cause: ignore
		}
	})
	c.Handle(stanza.KindIQ, xml.Name{Space: nsPing, Local: "ping"}, func(el *stanza.Element) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = c.Send(ctx, stanza.NewIQ(stanza.TypeResult, el.ID(), el.From(), nil))
	})
	return bounces
}

// awaitBounce waits at most wait for the server to either bounce the
// message id or confirm that it handled it. The confirmation is a
// XEP-0199 ping the client sends to its own full JID after the message:
// the server handles a session's stanzas in order, and a bounce is
// delivered to the session before the ping that followed the message, and
// the client library dispatches what it receives in order too, so once the
// ping has come back every bounce the server produced is in bounces. It
// reports whether the server confirmed (or bounced) in time, and the
// bounce's stanza error.
func awaitBounce(ctx context.Context, c *client.Client, bounces chan *stanza.Element, id string, wait time.Duration) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	pinged := make(chan error, 1)
	go func() {
		_, err := c.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", c.JID().String(), stanza.New(nsPing, "ping")))
		pinged <- err
	}()
	bounced := func(el *stanza.Element) error {
		if el.ID() != id {
			return nil
		}
		if e := stanza.ParseError(el); e != nil {
			return e
		}
		return errors.New("error reply without <error/>")
	}
	for {
		select {
		case el := <-bounces:
			if err := bounced(el); err != nil {
				return true, err
			}
		case err := <-pinged:
			for {
				select {
				case el := <-bounces:
					if err := bounced(el); err != nil {
						return true, err
					}
				default:
					// A ping error reply still came back after the
					// message: it confirms as well as a result.
					var se *stanza.Error
					return err == nil || errors.As(err, &se), nil
				}
			}
		}
	}
}

// parseAccount parses the --jid of a command that logs in: a JID with a
// localpart.
func parseAccount(s string) (jid.JID, error) {
	account, err := jid.Parse(s)
	if err != nil {
		return jid.JID{}, fmt.Errorf("bad --jid: %w", err)
	}
	if account.Local() == "" {
		return jid.JID{}, fmt.Errorf("bad --jid %q: no localpart", s)
	}
	return account, nil
}

// dialAccount logs account in with the connection flags of the commands
// that act as a client (--address, --websocket, --bosh, --direct-tls,
// --insecure).
func dialAccount(ctx context.Context, account jid.JID, password, address, webSocket, bosh string, directTLS, insecure bool) (*client.Client, error) {
	return client.Dial(ctx, client.Config{
		JID:       account,
		Password:  password,
		Address:   address,
		WebSocket: webSocket,
		BOSH:      bosh,
		DirectTLS: directTLS,
		TLS:       &tls.Config{InsecureSkipVerify: insecure},
	})
}

// randomID returns a stanza id nobody else uses.
func randomID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "parley-send-" + hex.EncodeToString(b)
}

// oneLine folds an error message onto a single line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
