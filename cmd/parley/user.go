package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/parley-xmpp/parley/server/app"
	"github.com/parley-xmpp/parley/server/auth"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

const userUsage = `usage: parley user COMMAND [--config FILE] [--data DIR] [ARG]

commands:
  add user@domain      create an account (the password is read from the terminal or standard input)
  passwd user@domain   set an account's password
  del user@domain      delete an account and all its data
  list [domain]        list the accounts (of one domain)

Run 'parley user COMMAND -h' for a command's flags.
`

// userCommands are the subcommands of "parley user" with their arguments.
var userCommands = map[string]string{
	"add":    "user@domain",
	"passwd": "user@domain",
	"del":    "user@domain",
	"list":   "[domain]",
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
			fmt.Fprintln(stdout, u.String())
		}
		return 0
	}
	user, err := jid.Parse(fs.Arg(0))
	if err == nil && user.Resource() == "" {
		// The username policy of every account creation; the accounts
		// passwd and del name were created under it.
		if _, e := auth.CheckUsername(user.Local(), user.Domain()); e != nil {
			err = e
		}
	}
	if err != nil || user.Resource() != "" {
		fmt.Fprintf(stderr, "parley: %q is not a valid bare JID user@domain\n", fs.Arg(0))
		return 2
	}
	served := false
	for _, d := range cfg.Domains {
		if d == user.Domain() {
			served = true
		}
	}
	if !served {
		fmt.Fprintf(stderr, "parley: %s is not a served domain (serving %s)\n", user.Domain(), strings.Join(cfg.Domains, ", "))
		return 2
	}
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
