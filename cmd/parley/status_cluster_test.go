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
		{Name: "a", Self: true, Alive: true, Sessions: 3},
		{Name: "b", Alive: false, Renewed: renewed, Sessions: 0},
		{Name: "c", Alive: true, Sessions: 1, Components: []string{"gw.example", "muc.example"}},
	}, Components: []admin.Component{
		{Domain: "gw.example", Node: "c"},
		{Domain: "here.example", Connected: true, Node: "a"},
		{Domain: "muc.example", Node: "c"},
		{Domain: "off.example"},
	}})
	for _, want := range []string{"cluster: 3 nodes\n", "  a: alive, this node, 3 sessions\n", "  b: dead (lease last renewed 2026-01-02T03:04:05Z), 0 sessions\n",
		"  c: alive, 1 sessions, components gw.example, muc.example\n",
		"components: 3 of 4 connected: gw.example (connected to c), here.example (connected), muc.example (connected to c), off.example (disconnected)\n"} {
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
