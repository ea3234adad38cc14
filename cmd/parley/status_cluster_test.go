package main

import (
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/admin"
)

func TestPrintStatusCluster(t *testing.T) {
	renewed := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var b strings.Builder
	printStatus(&b, admin.Status{Cluster: []admin.ClusterNode{
		{Name: "a", Self: true, Alive: true, Sessions: 3, Rooms: 2},
		{Name: "b", Alive: false, Renewed: renewed, Sessions: 0},
	}})
	for _, want := range []string{"cluster: 2 nodes\n", "  a: alive, this node, 3 sessions, 2 chat rooms\n", "  b: dead (lease last renewed 2026-01-02T03:04:05Z), 0 sessions\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	printStatus(&b, admin.Status{})
	if strings.Contains(b.String(), "cluster") {
		t.Errorf("a server outside a cluster shows one:\n%s", b.String())
	}
}
