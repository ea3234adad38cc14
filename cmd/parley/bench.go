package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/parley-xmpp/parley/bench/load"
	"github.com/parley-xmpp/parley/xmpp/sasl"
)

// benchFlags are the options of "parley bench".
type benchFlags struct {
	addresses, domain, user, password, tlsMode, mechanism, sources string
	scenarios, caFile, curves, cpuProfile, keyFile, restartCmd     string
	peerAddresses, peerDomain, linkDomain, webSocket, bosh         string
	first, count, concurrency, window, pid, roster, roomSize       int
	size, peerPID, links, verifyArchive                            int
	loginRate, rate                                                float64
	duration, settle, drain, timeout, progress, joinTimeout        time.Duration
	insecure, create, jsonOut, quiet, archive                      bool
	// Cluster mode: the other nodes' processes (--pid's list after the
	// first), processes measured apart (--cpu-pid) and --pairing.
	nodePIDs, cpuPIDs []int
	pairing           string
}

func (b *benchFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&b.addresses, "address", "127.0.0.1:5222", "server address(es) host:port, comma-separated (used round-robin)")
	fs.StringVar(&b.domain, "domain", "localhost", "XMPP domain of the accounts")
	fs.StringVar(&b.user, "user", "user%d", "account localpart pattern; %d is the account index")
	fs.StringVar(&b.password, "password", "password", "password (pattern: %d is the account index)")
	fs.IntVar(&b.first, "first", 0, "index of the first account")
	fs.IntVar(&b.count, "count", 100, "number of sessions")
	fs.StringVar(&b.tlsMode, "tls", "starttls", "TLS mode: starttls or direct (not with --websocket or --bosh)")
	fs.StringVar(&b.webSocket, "websocket", "", "connect with XMPP over WebSocket (RFC 7395) to this ws:// or wss:// URL instead of --address (TLS: wss://)")
	fs.StringVar(&b.bosh, "bosh", "", "connect with XMPP over BOSH (XEP-0124, XEP-0206) to this http:// or https:// URL instead of --address (TLS: https://)")
	fs.StringVar(&b.mechanism, "mechanism", sasl.ScramSHA1, "SASL mechanism: SCRAM-SHA-1, SCRAM-SHA-256 or PLAIN")
	fs.BoolVar(&b.insecure, "insecure", false, "do not verify the server certificate")
	fs.StringVar(&b.caFile, "cafile", "", "PEM file of the CA (or self-signed certificate) to trust")
	fs.StringVar(&b.curves, "curves", "", "TLS key exchanges to offer, comma-separated, in order of preference ("+load.CurveNames+"; default: Go's)")
	fs.StringVar(&b.sources, "sources", load.DefaultSources, `local source addresses: a range A-B or a list ("" lets the kernel choose)`)
	fs.StringVar(&b.scenarios, "scenario", "login", "scenario(s), comma-separated: "+strings.Join(load.Scenarios, ", "))
	fs.BoolVar(&b.create, "create", false, "create the accounts with in-band registration (XEP-0077) first")
	fs.Float64Var(&b.loginRate, "login-rate", 0, "logins per second (0: as fast as --concurrency allows)")
	fs.IntVar(&b.concurrency, "concurrency", 64, "logins in progress at once")
	fs.DurationVar(&b.timeout, "login-timeout", 30*time.Second, "time limit of one login")
	fs.DurationVar(&b.duration, "duration", 10*time.Second, "length of the measured phase (idle hold, chat, muc, presence)")
	fs.Float64Var(&b.rate, "rate", 0, "messages or presence updates per second over all senders (0: saturate within --window)")
	fs.IntVar(&b.window, "window", 8, "messages one sender may have in flight")
	fs.DurationVar(&b.drain, "drain", 5*time.Second, "how long to wait for deliveries after sending stops")
	fs.Func("pid", "server process ID whose RSS/PSS the idle, flood, s2s and s2s-links scenarios report (/proc/PID/smaps_rollup), and whose processor time the chat scenario reports; a cluster: the nodes' IDs, comma-separated (summed; not with s2s, s2s-links)", func(s string) error {
		pids, err := load.ParsePIDs(s)
		if err == nil && len(pids) == 0 {
			err = errors.New("no process ID")
		}
		if err != nil {
			return err
		}
		b.pid, b.nodePIDs = pids[0], pids[1:]
		return nil
	})
	fs.Func("cpu-pid", "chat: process IDs, comma-separated, whose processor time over the traffic is reported apart from the server's (e.g. a cluster's NATS server; needs --pid)", func(s string) error {
		pids, err := load.ParsePIDs(s)
		b.cpuPIDs = pids
		return err
	})
	fs.StringVar(&b.pairing, "pairing", "cross-node", "with several --address (the nodes of a cluster): cross-node puts session i on address i mod N, so that chat partners (2k, 2k+1) are on different nodes; same-node puts pair k on address k mod N (needs an even --first)")
	fs.DurationVar(&b.settle, "settle", 2*time.Second, "idle, s2s-links: wait after the logins (s2s-links: and after each half of the links) before reading memory")
	fs.IntVar(&b.roster, "roster", 10, "presence: roster size R (even; mutual subscriptions set up with the roster protocol)")
	fs.IntVar(&b.roomSize, "room-size", 10, "muc: occupants per room")
	fs.DurationVar(&b.joinTimeout, "join-timeout", 2*time.Minute, "muc: how long each joining pass (room creators, then the others) may take")
	fs.BoolVar(&b.archive, "archive", false, "muc: persistent rooms with message archiving on (set with each room's configuration form)")
	fs.IntVar(&b.verifyArchive, "verify-archive", 0, "chat: after the traffic, read back with MAM (XEP-0313) the archives of the accounts of this many pairs and check that every message delivered to them is archived once by its recipient and once by its sender (0: no check)")
	fs.StringVar(&b.peerAddresses, "peer-address", "", "s2s: the second server's address(es) host:port, comma-separated (the odd sessions log in there)")
	fs.StringVar(&b.peerDomain, "peer-domain", "", "s2s: XMPP domain of the accounts on the second server")
	fs.IntVar(&b.peerPID, "peer-pid", 0, "s2s, s2s-links: the second server's process ID, whose RSS/PSS is reported with --pid's")
	fs.IntVar(&b.links, "links", 100, "s2s-links: number of remote domains to open a link to (one ping each)")
	fs.StringVar(&b.linkDomain, "link-domain", "", "s2s-links: remote domain pattern, %d is the domain's index (e.g. d%d.example; all served by one server, --peer-pid)")
	fs.IntVar(&b.size, "size", 200<<10, "flood: message body size in bytes (the --count-1 recipients are resources of account --first that never read; the sender is account --first+1)")
	fs.DurationVar(&b.progress, "progress", time.Second, "interval of progress lines on standard error (0: none)")
	fs.BoolVar(&b.jsonOut, "json", false, "print each report as one JSON object per line")
	fs.BoolVar(&b.quiet, "quiet", false, "no progress lines")
	fs.StringVar(&b.cpuProfile, "cpuprofile", "", "write a CPU profile of the generator itself to this file")
	fs.StringVar(&b.restartCmd, "restart-cmd", "", "storm: shell command (sh -c) restarting the server between the first logins and the storm; the storm waits until --address accepts connections again")
	fs.StringVar(&b.keyFile, "key-file", "", "file of derived SCRAM keys: read at start, written at the end, so that a later run skips PBKDF2 as a client storing its keys does")
}

// config turns the flags into a load.Config and the scenario list.
func (b *benchFlags) config(stderr io.Writer) (load.Config, []string, error) {
	var cfg load.Config
	addrs := splitList(b.addresses)
	if len(addrs) == 0 {
		return cfg, nil, errors.New("--address is required")
	}
	var direct bool
	switch b.tlsMode {
	case "starttls":
	case "direct":
		direct = true
	default:
		return cfg, nil, fmt.Errorf("--tls must be starttls or direct, not %q", b.tlsMode)
	}
	if b.webSocket != "" {
		if direct {
			return cfg, nil, errors.New("--tls direct does not apply to --websocket (use a wss:// URL)")
		}
		if !strings.HasPrefix(b.webSocket, "ws://") && !strings.HasPrefix(b.webSocket, "wss://") {
			return cfg, nil, fmt.Errorf("--websocket %q: want a ws:// or wss:// URL", b.webSocket)
		}
	}
	if b.bosh != "" {
		if direct {
			return cfg, nil, errors.New("--tls direct does not apply to --bosh (use an https:// URL)")
		}
		if b.webSocket != "" {
			return cfg, nil, errors.New("--bosh and --websocket are two transports: choose one")
		}
		if !strings.HasPrefix(b.bosh, "http://") && !strings.HasPrefix(b.bosh, "https://") {
			return cfg, nil, fmt.Errorf("--bosh %q: want an http:// or https:// URL", b.bosh)
		}
	}
	switch b.mechanism {
	case sasl.ScramSHA1, sasl.ScramSHA256, sasl.Plain:
	default:
		return cfg, nil, fmt.Errorf("--mechanism must be SCRAM-SHA-1, SCRAM-SHA-256 or PLAIN, not %q", b.mechanism)
	}
	var scenarios []string
	for _, s := range strings.Split(b.scenarios, ",") {
		s = strings.TrimSpace(s)
		if !slices.Contains(load.Scenarios, s) {
			return cfg, nil, fmt.Errorf("unknown scenario %q (want %s)", s, strings.Join(load.Scenarios, ", "))
		}
		scenarios = append(scenarios, s)
	}
	peerAddrs := splitList(b.peerAddresses)
	if slices.Contains(scenarios, "s2s") && (len(peerAddrs) == 0 || b.peerDomain == "") {
		return cfg, nil, errors.New("the s2s scenario needs --peer-address and --peer-domain")
	}
	if slices.Contains(scenarios, "s2s-links") && (b.links < 1 || strings.Count(b.linkDomain, "%d") != 1) {
		return cfg, nil, errors.New("the s2s-links scenario needs --links ≥ 1 and --link-domain with one %d")
	}
	if b.peerDomain != "" && b.peerDomain == b.domain {
		return cfg, nil, fmt.Errorf("--peer-domain must differ from --domain (%q)", b.domain)
	}
	if !strings.Contains(b.user, "%d") {
		return cfg, nil, fmt.Errorf("--user %q needs a %%d for the account index", b.user)
	}
	if b.count <= 0 {
		return cfg, nil, errors.New("--count must be positive")
	}
	if b.verifyArchive < 0 {
		return cfg, nil, errors.New("--verify-archive must not be negative")
	}
	pairing, err := load.ParsePairing(b.pairing)
	if err != nil {
		return cfg, nil, fmt.Errorf("--pairing: %w", err)
	}
	if pairing == load.PairsSameNode && b.first%2 != 0 {
		return cfg, nil, fmt.Errorf("--pairing same-node needs an even --first, not %d", b.first)
	}
	if len(b.cpuPIDs) > 0 && b.pid <= 0 {
		return cfg, nil, errors.New("--cpu-pid needs --pid")
	}
	if len(b.nodePIDs) > 0 && (slices.Contains(scenarios, "s2s") || slices.Contains(scenarios, "s2s-links")) {
		return cfg, nil, errors.New("the s2s and s2s-links scenarios take one --pid")
	}
	sources, err := load.ParseSources(b.sources)
	if err != nil {
		return cfg, nil, err
	}
	curves, err := load.ParseCurves(b.curves)
	if err != nil {
		return cfg, nil, fmt.Errorf("--curves: %w", err)
	}
	keys := load.NewKeyCache()
	if b.keyFile != "" {
		if keys, err = load.LoadKeyCache(b.keyFile); err != nil {
			return cfg, nil, fmt.Errorf("--key-file: %w", err)
		}
	}
	tc := &tls.Config{ServerName: b.domain, InsecureSkipVerify: b.insecure, MinVersion: tls.VersionTLS12, CurvePreferences: curves}
	if b.caFile != "" {
		pem, err := os.ReadFile(b.caFile)
		if err != nil {
			return cfg, nil, fmt.Errorf("--cafile: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return cfg, nil, fmt.Errorf("--cafile %s: no PEM certificate", b.caFile)
		}
	}
	cfg = load.Config{
		Dialer: load.Dialer{
			Addrs: addrs, Domain: b.domain, DirectTLS: direct, TLS: tc,
			Mechanism: b.mechanism, Sources: sources, Keys: keys, Resource: "bench", WebSocket: b.webSocket, BOSH: b.bosh,
			Pairing: pairing,
		},
		NodePIDs: b.nodePIDs, CPUPIDs: b.cpuPIDs,
		Peer:    load.Dialer{Addrs: peerAddrs, Domain: b.peerDomain},
		PeerPID: b.peerPID,
		Links:   b.links, LinkDomain: b.linkDomain,
		Archive:       b.archive,
		VerifyArchive: b.verifyArchive,
		JoinTimeout:   b.joinTimeout,
		UserFormat:    b.user, PasswordFormat: b.password, First: b.first, Count: b.count,
		Create: b.create, LoginRate: b.loginRate, Concurrency: b.concurrency, LoginTimeout: b.timeout,
		Duration: b.duration, Rate: b.rate, Window: b.window, Drain: b.drain, PID: b.pid,
		Settle: b.settle, Roster: b.roster, RoomSize: b.roomSize, MessageBytes: b.size,
		Log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if !b.quiet && b.progress > 0 {
		cfg.Progress, cfg.ProgressEvery = stderr, b.progress
	}
	if b.restartCmd != "" {
		if !slices.Contains(scenarios, "storm") {
			return cfg, nil, errors.New("--restart-cmd applies to the storm scenario only")
		}
		cfg.Restart = load.RestartCommand(b.restartCmd, addrs[0], time.Minute, stderr)
	}
	return cfg, scenarios, nil
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// runBench implements "parley bench", the load generator: it runs the
// scenarios one after another and prints a report for each. It returns 0
// when every scenario ran (errors seen by sessions are in the reports), 1
// when one could not run (or the key file could not be written) and 2 on
// usage errors.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	fs := flag.NewFlagSet("parley bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var b benchFlags
	b.register(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: parley bench --address host:port --domain D --count N --scenario "+strings.Join(load.Scenarios, ",")+" [flags]")
		fmt.Fprintln(fs.Output(), "Drives any XMPP server with N sessions of accounts user0…userN-1 (see --user, --password);")
		fmt.Fprintln(fs.Output(), "the s2s scenario logs the odd ones in on a second server (--peer-address, --peer-domain);\n"+
			"s2s-links logs one in and pings --links remote domains (--link-domain) to measure memory per s2s link.")
		fs.PrintDefaults()
	}
	if code := parseFlags(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "parley bench: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	cfg, scenarios, err := b.config(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "parley bench:", err)
		return 2
	}
	if b.cpuProfile != "" {
		stop, err := startCPUProfile(b.cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "parley bench:", err)
			return 1
		}
		defer stop()
	}
	if b.keyFile != "" {
		defer func() {
			if err := cfg.Dialer.Keys.Save(b.keyFile); err != nil {
				fmt.Fprintln(stderr, "parley bench: --key-file:", err)
				code = max(code, 1)
			}
		}()
	}
	enc := json.NewEncoder(stdout)
	for i, sc := range scenarios {
		if i > 0 {
			cfg.Create = false // the accounts exist now
		}
		if cfg.Progress != nil {
			against := strings.Join(cfg.Dialer.Addrs, ",")
			if cfg.Dialer.WebSocket != "" {
				against = cfg.Dialer.WebSocket
			}
			if cfg.Dialer.BOSH != "" {
				against = cfg.Dialer.BOSH
			}
			if sc == "s2s" {
				against += " and " + strings.Join(cfg.Peer.Addrs, ",")
			}
			fmt.Fprintf(stderr, "parley bench: %s with %d sessions against %s\n", sc, cfg.Count, against)
		}
		rep, err := load.Run(ctx, cfg, sc)
		if err != nil {
			fmt.Fprintf(stderr, "parley bench: %s: %v\n", sc, err)
			return 1
		}
		if b.jsonOut {
			if err := enc.Encode(rep); err != nil {
				fmt.Fprintln(stderr, "parley bench:", err)
				return 1
			}
		} else {
			rep.Format(stdout)
		}
	}
	return 0
}

// startCPUProfile profiles this process into file until stop is called:
// whether the generator, not the server, is what limits a run shows here.
func startCPUProfile(file string) (stop func(), err error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
