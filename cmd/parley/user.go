package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"golang.org/x/term"

	"github.com/parley-xmpp/parley/server/admin"
	"github.com/parley-xmpp/parley/server/admin/socket"
	"github.com/parley-xmpp/parley/server/app"
	"github.com/parley-xmpp/parley/server/auth"
	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

const userUsage = `usage: parley user COMMAND [--config FILE] [--data DIR] [ARG]

commands:
  add user@domain      create an account (the password is read from the terminal or standard input)
  passwd user@domain   set an account's password
  del user@domain      delete an account and all its data; its sessions end
  list [domain]        list the accounts (of one domain)
  disable user@domain  disable an account: its sessions end, logins are refused
  enable user@domain   re-enable a disabled account

When a server runs on the data folder, the commands act through its admin
socket, so that the running server ends the sessions at once; otherwise
they act on the storage.

Run 'parley user COMMAND -h' for a command's flags.
`

// userCommands are the subcommands of "parley user" with their arguments.
var userCommands = map[string]string{
	"add":     "user@domain",
	"passwd":  "user@domain",
	"del":     "user@domain",
	"list":    "[domain]",
	"disable": "user@domain",
	"enable":  "user@domain",
}

func runUser(ctx context.Context, args []string, env func(string) string, stdin io.Reader, stdinIsTerm bool, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, userUsage)
		return 2
	}
	sub := args[0]
	switch sub {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, userUsage)
		return 0
	}
	argUsage, ok := userCommands[sub]
	if !ok {
		fmt.Fprintf(stderr, "parley: unknown user command %q\n", sub)
		fmt.Fprint(stderr, userUsage)
		return 2
	}
	fs := flag.NewFlagSet("parley user "+sub, flag.ContinueOnError)
	var cf commonFlags
	cf.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: parley user %s [--config FILE] [--data DIR] %s\n", sub, argUsage)
		fs.PrintDefaults()
	}
	if code := parseFlags(fs, args[1:], stdout, stderr); code >= 0 {
		return code
	}
	if (sub == "list" && fs.NArg() > 1) || (sub != "list" && fs.NArg() != 1) {
		fs.Usage()
		return 2
	}
	cfg, err := cf.load(env)
	if err != nil {
		fmt.Fprintln(stderr, "parley:", err)
		return exitCode(err)
	}
	var user jid.JID
	if sub != "list" {
		if user, err = checkedUser(cfg, fs.Arg(0), stderr); err != nil {
			return 2
		}
	}
	live, err := socket.Dial(ctx, cfg.DataDir)
	switch {
	case err == nil:
		defer live.Close()
		return runUserLive(ctx, live, sub, user, fs.Arg(0), stdin, stdinIsTerm, stdout, stderr)
	case !errors.Is(err, socket.ErrNoServer):
		fmt.Fprintln(stderr, "parley:", err)
		return 1
	case errors.Is(err, socket.ErrUnsafeFolder):
		fmt.Fprintf(stderr, "parley: warning: %v; acting on the storage, so a running server does not end sessions\n", err)
	}
	a, err := app.Open(ctx, cfg, nil)
	if err != nil {
		fmt.Fprintln(stderr, "parley:", err)
		return 1
	}
	defer a.Close()

	if sub == "list" {
		domain := ""
		if fs.NArg() > 0 {
			domain = fs.Arg(0)
		}
		users, err := a.Stores().Accounts.ListAccounts(ctx, domain)
		if err != nil {
			fmt.Fprintln(stderr, "parley: listing accounts:", err)
			return 1
		}
		for _, u := range users {
			disabled, err := a.Stores().Status.Disabled(ctx, u)
			if err != nil && !errors.Is(err, storage.ErrNotFound) {
				fmt.Fprintln(stderr, "parley: listing accounts:", err)
				return 1
			}
			printUser(stdout, admin.User{JID: u.String(), Disabled: disabled})
		}
		return 0
	}
	return runUserOffline(ctx, a, sub, user, stdin, stdinIsTerm, stdout, stderr)
}

// checkedUser parses arg as the bare JID of an account of a served
// domain, under the username policy; it says why not on stderr.
func checkedUser(cfg *config.Config, arg string, stderr io.Writer) (jid.JID, error) {
	user, err := jid.Parse(arg)
	if err == nil && user.Resource() == "" {
		// The username policy of every account creation; the accounts
		// passwd and del name were created under it.
		if _, e := auth.CheckUsername(user.Local(), user.Domain()); e != nil {
			err = e
		}
	}
	if err != nil || user.Resource() != "" {
		fmt.Fprintf(stderr, "parley: %q is not a valid bare JID user@domain\n", arg)
		return jid.JID{}, errors.New("invalid JID")
	}
	if !slices.Contains(cfg.Domains, user.Domain()) {
		fmt.Fprintf(stderr, "parley: %s is not a served domain (serving %s)\n", user.Domain(), strings.Join(cfg.Domains, ", "))
		return jid.JID{}, errors.New("not served")
	}
	return user, nil
}

// runUserOffline runs a user command on a user on the storage, no
// server running.
func runUserOffline(ctx context.Context, a *app.App, sub string, user jid.JID, stdin io.Reader, stdinIsTerm bool, stdout, stderr io.Writer) int {
	switch sub {
	case "add", "passwd":
		pw, err := readPassword(stdin, stdinIsTerm, stderr, true)
		if err != nil {
			fmt.Fprintln(stderr, "parley:", err)
			return 1
		}
		if sub == "add" {
			err = a.Auth().Create(ctx, user, pw)
		} else {
			err = a.Auth().SetPassword(ctx, user, pw)
		}
		switch {
		case errors.Is(err, storage.ErrExists):
			fmt.Fprintf(stderr, "parley: %s already exists\n", user)
			return 1
		case errors.Is(err, storage.ErrNotFound):
			fmt.Fprintf(stderr, "parley: %s does not exist\n", user)
			return 1
		case err != nil:
			fmt.Fprintln(stderr, "parley:", err)
			return 1
		}
		if sub == "add" {
			fmt.Fprintf(stdout, "created %s\n", user)
		} else {
			fmt.Fprintf(stdout, "password of %s changed\n", user)
		}
		return 0
	case "del":
		if err := a.Auth().Delete(ctx, user); err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				fmt.Fprintf(stderr, "parley: %s does not exist\n", user)
			} else {
				fmt.Fprintln(stderr, "parley:", err)
			}
			return 1
		}
		fmt.Fprintf(stdout, "deleted %s\n", user)
		return 0
	case "disable", "enable":
		if err := a.Auth().SetDisabled(ctx, user, sub == "disable"); err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				fmt.Fprintf(stderr, "parley: %s does not exist\n", user)
			} else {
				fmt.Fprintln(stderr, "parley:", err)
			}
			return 1
		}
		fmt.Fprintf(stdout, "%sd %s\n", sub, user)
		return 0
	}
	// Not reached: userCommands lists the commands handled above.
	fmt.Fprintf(stderr, "parley: unknown user command %q\n", sub)
	return 2
}

// readPassword reads a password from the terminal (asking twice when
// confirm is set) or, when stdin is not a terminal, its first line. A
// password never comes from the command line.
func readPassword(stdin io.Reader, isTerm bool, prompt io.Writer, confirm bool) (string, error) {
	if !isTerm {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !(errors.Is(err, io.EOF) && line != "") {
			return "", fmt.Errorf("reading the password from stdin: %w", err)
		}
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			return "", errors.New("empty password")
		}
		return pw, nil
	}
	fmt.Fprint(prompt, "Password: ")
	b, err := term.ReadPassword(int(os.Stdin.Fd()))
	fmt.Fprintln(prompt)
	if err != nil {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	if confirm {
		fmt.Fprint(prompt, "Again: ")
		b2, err := term.ReadPassword(int(os.Stdin.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return "", fmt.Errorf("reading the password: %w", err)
		}
		if string(b) != string(b2) {
			return "", errors.New("the passwords differ")
		}
	}
	if len(b) == 0 {
		return "", errors.New("empty password")
	}
	return string(b), nil
}

// runUserLive runs a user command through the admin socket of the running
// server: user is the account (not for list), domain list's argument.
func runUserLive(ctx context.Context, c *socket.Client, sub string, user jid.JID, domain string, stdin io.Reader, stdinIsTerm bool, stdout, stderr io.Writer) int {
	fail := func(err error) int {
		var se *socket.Error
		switch {
		case errors.As(err, &se) && se.Code == "no_account":
			fmt.Fprintf(stderr, "parley: %s does not exist\n", user)
		case errors.As(err, &se) && se.Code == "exists":
			fmt.Fprintf(stderr, "parley: %s already exists\n", user)
		default:
			fmt.Fprintln(stderr, "parley:", err)
		}
		return 1
	}
	switch sub {
	case "list":
		var users []admin.User
		if err := c.Call(ctx, "user_list", socket.Args{Domain: domain}, &users); err != nil {
			return fail(err)
		}
		for _, u := range users {
			printUser(stdout, u)
		}
		return 0
	case "add", "passwd":
		pw, err := readPassword(stdin, stdinIsTerm, stderr, true)
		if err != nil {
			fmt.Fprintln(stderr, "parley:", err)
			return 1
		}
		if err := c.Call(ctx, "user_"+sub, socket.Args{JID: user.String(), Password: pw}, nil); err != nil {
			return fail(err)
		}
		if sub == "add" {
			fmt.Fprintf(stdout, "created %s\n", user)
		} else {
			fmt.Fprintf(stdout, "password of %s changed\n", user)
		}
		return 0
	case "del", "disable":
		var ended []string
		if err := c.Call(ctx, "user_"+sub, socket.Args{JID: user.String()}, &ended); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "%s %s", map[string]string{"del": "deleted", "disable": "disabled"}[sub], user)
		if len(ended) > 0 {
			fmt.Fprintf(stdout, "; ended %d session(s): %s", len(ended), strings.Join(ended, ", "))
		}
		fmt.Fprintln(stdout)
		return 0
	case "enable":
		if err := c.Call(ctx, "user_enable", socket.Args{JID: user.String()}, nil); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "enabled %s\n", user)
		return 0
	}
	fmt.Fprintf(stderr, "parley: unknown user command %q\n", sub)
	return 2
}

// printUser writes one line of user list: the JID, then "disabled" and
// the number of sessions when there is something to say.
func printUser(w io.Writer, u admin.User) {
	line := u.JID
	if u.Disabled {
		line += "\tdisabled"
	}
	if u.Sessions > 0 {
		line += fmt.Sprintf("\t%d session(s)", u.Sessions)
	}
	fmt.Fprintln(w, line)
}
