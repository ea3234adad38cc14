// Command parley is the Parley XMPP server, its administration tool and a
// small client, in one binary.
//
//	parley serve [--config FILE] [--data DIR]   run the server
//	parley check [--config FILE]                validate the configuration
//	parley user add|passwd|del|list|disable|enable   manage accounts
//	parley status|sessions|kick|reload|log-level|announce|rooms
//	                                            act on the running server
//	parley send --jid A --to B "text"           send a message
//	parley s2s list --jid ADMIN                 list the server-to-server links
//	parley migrate --from SRC --to DST          copy data between backends
//	parley export --out FILE                    XEP-0227 export
//	parley import [--force] FILE|DIR...         XEP-0227 import
//	parley backup --out FILE                    online backup of SQLite storage
//	parley invite [--uses N] [--expires 7d]      invitation for in-band registration
//	parley cert import [--link] DIR             use Let's Encrypt/certbot certificates
//	parley admin token [--name N|--list|--revoke N] tokens of the admin HTTP API
//	parley version                              print the version
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"

	"github.com/parley-xmpp/parley/server/certs"
	"github.com/parley-xmpp/parley/server/certs/opensslkey"
	"github.com/parley-xmpp/parley/server/modules"
)

// version is the release; a build can override it with -ldflags "-X main.version=…".
var version = modules.Version

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	isTerm := term.IsTerminal(int(os.Stdin.Fd()))
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdin, isTerm, os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, env func(string) string, stdin io.Reader, stdinIsTerm bool, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], env, stdout, stderr)
	case "check":
		return runCheck(ctx, args[1:], env, stdout, stderr)
	case "user":
		return runUser(ctx, args[1:], env, stdin, stdinIsTerm, stdout, stderr)
	case "send":
		return runSend(ctx, args[1:], env, stdin, stdinIsTerm, stdout, stderr)
	case "s2s":
		return runS2S(ctx, args[1:], env, stdin, stdinIsTerm, stdout, stderr)
	case "bench":
		return runBench(ctx, args[1:], stdout, stderr)
	case "migrate":
		return runMigrate(ctx, args[1:], stdout, stderr)
	case "export":
		return runExport(ctx, args[1:], env, stdout, stderr)
	case "import":
		return runImport(ctx, args[1:], env, stdout, stderr)
	case "backup":
		return runBackup(ctx, args[1:], env, stdout, stderr)
	case "invite":
		return runInvite(ctx, args[1:], env, stdout, stderr)
	case "upload":
		return runUpload(ctx, args[1:], env, stdout, stderr)
	case "status", "sessions", "kick", "reload", "log-level", "announce", "rooms":
		return runLive(ctx, args[0], args[1:], env, stdout, stderr)
	case "cert":
		return runCert(ctx, args[1:], env, stdout, stderr)
	case "admin":
		return runAdmin(ctx, args[1:], env, stdout, stderr)
	case "version", "--version":
		if len(args) > 1 && (args[1] == "-h" || args[1] == "--help" || args[1] == "-help") {
			fmt.Fprintln(stdout, "usage: parley version\nPrints the version of this binary.")
			return 0
		}
		fmt.Fprintln(stdout, "parley", version)
		if opensslkey.Available { // a build with -tags openssl says so
			fmt.Fprintln(stdout, "RSA certificate keys sign with", certs.RSASigner())
		}
		return 0
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "parley: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: parley <command> [flags]

commands:
  serve    run the server (no config needed: serves localhost)
  check    validate the configuration and exit
  user     manage accounts: user add|passwd|del|list|disable|enable (on the running server when there is one)

  status     the running server's version, uptime, sessions, links, components, memory
  sessions   list the running server's sessions: sessions [--domain D]
  kick       end sessions: kick JID [--reason TEXT]
  reload     re-read the configuration and certificates (as SIGHUP), say what changed
  log-level  set log levels at run time: log-level LEVEL [--module M]
  announce   message every online user: announce "text"
  rooms      list the chat rooms: name, occupants, persistent

  send     send one message: send --jid alice@localhost --to bob@localhost "hello"
  s2s      list a running server's server-to-server links: s2s list --jid admin@example.org
  migrate  copy all data between backends: migrate --from sqlite:FILE --to postgres://…
  export   write all data as XEP-0227: export --out dump.xml
  import   read XEP-0227 dumps (Parley, Prosody, ejabberd): import dump.xml
  backup   online backup of the SQLite database: backup --out FILE
  invite   create an invitation to register: invite [--uses N] [--expires 7d]
  upload   uploaded files (XEP-0363): upload purge --older-than 720h
  cert     certificates: cert import /etc/letsencrypt/live, cert list
  admin    tokens of the admin HTTP API: admin token [--name N] | --list | --revoke N
  bench    load-test any XMPP server: bench --scenario login|idle|chat|muc|presence
  version  print the version

Run 'parley <command> -h' for a command's flags.
`)
}

// exitError carries an exit code through error returns.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

// parseFlags parses args into fs. It returns -1 when the command should go
// on, else the exit status: 0 after -h or --help (the usage on stdout), 2
// after a bad flag (the error and the usage on stderr). Usage functions
// must write to fs.Output().
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	var buf bytes.Buffer
	fs.SetOutput(&buf)
	err := fs.Parse(args)
	fs.SetOutput(stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		_, _ = stdout.Write(buf.Bytes())
		return 0
	case err != nil:
		_, _ = stderr.Write(buf.Bytes())
		return 2
	}
	return -1
}
