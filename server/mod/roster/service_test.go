package roster

import (
	"errors"
	"testing"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/storage"
)

// hostRoster returns the roster service other modules get from the host.
func (h *harness) hostRoster() module.RosterService {
	var svc module.RosterService
	probe := probeModule(func(r module.Registrar) { svc = r.Host().Roster() })
	if err := h.r.Register(probe); err != nil {
		h.t.Fatalf("register: %v", err)
	}
	return svc
}

type probeModule func(r module.Registrar)

func (probeModule) Name() string                        { return "service-probe" }
func (p probeModule) Register(r module.Registrar) error { p(r); return nil }

// TestServiceAnswersOnlineUsersFromCache: the roster service other modules
// use (blocking, disco, last, MAM's "roster" default) answers for an online
// user from the module's cache, with no store read, and for an offline user
// from the store, with the store's answers (ErrNotFound for a stranger),
// without caching them.
func TestServiceAnswersOnlineUsersFromCache(t *testing.T) {
	h := newHarness(t)
	svc := h.hostRoster()
	if _, ok := svc.(service); !ok {
		t.Fatalf("Host.Roster() is %T, want the roster module's service", svc)
	}
	alice, bob, eve := h.user("alice"), h.user("bob"), h.user("eve")
	h.befriend(alice, bob)
	h.online(bob, "b")
	h.reads.reset()
	for range 3 {
		it, err := svc.RosterItem(h.ctx, bob, alice)
		if err != nil || it.Subscription != storage.SubBoth {
			t.Fatalf("bob's item for alice: %+v, %v", it, err)
		}
		if _, err := svc.RosterItem(h.ctx, bob, eve); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("bob's item for eve: %v, want ErrNotFound", err)
		}
		items, _, err := svc.RosterItems(h.ctx, bob)
		if err != nil || len(items) != 1 {
			t.Fatalf("bob's roster: %v, %v", items, err)
		}
	}
	if n := h.reads.items.Load() + h.reads.item.Load(); n != 0 {
		t.Errorf("%d store reads for nine lookups in an online user's roster, want 0", n)
	}

	h.reads.reset()
	if it, err := svc.RosterItem(h.ctx, alice, bob); err != nil || it.Subscription != storage.SubBoth {
		t.Fatalf("offline alice's item for bob: %+v, %v", it, err)
	}
	if _, err := svc.RosterItem(h.ctx, alice, eve); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("offline alice's item for eve: %v, want ErrNotFound", err)
	}
	if n := h.reads.item.Load(); n != 2 {
		t.Errorf("%d item reads for an offline user, want 2 (straight from the store)", n)
	}
	if e, _ := h.mod.cache.lookup(alice); e.hasItems {
		t.Error("an offline user's roster was cached")
	}
}

// BenchmarkServiceRosterItem is the lookup MAM makes per archived message
// under the "roster" default for an online user, through the roster
// service (the module's cache; today's path) and as it was before, a read
// of the store.
func BenchmarkServiceRosterItem(b *testing.B) {
	h := newHarness(b)
	svc := h.hostRoster()
	alice, bob := h.user("alice"), h.user("bob")
	h.befriend(alice, bob)
	h.online(bob, "b")
	for _, c := range []struct {
		name string
		svc  module.RosterService
	}{{"service", svc}, {"store", h.reads}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.svc.RosterItem(h.ctx, bob, alice); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
