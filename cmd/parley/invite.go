package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parley-xmpp/parley/server/app"
	"github.com/parley-xmpp/parley/server/auth"
	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/storage"
)

// runInvite creates an invitation token for in-band registration
// (XEP-0401 §5, XEP-0445) and prints its registration URI and token.
func runInvite(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("parley invite", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf commonFlags
	cf.register(fs)
	uses := fs.Int("uses", 1, "how many accounts the invitation may create")
	expires := fs.String("expires", "7d", `validity, such as 12h, 7d or "never"`)
	domain := fs.String("domain", "", "served domain to register on (default: the first one)")
	user := fs.String("user", "", "reserve this username for the invitee")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: parley invite [--config FILE] [--data DIR] [--uses N] [--expires 7d] [--domain D] [--user NAME]")
		fs.PrintDefaults()
	}
	if code := parseFlags(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	if *uses < 1 {
		fmt.Fprintln(stderr, "parley: --uses must be at least 1")
		return 2
	}
	validity, err := parseExpiry(*expires)
	if err != nil {
		fmt.Fprintln(stderr, "parley: --expires:", err)
		return 2
	}
	cfg, err := cf.load(env)
	if err != nil {
		fmt.Fprintln(stderr, "parley:", err)
		return exitCode(err)
	}
	inv, err := newInvite(cfg, *domain, *user, *uses, validity)
	if err != nil {
		fmt.Fprintln(stderr, "parley:", err)
		return 2
	}
	a, err := app.Open(ctx, cfg, nil)
	if err != nil {
		fmt.Fprintln(stderr, "parley:", err)
		return 1
	}
	defer a.Close()
	if err := a.Stores().Invites.CreateInvite(ctx, inv); err != nil {
		fmt.Fprintln(stderr, "parley: storing the invitation:", err)
		return 1
	}
	fmt.Fprintln(stdout, inviteURI(inv))
	fmt.Fprintln(stdout, "token:", inv.Token)
	expiry := "never expires"
	if !inv.Expires.IsZero() {
		expiry = "expires " + inv.Expires.Format(time.RFC3339)
	}
	fmt.Fprintf(stdout, "uses: %d, %s\n", inv.MaxUses, expiry)
	return 0
}

// newInvite validates the flags and returns the invitation to store.
func newInvite(cfg *config.Config, domain, user string, uses int, validity time.Duration) (storage.Invite, error) {
	if domain == "" {
		domain = cfg.Domains[0]
	}
	d, err := config.NormalizeDomain(domain)
	if err != nil || !slices.Contains(cfg.Domains, d) {
		return storage.Invite{}, fmt.Errorf("%s is not a served domain (serving %s)", domain, strings.Join(cfg.Domains, ", "))
	}
	if user != "" {
		j, e := auth.CheckUsername(user, d)
		if e != nil {
			return storage.Invite{}, fmt.Errorf("--user %q is not a valid username: %s", user, e.Text)
		}
		user = j.Local()
	}
	now := time.Now().UTC()
	inv := storage.Invite{Token: app.NewInviteToken(), Domain: d, Username: user, MaxUses: uses, Created: now}
	if validity > 0 {
		inv.Expires = now.Add(validity)
	}
	return inv, nil
}

// parseExpiry reads a validity: Go durations, a number of days such as
// "7d", or "never" (zero).
func parseExpiry(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "never" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 1 || n > 3650 {
			return 0, fmt.Errorf("%q: want a number of days between 1 and 3650, such as 7d", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := config.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q: the validity must be positive (or \"never\")", s)
	}
	return d, nil
}

// inviteURI returns the XEP-0401 §5 registration URI of an invitation:
// xmpp:DOMAIN?register;preauth=TOKEN, with the reserved username as
// localpart when there is one.
func inviteURI(inv storage.Invite) string {
	addr := inv.Domain
	if inv.Username != "" {
		addr = inv.Username + "@" + inv.Domain
	}
	// RFC 5122 §2.2: the address is IRI-escaped; the token is
	// alphanumeric.
	return "xmpp:" + (&url.URL{Path: addr}).EscapedPath() + "?register;preauth=" + url.QueryEscape(inv.Token)
}
