package main

import (
	"flag"
	"io"
	"slices"
	"testing"

	"github.com/parley-xmpp/parley/bench/load"
)

// The cluster options: several addresses, the nodes' process IDs (the
// first is --pid's, the others the other nodes'), processes measured
// apart and the pairing.
func TestBenchClusterFlags(t *testing.T) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var b benchFlags
	b.register(fs)
	err := fs.Parse([]string{"--address", "127.0.0.1:15222, 127.0.0.2:15222,127.0.0.3:15222", "--pid", "11,12,13",
		"--cpu-pid", "14", "--pairing", "same-node", "--first", "10", "--scenario", "login,idle,chat"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, scenarios, err := b.config(io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(scenarios) != 3 || !slices.Equal(cfg.Dialer.Addrs, []string{"127.0.0.1:15222", "127.0.0.2:15222", "127.0.0.3:15222"}) {
		t.Errorf("scenarios %v, addresses %q", scenarios, cfg.Dialer.Addrs)
	}
	if cfg.PID != 11 || !slices.Equal(cfg.NodePIDs, []int{12, 13}) || !slices.Equal(cfg.CPUPIDs, []int{14}) {
		t.Errorf("processes: --pid %d, nodes %v, apart %v; want 11, [12 13], [14]", cfg.PID, cfg.NodePIDs, cfg.CPUPIDs)
	}
	if cfg.Dialer.Pairing != load.PairsSameNode || cfg.First != 10 {
		t.Errorf("pairing %v from account %d, want same-node from 10", cfg.Dialer.Pairing, cfg.First)
	}

	// The defaults: one server, cross-node pairing, no process.
	fs = flag.NewFlagSet("bench", flag.ContinueOnError)
	b = benchFlags{}
	b.register(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if cfg, _, err = b.config(io.Discard); err != nil {
		t.Fatal(err)
	}
	if cfg.PID != 0 || cfg.NodePIDs != nil || cfg.CPUPIDs != nil || cfg.Dialer.Pairing != load.PairsCrossNode {
		t.Errorf("defaults: --pid %d, nodes %v, apart %v, pairing %v", cfg.PID, cfg.NodePIDs, cfg.CPUPIDs, cfg.Dialer.Pairing)
	}
}
