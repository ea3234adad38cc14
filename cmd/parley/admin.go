package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/parley-xmpp/parley/server/admin"
	"github.com/parley-xmpp/parley/server/admin/socket"
	"github.com/parley-xmpp/parley/server/module"
)

// liveCommand describes one command acting on the running server through
// its admin socket.
type liveCommand struct {
	args  string // the positional arguments, for the usage line
	about string
	// nargs is the number of positional arguments, -1 for 0 or 1.
	nargs int
	// flags registers the command's own flags and returns what makes the
	// request's arguments of them and of the positional arguments.
	flags func(fs *flag.FlagSet) func(pos []string) socket.Args
	// run calls the server and prints the result.
	run func(ctx context.Context, c *socket.Client, a socket.Args, stdout io.Writer, asJSON bool) error
}

var liveCommands = map[string]liveCommand{
	"status": {about: "Shows the running server's version, uptime, sessions, links, components, memory and goroutines.",
		run: func(ctx context.Context, c *socket.Client, a socket.Args, w io.Writer, asJSON bool) error {
			var st admin.Status
			if err := c.Call(ctx, "status", a, &st); err != nil {
				return err
			}
			if asJSON {
				return printJSON(w, st)
			}
			printStatus(w, st)
			return nil
		}},
	"sessions": {about: "Lists the sessions of the running server.",
		flags: func(fs *flag.FlagSet) func(pos []string) socket.Args {
			d := fs.String("domain", "", "only the sessions of this domain")
			return func([]string) socket.Args { return socket.Args{Domain: *d} }
		},
		run: func(ctx context.Context, c *socket.Client, a socket.Args, w io.Writer, asJSON bool) error {
			var ss []admin.Session
			if err := c.Call(ctx, "sessions", a, &ss); err != nil {
				return err
			}
			if asJSON {
				return printJSON(w, ss)
			}
			if len(ss) == 0 {
				fmt.Fprintln(w, "no sessions")
				return nil
			}
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "JID\tTRANSPORT\tREMOTE\tPRESENCE")
			for _, s := range ss {
				p := "unavailable"
				if s.Available {
					p = fmt.Sprintf("available (%d)", s.Priority)
				}
				if s.Detached {
					p += ", detached"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.JID, s.Transport, s.Remote, p)
			}
			return tw.Flush()
		}},
	"kick": {args: "JID", nargs: 1, about: "Ends the session of a full JID, or all sessions of a bare JID, with a stream error carrying the reason.",
		flags: func(fs *flag.FlagSet) func(pos []string) socket.Args {
			r := fs.String("reason", "", "the text of the stream error (default: "+admin.DefaultKickReason+")")
			return func(pos []string) socket.Args { return socket.Args{JID: pos[0], Reason: *r} }
		},
		run: func(ctx context.Context, c *socket.Client, a socket.Args, w io.Writer, asJSON bool) error {
			var ended []string
			if err := c.Call(ctx, "kick", a, &ended); err != nil {
				return err
			}
			if asJSON {
				return printJSON(w, ended)
			}
			printEnded(w, ended, a.JID)
			return nil
		}},
	"reload": {about: "Re-reads the configuration and the certificates without ending sessions (as SIGHUP does) and says what changed and what needs a restart.",
		run: func(ctx context.Context, c *socket.Client, a socket.Args, w io.Writer, asJSON bool) error {
			var r admin.ReloadReport
			if err := c.Call(ctx, "reload", a, &r); err != nil {
				return err
			}
			if asJSON {
				return printJSON(w, r)
			}
			printReload(w, r)
			return nil
		}},
	"log-level": {args: "[LEVEL]", nargs: -1, about: "Sets the log level (debug, info, warn, error) of the running server, or of one module (\"default\" removes a module's own level); without LEVEL shows the levels.",
		flags: func(fs *flag.FlagSet) func(pos []string) socket.Args {
			m := fs.String("module", "", "the module or component (muc, router, c2s, s2s, auth, ...); default: all without a level of their own")
			return func(pos []string) socket.Args {
				a := socket.Args{Module: *m}
				if len(pos) > 0 {
					a.Level = pos[0]
				}
				return a
			}
		},
		run: func(ctx context.Context, c *socket.Client, a socket.Args, w io.Writer, asJSON bool) error {
			var l admin.LogLevels
			if err := c.Call(ctx, "log_level", a, &l); err != nil {
				return err
			}
			if asJSON {
				return printJSON(w, l)
			}
			fmt.Fprintf(w, "default: %s\n", l.Default)
			for _, m := range sortedKeys(l.Modules) {
				fmt.Fprintf(w, "%s: %s\n", m, l.Modules[m])
			}
			return nil
		}},
	"announce": {args: "TEXT", nargs: 1, about: "Sends a message from the server's domain to every online user.",
		flags: func(fs *flag.FlagSet) func(pos []string) socket.Args {
			return func(pos []string) socket.Args { return socket.Args{Text: pos[0]} }
		},
		run: func(ctx context.Context, c *socket.Client, a socket.Args, w io.Writer, asJSON bool) error {
			var n int
			if err := c.Call(ctx, "announce", a, &n); err != nil {
				return err
			}
			if asJSON {
				return printJSON(w, n)
			}
			fmt.Fprintf(w, "announced to %d session(s)\n", n)
			return nil
		}},
	"rooms": {about: "Lists the multi-user chat rooms: name, occupants, persistent.",
		run: func(ctx context.Context, c *socket.Client, a socket.Args, w io.Writer, asJSON bool) error {
			var rooms []admin.Room
			if err := c.Call(ctx, "rooms", a, &rooms); err != nil {
				return err
			}
			if asJSON {
				return printJSON(w, rooms)
			}
			if len(rooms) == 0 {
				fmt.Fprintln(w, "no rooms")
				return nil
			}
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ROOM\tNAME\tOCCUPANTS\tPERSISTENT\tPUBLIC")
			for _, r := range rooms {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", r.JID, orDash(r.Name), r.Occupants, yesNo(r.Persistent), yesNo(r.Public))
			}
			return tw.Flush()
		}},
}

// runLive runs one of liveCommands.
func runLive(ctx context.Context, name string, args []string, env func(string) string, stdout, stderr io.Writer) int {
	lc := liveCommands[name]
	fs := flag.NewFlagSet("parley "+name, flag.ContinueOnError)
	var cf commonFlags
	cf.register(fs)
	asJSON := fs.Bool("json", false, "print the result as JSON")
	argsOf := func([]string) socket.Args { return socket.Args{} }
	if lc.flags != nil {
		argsOf = lc.flags(fs)
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: parley %s [--config FILE] [--data DIR] [flags] %s\n%s\nIt reaches the running server through the admin socket in the data folder.\n", name, lc.args, lc.about)
		fs.PrintDefaults()
	}
	// Flags may come after the positional arguments too (kick JID
	// --reason TEXT).
	var pos []string
	for rest := args; ; {
		if code := parseFlags(fs, rest, stdout, stderr); code >= 0 {
			return code
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if (lc.nargs >= 0 && len(pos) != lc.nargs) || (lc.nargs < 0 && len(pos) > 1) {
		fs.Usage()
		return 2
	}
	cfg, err := cf.load(env)
	if err != nil {
		fmt.Fprintln(stderr, "parley:", err)
		return exitCode(err)
	}
	c, err := socket.Dial(ctx, cfg.DataDir)
	if err != nil {
		fmt.Fprintln(stderr, "parley:", err)
		return 1
	}
	defer c.Close()
	if err := lc.run(ctx, c, argsOf(pos), stdout, *asJSON); err != nil {
		fmt.Fprintln(stderr, "parley:", err)
		var se *socket.Error
		if errors.As(err, &se) && se.Code == "invalid" {
			return 2
		}
		return 1
	}
	return 0
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printStatus(w io.Writer, st admin.Status) {
	fmt.Fprintf(w, "parley %s, up %s (since %s)\n", st.Version, st.Uptime, st.Started.UTC().Format("2006-01-02T15:04:05Z"))
	fmt.Fprintf(w, "sessions: %d\n", st.Total)
	for _, s := range st.Sessions {
		fmt.Fprintf(w, "  %s over %s: %d\n", s.Domain, s.Transport, s.Count)
	}
	fmt.Fprintf(w, "s2s links: %d\n", len(st.Links))
	if len(st.Links) > 0 {
		links := make([]module.FederationLink, 0, len(st.Links))
		for _, l := range st.Links {
			links = append(links, module.FederationLink{Local: l.Local, Remote: l.Remote, Incoming: l.Incoming, State: l.State, Auth: l.Auth, TLS: l.TLS, Since: l.Since})
		}
		printLinks(w, links)
	}
	connected := 0
	var comps []string
	for _, c := range st.Components {
		state := "disconnected"
		switch {
		case c.Connected:
			connected++
			state = "connected"
		case c.Node != "":
			connected++
			state = "connected to " + c.Node
		}
		comps = append(comps, c.Domain+" ("+state+")")
	}
	fmt.Fprintf(w, "components: %d of %d connected", connected, len(st.Components))
	if len(comps) > 0 {
		fmt.Fprintf(w, ": %s", strings.Join(comps, ", "))
	}
	fmt.Fprintln(w)
	if len(st.Cluster) > 0 {
		fmt.Fprintf(w, "cluster: %d nodes\n", len(st.Cluster))
		for _, n := range st.Cluster {
			state := "alive"
			if !n.Alive {
				state = "dead (lease last renewed " + n.Renewed.UTC().Format("2006-01-02T15:04:05Z") + ")"
			}
			if n.Self {
				state += ", this node"
			}
			fmt.Fprintf(w, "  %s: %s, %d sessions", n.Name, state, n.Sessions)
			if len(n.Components) > 0 {
				fmt.Fprintf(w, ", components %s", strings.Join(n.Components, ", "))
			}
			fmt.Fprintln(w)
		}
	}
	fmt.Fprintf(w, "memory: RSS %s, Go heap %s, from the OS %s\n", mib(st.Memory.RSS), mib(st.Memory.HeapAlloc), mib(st.Memory.Sys))
	fmt.Fprintf(w, "goroutines: %d\n", st.Goroutines)
}

func printReload(w io.Writer, r admin.ReloadReport) {
	if len(r.Applied) == 0 && len(r.NeedRestart) == 0 {
		fmt.Fprintln(w, "reloaded: nothing changed")
		return
	}
	if len(r.Applied) > 0 {
		fmt.Fprintf(w, "applied: %s\n", strings.Join(r.Applied, ", "))
	}
	if len(r.NeedRestart) > 0 {
		fmt.Fprintf(w, "changed, needs a restart: %s\n", strings.Join(r.NeedRestart, ", "))
	}
}

// printEnded says which sessions of target ended.
func printEnded(w io.Writer, ended []string, target string) {
	if len(ended) == 0 {
		fmt.Fprintf(w, "%s had no session\n", target)
		return
	}
	fmt.Fprintf(w, "ended %d session(s): %s\n", len(ended), strings.Join(ended, ", "))
}

func mib(b uint64) string {
	if b == 0 {
		return "unknown"
	}
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
