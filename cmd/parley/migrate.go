package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/parley-xmpp/parley/server/app"
	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

const migrateUsage = `usage: parley migrate --from SOURCE --to TARGET [--force]

Copies every account and its data from one storage backend to another.
SOURCE and TARGET are sqlite:PATH or postgres://user:pass@host/db URLs.
Stop the server first. The target may not hold accounts unless --force
is given; then accounts present in both are replaced by the source's.
`

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("parley migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, migrateUsage); fs.PrintDefaults() }
	from := fs.String("from", "", "source storage: sqlite:PATH or postgres://…")
	to := fs.String("to", "", "target storage: sqlite:PATH or postgres://…")
	force := fs.Bool("force", false, "write into a target that already has accounts, replacing those also in the source")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *from == "" || *to == "" || fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	src, err := parseStorageSpec(*from)
	if err != nil {
		fmt.Fprintln(stderr, "parley: --from:", err)
		return 2
	}
	dst, err := parseStorageSpec(*to)
	if err != nil {
		fmt.Fprintln(stderr, "parley: --to:", err)
		return 2
	}
	if src == dst {
		fmt.Fprintln(stderr, "parley: --from and --to are the same storage")
		return 2
	}
	if src.Kind == config.StorageSQLite {
		// Opening would create an empty file: a typo must not "migrate"
		// nothing successfully.
		if _, err := os.Stat(src.Path); err != nil {
			fmt.Fprintln(stderr, "parley: --from:", err)
			return 1
		}
	}
	st, err := migrate(ctx, src, dst, *force)
	if err != nil {
		fmt.Fprintln(stderr, "parley: migrate:", err)
		return exitCode(err)
	}
	fmt.Fprintf(stdout, "migrated %d accounts from %s to %s: %s; target verified\n", st.accounts, src, dst, st)
	return 0
}

// parseStorageSpec parses sqlite:PATH or a postgres:// URL.
func parseStorageSpec(s string) (config.Storage, error) {
	switch {
	case strings.HasPrefix(s, "sqlite:") && len(s) > len("sqlite:"):
		return config.Storage{Kind: config.StorageSQLite, Path: strings.TrimPrefix(s, "sqlite:")}, nil
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		return config.Storage{Kind: config.StoragePostgres, URL: s}, nil
	}
	return config.Storage{}, fmt.Errorf("%q: want sqlite:PATH or postgres://user:pass@host/db", s)
}

// openSpec opens the storage s names, creating a SQLite file's folder.
func openSpec(ctx context.Context, s config.Storage) (storage.Stores, func() error, error) {
	if s.Kind == config.StorageSQLite {
		if err := os.MkdirAll(filepath.Dir(s.Path), 0o700); err != nil {
			return storage.Stores{}, nil, fmt.Errorf("creating folder of %s: %w", s.Path, err)
		}
	}
	return app.OpenStorage(ctx, &config.Config{Storage: s}, nil)
}

// migrateStats counts what a migration copied.
type migrateStats struct {
	accounts, replaced, rosterItems, requests, offline, vcards, private, blocked, last int
}

// String summarises the counts.
func (s migrateStats) String() string {
	return fmt.Sprintf("%d roster items, %d subscription requests, %d offline messages, %d vCards, %d private XML elements, %d blocked JIDs, %d last activities (%d accounts replaced)",
		s.rosterItems, s.requests, s.offline, s.vcards, s.private, s.blocked, s.last, s.replaced)
}

// migrate copies every account of src into dst and checks that the
// target then holds exactly the source's data.
func migrate(ctx context.Context, src, dst config.Storage, force bool) (migrateStats, error) {
	var st migrateStats
	from, closeFrom, err := openSpec(ctx, src)
	if err != nil {
		return st, err
	}
	defer closeFrom()
	to, closeTo, err := openSpec(ctx, dst)
	if err != nil {
		return st, err
	}
	defer closeTo()
	im, ok := to.Accounts.(storage.Importer)
	if !ok {
		return st, fmt.Errorf("target %s cannot import data", dst)
	}

	existing, err := to.Accounts.ListAccounts(ctx, "")
	if err != nil {
		return st, fmt.Errorf("listing target accounts: %w", err)
	}
	if len(existing) > 0 && !force {
		return st, &exitError{code: 1, err: fmt.Errorf("target %s already has %d accounts; use --force to write into it anyway", dst, len(existing))}
	}
	users, err := from.Accounts.ListAccounts(ctx, "")
	if err != nil {
		return st, fmt.Errorf("listing source accounts: %w", err)
	}
	for _, u := range users {
		data, err := readAccount(ctx, from, u)
		if err != nil {
			return st, fmt.Errorf("reading %s from the source: %w", u, err)
		}
		switch err := to.Accounts.DeleteAccount(ctx, u); {
		case err == nil:
			st.replaced++
		case !errors.Is(err, storage.ErrNotFound):
			return st, fmt.Errorf("replacing %s in the target: %w", u, err)
		}
		if err := writeAccount(ctx, to, im, data); err != nil {
			return st, fmt.Errorf("writing %s to the target: %w", u, err)
		}
		got, err := readAccount(ctx, to, u)
		if err != nil {
			return st, fmt.Errorf("reading %s back from the target: %w", u, err)
		}
		if !reflect.DeepEqual(normalise(got), normalise(data)) {
			return st, fmt.Errorf("verifying %s: the target's copy differs from the source", u)
		}
		st.accounts++
		st.rosterItems += len(data.Roster)
		st.requests += len(data.Requests)
		st.offline += len(data.Offline)
		st.private += len(data.Private)
		st.blocked += len(data.Blocked)
		if data.VCard != nil {
			st.vcards++
		}
		if data.LastSet {
			st.last++
		}
	}
	return st, nil
}

// accountData is everything stored for one account.
type accountData struct {
	User          jid.JID
	Keys          []storage.SCRAMKey
	Roster        []storage.RosterItem
	RosterVersion int64
	Requests      []storage.SubscriptionRequest
	Offline       []storage.OfflineMessage
	VCard         []byte
	Private       map[string][]byte
	Blocked       []jid.JID
	LastSet       bool
	LastAt        time.Time
	LastStatus    string
}

// readAccount reads every datum of user through the storage interfaces.
func readAccount(ctx context.Context, s storage.Stores, user jid.JID) (accountData, error) {
	d := accountData{User: user, Private: map[string][]byte{}}
	var err error
	if d.Keys, err = s.Accounts.Keys(ctx, user); err != nil {
		return d, err
	}
	if d.Roster, d.RosterVersion, err = s.Roster.RosterItems(ctx, user); err != nil {
		return d, err
	}
	if d.Requests, err = s.Roster.SubscriptionRequests(ctx, user); err != nil {
		return d, err
	}
	if d.Offline, err = s.Offline.OfflineMessages(ctx, user); err != nil {
		return d, err
	}
	if d.VCard, err = s.VCards.VCard(ctx, user); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return d, err
	}
	keys, err := s.Private.PrivateKeys(ctx, user)
	if err != nil {
		return d, err
	}
	for _, k := range keys {
		if d.Private[k], err = s.Private.PrivateXML(ctx, user, k); err != nil {
			return d, err
		}
	}
	if d.Blocked, err = s.Blocking.BlockList(ctx, user); err != nil {
		return d, err
	}
	d.LastAt, d.LastStatus, err = s.Last.LastActivity(ctx, user)
	switch {
	case err == nil:
		d.LastSet = true
	case !errors.Is(err, storage.ErrNotFound):
		return d, err
	}
	return d, nil
}

// writeAccount creates d.User in s with all its data.
func writeAccount(ctx context.Context, s storage.Stores, im storage.Importer, d accountData) error {
	u := d.User
	if err := s.Accounts.CreateAccount(ctx, u, d.Keys); err != nil {
		return err
	}
	for _, it := range d.Roster {
		if _, err := s.Roster.PutRosterItem(ctx, u, it); err != nil {
			return err
		}
	}
	if d.RosterVersion > 0 {
		if err := im.SetRosterVersion(ctx, u, d.RosterVersion); err != nil {
			return err
		}
	}
	for _, r := range d.Requests {
		if err := s.Roster.AddSubscriptionRequest(ctx, u, r); err != nil {
			return err
		}
	}
	if err := im.ImportOffline(ctx, u, d.Offline); err != nil {
		return err
	}
	if len(d.VCard) > 0 {
		if err := s.VCards.SetVCard(ctx, u, d.VCard); err != nil {
			return err
		}
	}
	for k, v := range d.Private {
		if err := s.Private.SetPrivateXML(ctx, u, k, v); err != nil {
			return err
		}
	}
	if len(d.Blocked) > 0 {
		if err := s.Blocking.Block(ctx, u, d.Blocked); err != nil {
			return err
		}
	}
	if d.LastSet {
		if err := s.Last.SetLastActivity(ctx, u, d.LastAt, d.LastStatus); err != nil {
			return err
		}
	}
	return nil
}

// normalise makes two reads of the same data compare equal: offline IDs
// are the backend's own, and nil and empty slices are the same.
func normalise(d accountData) accountData {
	out := d
	out.Offline = make([]storage.OfflineMessage, len(d.Offline))
	for i, m := range d.Offline {
		m.ID = 0
		out.Offline[i] = m
	}
	out.Roster = make([]storage.RosterItem, len(d.Roster))
	for i, it := range d.Roster {
		if len(it.Groups) == 0 {
			it.Groups = nil
		}
		out.Roster[i] = it
	}
	if len(out.Keys) == 0 {
		out.Keys = nil
	}
	if len(out.Requests) == 0 {
		out.Requests = nil
	}
	if len(out.Offline) == 0 {
		out.Offline = nil
	}
	if len(out.Blocked) == 0 {
		out.Blocked = nil
	}
	if len(out.VCard) == 0 {
		out.VCard = nil
	}
	return out
}
