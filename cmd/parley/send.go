package main

import (
	"context"
	"crypto/tls"
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
// It returns 0 on success, 1 on failure and 2 on usage errors.
func runSend(ctx context.Context, args []string, env func(string) string, stdin io.Reader, stdinIsTerminal bool, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("parley send", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("jid", "", "account to send from, e.g. alice@localhost (required)")
	to := fs.String("to", "", "recipient JID, e.g. bob@localhost (required)")
	address := fs.String("address", "", "server host:port (default: DNS SRV, then the JID's domain)")
	directTLS := fs.Bool("direct-tls", false, "use direct TLS (XEP-0368) instead of STARTTLS")
	insecure := fs.Bool("insecure", false, "do not verify the server certificate")
	typ := fs.String("type", stanza.TypeChat, "message type: chat, normal, headline or groupchat")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: parley send --jid JID --to JID [--address host:port] [--direct-tls] [--insecure] [--type chat] [--wait 2s] [message]")
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
	account, err := jid.Parse(*from)
	if err != nil {
		return fail(fmt.Errorf("bad --jid: %w", err))
	}
	if account.Local() == "" {
		return fail(fmt.Errorf("bad --jid %q: no localpart", *from))
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
	c, err := client.Dial(ctx, client.Config{
		JID:       account,
		Password:  password,
		Address:   *address,
		DirectTLS: *directTLS,
		TLS:       &tls.Config{InsecureSkipVerify: *insecure},
	})
	if err != nil {
		return fail(err)
	}
	if err := c.Send(ctx, stanza.NewMessage(*typ, recipient.String(), body)); err != nil {
		c.Close()
		return fail(fmt.Errorf("sending message: %w", err))
	}
	if err := c.Close(); err != nil {
		return fail(fmt.Errorf("closing stream: %w", err))
	}
	fmt.Fprintf(stdout, "sent to %s\n", recipient)
	return 0
}

// oneLine folds an error message onto a single line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
