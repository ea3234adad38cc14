package transfer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// Stats counts what a copy, an export or an import moved.
type Stats struct {
	Accounts, Replaced, Disabled                       int
	RosterItems, Requests, Offline, VCards, Private    int
	Blocked, Last, Archived, PEPNodes, PEPItems        int
	Push, FastTokens, Services, ServiceNodes, Invites  int
	Rooms                                              int // persistent MUC rooms
	PlaintextPasswords, NoCredentials, SkippedElements int
	// Hosts are the domains of the accounts, in the order first met.
	Hosts []string
}

// String summarises the counts.
func (s Stats) String() string {
	out := fmt.Sprintf("%d roster items, %d subscription requests, %d offline messages, %d vCards, %d private XML elements, %d blocked JIDs, %d last activities, %d archived messages, %d PEP nodes with %d items, %d push registrations, %d FAST tokens, %d disabled accounts, %d pubsub services with %d nodes, %d invitations (%d accounts replaced)",
		s.RosterItems, s.Requests, s.Offline, s.VCards, s.Private, s.Blocked, s.Last, s.Archived,
		s.PEPNodes, s.PEPItems, s.Push, s.FastTokens, s.Disabled, s.Services, s.ServiceNodes, s.Invites, s.Replaced)
	if s.Rooms > 0 {
		out += fmt.Sprintf(", %d chat rooms", s.Rooms)
	}
	if s.PlaintextPasswords > 0 {
		out += fmt.Sprintf("; %d plaintext passwords converted to SCRAM keys", s.PlaintextPasswords)
	}
	if s.NoCredentials > 0 {
		out += fmt.Sprintf("; %d accounts without credentials (they cannot log in until given a password)", s.NoCredentials)
	}
	if s.SkippedElements > 0 {
		out += fmt.Sprintf("; %d unknown elements skipped", s.SkippedElements)
	}
	return out
}

// count adds the contents of a to s.
func (s *Stats) count(a *Account) {
	s.Accounts++
	if !slices.Contains(s.Hosts, a.User.Domain()) {
		s.Hosts = append(s.Hosts, a.User.Domain())
	}
	s.RosterItems += len(a.Roster)
	s.Requests += len(a.Requests)
	s.Offline += len(a.Offline)
	s.Private += len(a.Private)
	s.Blocked += len(a.Blocked)
	s.Push += len(a.Push)
	s.PEPNodes += len(a.PEP)
	for _, n := range a.PEP {
		s.PEPItems += len(n.Items)
	}
	for _, c := range a.Fast {
		s.FastTokens += len(c.Tokens)
	}
	if a.VCard != nil {
		s.VCards++
	}
	if a.Last != nil {
		s.Last++
	}
	if a.Disabled {
		s.Disabled++
	}
}

// CopyOptions configures Copy.
type CopyOptions struct {
	// Force allows a target that already holds accounts; accounts,
	// services and invitations present in both are replaced.
	Force bool
	// Log receives progress; nil discards it.
	Log *slog.Logger
}

// ErrTargetNotEmpty is returned (wrapped) by Copy when the target holds
// accounts and CopyOptions.Force is not set.
var ErrTargetNotEmpty = errors.New("transfer: the target already has accounts")

// Copy copies every account with all its data, every publish-subscribe
// service and every invitation from one backend to another, and checks
// that the target then holds exactly the source's data.
func Copy(ctx context.Context, from, to storage.Stores, opts CopyOptions) (Stats, error) {
	var st Stats
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	existing, err := to.Accounts.ListAccounts(ctx, "")
	if err != nil {
		return st, fmt.Errorf("listing target accounts: %w", err)
	}
	if len(existing) > 0 && !opts.Force {
		return st, fmt.Errorf("%w (%d)", ErrTargetNotEmpty, len(existing))
	}
	users, err := from.Accounts.ListAccounts(ctx, "")
	if err != nil {
		return st, fmt.Errorf("listing source accounts: %w", err)
	}
	for _, u := range users {
		if err := copyAccount(ctx, from, to, u, &st); err != nil {
			return st, fmt.Errorf("%s: %w", u, err)
		}
		log.DebugContext(ctx, "account copied", "user", u.String())
	}
	if err := copyServices(ctx, from, to, &st); err != nil {
		return st, err
	}
	if err := copyInvites(ctx, from, to, &st); err != nil {
		return st, err
	}
	if err := copyRooms(ctx, from, to, &st); err != nil {
		return st, err
	}
	return st, nil
}

// copyAccount copies one account, its archive included, and verifies it.
func copyAccount(ctx context.Context, from, to storage.Stores, u jid.JID, st *Stats) error {
	a, err := ReadAccount(ctx, from, u)
	if err != nil {
		return fmt.Errorf("reading from the source: %w", err)
	}
	switch err := to.Accounts.DeleteAccount(ctx, u); {
	case err == nil:
		st.Replaced++
	case !errors.Is(err, storage.ErrNotFound):
		return fmt.Errorf("replacing in the target: %w", err)
	}
	if err := WriteAccount(ctx, to, a); err != nil {
		return fmt.Errorf("writing to the target: %w", err)
	}
	n := 0
	err = ArchivePages(ctx, from.Archive, u, func(ms []storage.ArchivedMessage) error {
		for _, m := range ms {
			if err := to.Archive.AppendArchive(ctx, u, m); err != nil {
				return fmt.Errorf("archived message %s: %w", m.ID, err)
			}
		}
		n += len(ms)
		return nil
	})
	if err != nil {
		return err
	}
	got, err := ReadAccount(ctx, to, u)
	if err != nil {
		return fmt.Errorf("reading back from the target: %w", err)
	}
	if !Equal(got, a) {
		return fmt.Errorf("verifying: the target's copy differs from the source")
	}
	if err := sameArchive(ctx, from.Archive, to.Archive, u); err != nil {
		return err
	}
	st.count(a)
	st.Archived += n
	return nil
}

// sameArchive compares user's archives in two backends page by page.
func sameArchive(ctx context.Context, a, b storage.Archive, user jid.JID) error {
	var want []storage.ArchivedMessage
	if err := ArchivePages(ctx, a, user, func(ms []storage.ArchivedMessage) error {
		want = append(want, ms...)
		return nil
	}); err != nil {
		return err
	}
	i := 0
	err := ArchivePages(ctx, b, user, func(ms []storage.ArchivedMessage) error {
		for _, m := range ms {
			if i >= len(want) || !sameMessage(m, want[i]) {
				return fmt.Errorf("verifying: archived message %d differs from the source", i)
			}
			i++
		}
		return nil
	})
	if err != nil {
		return err
	}
	if i != len(want) {
		return fmt.Errorf("verifying: the target has %d archived messages, the source %d", i, len(want))
	}
	return nil
}

func sameMessage(a, b storage.ArchivedMessage) bool {
	return a.ID == b.ID && a.With == b.With && a.Outgoing == b.Outgoing && a.At.Equal(b.At) &&
		a.OriginID == b.OriginID && string(a.Stanza) == string(b.Stanza)
}

// copyServices copies the publish-subscribe services that are not PEP
// services of accounts (those travel with their account).
func copyServices(ctx context.Context, from, to storage.Stores, st *Stats) error {
	svcs, err := services(ctx, from)
	if err != nil {
		return err
	}
	for _, j := range svcs {
		svc, err := ReadService(ctx, from, j)
		if err != nil {
			return err
		}
		if _, err := DeleteService(ctx, to, j); err != nil {
			return err
		}
		if err := WriteService(ctx, to, svc); err != nil {
			return fmt.Errorf("writing pubsub service %s: %w", j, err)
		}
		got, err := ReadService(ctx, to, j)
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(normNodes(got.Nodes), normNodes(svc.Nodes)) {
			return fmt.Errorf("verifying pubsub service %s: the target's copy differs from the source", j)
		}
		st.Services++
		st.ServiceNodes += len(svc.Nodes)
	}
	return nil
}

// services lists the publish-subscribe services of s that are not an
// account's PEP service.
func services(ctx context.Context, s storage.Stores) ([]jid.JID, error) {
	l, ok := s.Accounts.(storage.Lister)
	if !ok {
		return nil, fmt.Errorf("the backend %T cannot list pubsub services", s.Accounts)
	}
	all, err := l.PubSubServices(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing pubsub services: %w", err)
	}
	var out []jid.JID
	for _, j := range all {
		if j.Local() != "" {
			ok, err := s.Accounts.AccountExists(ctx, j)
			if err != nil {
				return nil, fmt.Errorf("pubsub service %s: %w", j, err)
			}
			if ok {
				continue
			}
		}
		out = append(out, j)
	}
	return out, nil
}

// copyInvites copies every invitation, replacing those with the same
// token.
func copyInvites(ctx context.Context, from, to storage.Stores, st *Stats) error {
	invs, err := from.Invites.ListInvites(ctx)
	if err != nil {
		return fmt.Errorf("listing invitations: %w", err)
	}
	for _, inv := range invs {
		if err := putInvite(ctx, to, inv); err != nil {
			return err
		}
		got, err := to.Invites.Invite(ctx, inv.Token)
		if err != nil || !sameInvite(got, inv) {
			return fmt.Errorf("verifying an invitation for %s: the target's copy differs (%v)", inv.Domain, err)
		}
		st.Invites++
	}
	return nil
}

// putInvite stores inv, replacing an invitation with the same token.
func putInvite(ctx context.Context, s storage.Stores, inv storage.Invite) error {
	if err := s.Invites.DeleteInvite(ctx, inv.Token); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("replacing an invitation: %w", err)
	}
	if err := s.Invites.CreateInvite(ctx, inv); err != nil {
		return fmt.Errorf("writing an invitation for %s: %w", inv.Domain, err)
	}
	return nil
}

func sameInvite(a, b storage.Invite) bool {
	return a.Token == b.Token && a.Domain == b.Domain && a.Username == b.Username && a.MaxUses == b.MaxUses &&
		a.Uses == b.Uses && a.Created.Equal(b.Created) && a.Expires.Equal(b.Expires)
}

// Equal reports whether two reads of accounts hold the same data, ignoring
// what backends assign themselves (offline message ids) and the
// difference between nil and empty.
func Equal(a, b *Account) bool {
	return reflect.DeepEqual(Normalise(a), Normalise(b))
}

// Normalise returns a copy of a in a canonical form for comparisons:
// offline ids zeroed, times in UTC, empty slices and maps nil.
func Normalise(a *Account) *Account {
	out := *a
	out.Offline = nil
	for _, m := range a.Offline {
		m.ID = 0
		m.At = m.At.UTC()
		out.Offline = append(out.Offline, m)
	}
	out.Roster = nil
	for _, it := range a.Roster {
		if len(it.Groups) == 0 {
			it.Groups = nil
		}
		out.Roster = append(out.Roster, it)
	}
	out.Requests = nil
	for _, r := range a.Requests {
		r.At = r.At.UTC()
		out.Requests = append(out.Requests, r)
	}
	out.Keys = nilIfEmpty(a.Keys)
	out.Blocked = nilIfEmpty(a.Blocked)
	out.Push = nilIfEmpty(a.Push)
	out.Fast = nilIfEmpty(a.Fast)
	out.PEP = normNodes(a.PEP)
	if len(a.VCard) == 0 {
		out.VCard = nil
	}
	if len(a.Private) == 0 {
		out.Private = nil
	}
	if a.ArchivePrefs != nil {
		p := *a.ArchivePrefs
		p.Always, p.Never = nilIfEmpty(p.Always), nilIfEmpty(p.Never)
		out.ArchivePrefs = &p
	}
	return &out
}

func normNodes(ns []Node) []Node {
	if len(ns) == 0 {
		return nil
	}
	out := slices.Clone(ns)
	for i := range out {
		out[i].Items = nilIfEmpty(out[i].Items)
		out[i].Affiliations = nilIfEmpty(out[i].Affiliations)
		out[i].Subscriptions = nilIfEmpty(out[i].Subscriptions)
		if len(out[i].Config) == 0 {
			out[i].Config = nil
		} else {
			cfg := make(map[string][]string, len(out[i].Config))
			for k, v := range out[i].Config {
				cfg[k] = nilIfEmpty(v)
			}
			out[i].Config = cfg
		}
		out[i].Created = out[i].Created.UTC()
		out[i].Items = slices.Clone(out[i].Items)
		for j := range out[i].Items {
			out[i].Items[j].Payload = nilIfEmpty(out[i].Items[j].Payload)
			out[i].Items[j].Published = out[i].Items[j].Published.UTC()
		}
	}
	return out
}

func nilIfEmpty[S ~[]E, E any](s S) S {
	if len(s) == 0 {
		return nil
	}
	return s
}
