package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/parley-xmpp/parley/server/mod/adhoc"
	"github.com/parley-xmpp/parley/server/module"
	xadhoc "github.com/parley-xmpp/parley/xmpp/adhoc"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// s2sTimeout bounds a whole "parley s2s list" run.
const s2sTimeout = 30 * time.Second

// runS2S implements "parley s2s": list the server-to-server links of a
// running server.
func runS2S(ctx context.Context, args []string, env func(string) string, stdin io.Reader, stdinIsTerminal bool, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "list":
			return runS2SList(ctx, args[1:], env, stdin, stdinIsTerminal, stdout, stderr)
		case "-h", "--help", "-help", "help":
			s2sUsage(stdout)
			return 0
		}
		fmt.Fprintf(stderr, "parley s2s: unknown subcommand %q\n", args[0])
	}
	s2sUsage(stderr)
	return 2
}

func s2sUsage(w io.Writer) {
	fmt.Fprint(w, `usage: parley s2s list --jid ADMIN [--address host:port] [--direct-tls] [--insecure]

Lists the server-to-server links of a running server: it logs in as ADMIN
(an account in the server's admins) and runs the server's s2s-list command.
The password is read from $PARLEY_PASSWORD, else from standard input or a prompt.
`)
}

// runS2SList implements "parley s2s list". The password comes as for
// "parley send". It returns 0 on success, 1 on failure and 2 on usage
// errors.
func runS2SList(ctx context.Context, args []string, env func(string) string, stdin io.Reader, stdinIsTerminal bool, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("parley s2s list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	admin := fs.String("jid", "", "administrator account to log in as, e.g. admin@example.org (required)")
	address := fs.String("address", "", "server host:port (default: DNS SRV, then the JID's domain)")
	directTLS := fs.Bool("direct-tls", false, "use direct TLS (XEP-0368) instead of STARTTLS")
	insecure := fs.Bool("insecure", false, "do not verify the server certificate")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: parley s2s list --jid ADMIN [--address host:port] [--direct-tls] [--insecure]")
		fmt.Fprintln(fs.Output(), "The password is read from $PARLEY_PASSWORD, else from standard input or a prompt.")
		fs.PrintDefaults()
	}
	if code := parseFlags(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	switch {
	case *admin == "":
		fmt.Fprintln(stderr, "parley s2s list: --jid is required")
		fs.Usage()
		return 2
	case fs.NArg() > 0:
		fmt.Fprintln(stderr, "parley s2s list: unexpected arguments")
		fs.Usage()
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "parley s2s list: "+oneLine(err.Error()))
		return 1
	}
	account, err := parseAccount(*admin)
	if err != nil {
		return fail(err)
	}
	password := env("PARLEY_PASSWORD")
	if password == "" {
		if password, err = readPassword(stdin, stdinIsTerminal, stderr, false); err != nil {
			return fail(fmt.Errorf("no password (set PARLEY_PASSWORD or write it on standard input): %w", err))
		}
	}

	ctx, cancel := context.WithTimeout(ctx, s2sTimeout)
	defer cancel()
	c, err := dialAccount(ctx, account, password, *address, "", "", *directTLS, *insecure)
	if err != nil {
		return fail(err)
	}
	links, err := fetchLinks(ctx, c)
	c.Close()
	if err != nil {
		return fail(err)
	}
	printLinks(stdout, links)
	return 0
}

// fetchLinks runs the s2s-list command (XEP-0050) on c's server.
func fetchLinks(ctx context.Context, c *client.Client) ([]module.FederationLink, error) {
	domain := c.JID().Domain()
	req := (&xadhoc.Command{Node: adhoc.S2SNode, Action: xadhoc.ActionExecute}).Element()
	res, err := c.SendIQ(ctx, stanza.NewIQ(stanza.TypeSet, "", domain, req))
	var se *stanza.Error
	switch {
	case errors.As(err, &se) && se.Condition == stanza.Forbidden:
		return nil, fmt.Errorf("%s is not an administrator of %s (admins in the configuration)", c.JID().Bare(), domain)
	case errors.As(err, &se) && (se.Condition == stanza.ItemNotFound || se.Condition == stanza.ServiceUnavailable || se.Condition == stanza.FeatureNotImplemented):
		return nil, fmt.Errorf("%s has no %s command (%s): not a Parley server with federation commands, or its adhoc module is disabled", domain, adhoc.S2SNode, se.Condition)
	case err != nil:
		return nil, fmt.Errorf("running %s: %w", adhoc.S2SNode, err)
	}
	cmd, err := xadhoc.Parse(res.Child(xadhoc.NS, "command"))
	if err != nil {
		return nil, fmt.Errorf("the answer to %s: %w", adhoc.S2SNode, err)
	}
	if cmd.Form == nil {
		return nil, fmt.Errorf("the answer to %s holds no result form", adhoc.S2SNode)
	}
	return adhoc.ParseLinks(cmd.Form)
}

// printLinks writes links as a table, or a line saying there are none.
func printLinks(w io.Writer, links []module.FederationLink) {
	if len(links) == 0 {
		fmt.Fprintln(w, "no server-to-server links")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DOMAIN\tDIRECTION\tAUTH\tTLS\tSINCE\tLOCAL\tSTATE")
	for _, l := range links {
		dir := "out"
		if l.Incoming {
			dir = "in"
		}
		since := "-"
		if !l.Since.IsZero() {
			since = l.Since.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.Remote, dir, orDash(l.Auth), orDash(l.TLS), since, l.Local, orDash(l.State))
	}
	tw.Flush()
}

// orDash returns s, or "-" when it is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
