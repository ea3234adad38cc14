package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/parley-xmpp/parley/internal/sdnotify"
	"github.com/parley-xmpp/parley/server/app"
	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/loglevel"
	"github.com/parley-xmpp/parley/server/logring"
	"github.com/parley-xmpp/parley/server/modules"
)

// commonFlags are the flags every server-side command takes.
type commonFlags struct {
	config string
	data   string
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.config, "config", "", "YAML configuration file (default: none, zero-config)")
	fs.StringVar(&c.data, "data", "", "data folder (default ./parley-data, or $PARLEY_DATA)")
}

// load reads the configuration with the precedence flag > env > file >
// default. A bad configuration is an exit-2 error naming file, line and key,
// the modules' own sections (decoded by the modules) included.
func (c *commonFlags) load(env func(string) string) (*config.Config, error) {
	cfg := config.Default()
	if c.config != "" {
		var err error
		if cfg, err = config.LoadModules(c.config, modules.ConfigDecoders); err != nil {
			return nil, &exitError{code: 2, err: err}
		}
	}
	switch {
	case c.data != "":
		cfg.DataDir = c.data
	case env("PARLEY_DATA") != "":
		cfg.DataDir = env("PARLEY_DATA")
	}
	if err := cfg.Validate(); err != nil {
		return nil, &exitError{code: 2, err: err}
	}
	return cfg, nil
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	log, _, _ := newLeveledLogger(cfg, w)
	return log
}

// newLeveledLogger returns the server's logger, its levels, which
// change at run time (parley log-level, reload), and the ring of its
// recent warnings and errors (kept whatever the levels), which the web
// admin pages show.
func newLeveledLogger(cfg *config.Config, w io.Writer) (*slog.Logger, *loglevel.Levels, *logring.Ring) {
	levels := loglevel.New(cfg.Log.Level)
	opts := &slog.HandlerOptions{Level: slog.LevelDebug} // levels decides
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.Log.Format == config.LogJSON {
		h = slog.NewJSONHandler(w, opts)
	}
	recent := logring.New(logring.DefaultSize)
	return slog.New(recent.Handler(levels.Handler(h))), levels, recent
}

func runServe(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("parley serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf commonFlags
	cf.register(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: parley serve [--config FILE] [--data DIR] [--pprof host:port]")
		fmt.Fprintln(fs.Output(), "Runs the server until SIGINT or SIGTERM; without --config it serves localhost.")
		fs.PrintDefaults()
	}
	pprofAddr := fs.String("pprof", "", "serve net/http/pprof on this host:port, e.g. 127.0.0.1:6060 (default: off)")
	if code := parseFlags(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	cfg, err := cf.load(env)
	if err != nil {
		fmt.Fprintln(stderr, "parley:", err)
		return exitCode(err)
	}
	log, levels, recent := newLeveledLogger(cfg, stderr)
	if *pprofAddr != "" {
		stopPprof, err := servePprof(*pprofAddr, log)
		if err != nil {
			fmt.Fprintln(stderr, "parley:", err)
			return 1
		}
		defer stopPprof()
	}
	a, err := app.Open(ctx, cfg, log)
	if err != nil {
		log.Error("server did not start", "err", err)
		fmt.Fprintln(stderr, "parley:", err)
		return 1
	}
	defer a.Close()
	a.EnableAdmin(app.AdminOptions{Version: version, Levels: levels, Recent: recent, Load: func() (*config.Config, error) { return cf.load(env) }})
	// Under systemd (Type=notify) the service manager hears READY=1 once
	// the listeners are up, RELOADING=1 then READY=1 around a reload on
	// SIGHUP (systemctl reload), and STOPPING=1 as the server begins to
	// stop.
	notify := sdnotify.New(env("NOTIFY_SOCKET"))
	stopHUP := reloadOnHUP(ctx, a, log, notify)
	defer stopHUP()
	runDone := make(chan struct{})
	defer close(runDone)
	go func() {
		select {
		case <-ctx.Done():
			if err := notify.Stopping("stopping: " + context.Cause(ctx).Error()); err != nil {
				log.Warn("telling the service manager", "err", err)
			}
		case <-runDone:
		}
	}()
	// Run logs when and why the server stops (a signal, a listener that
	// failed) with its uptime; a failure to start is logged here.
	started := false
	err = a.Run(ctx, nil, func(a *app.App) {
		started = true
		summary := a.Summary()
		fmt.Fprintln(stdout, summary)
		if err := notify.Ready(strings.TrimPrefix(summary, "parley: ")); err != nil {
			log.Warn("telling the service manager", "err", err)
		}
	})
	if err != nil {
		if !started {
			log.Error("server did not start", "err", err)
		}
		fmt.Fprintln(stderr, "parley:", err)
		return 1
	}
	return 0
}

// reloadOnHUP reloads the configuration of a on SIGHUP (as parley
// reload does) until the returned function is called, telling the
// service manager through notify.
func reloadOnHUP(ctx context.Context, a *app.App, log *slog.Logger, notify *sdnotify.Notifier) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-hup:
			}
			ops := a.Admin()
			if ops == nil {
				log.Warn("SIGHUP before the server started: not reloaded")
				continue
			}
			if err := notify.Reloading(); err != nil {
				log.Warn("telling the service manager", "err", err)
			}
			// The reload logs what it applied.
			var status string
			if _, err := ops.Reload(ctx); err != nil {
				log.Error("reload on SIGHUP failed; the configuration in force is unchanged", "err", err)
				status = "reload failed, configuration unchanged: " + err.Error()
			} else {
				status = "reloaded: " + strings.TrimPrefix(a.Summary(), "parley: ")
			}
			if err := notify.Ready(status); err != nil {
				log.Warn("telling the service manager", "err", err)
			}
		}
	}()
	return func() { signal.Stop(hup); close(done) }
}

// servePprof serves the net/http/pprof handlers on addr until the returned
// function is called. It is a debugging aid: anyone who can reach addr can
// read profiles, so it belongs on loopback.
func servePprof(addr string, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pprof listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("pprof server stopped", "err", err)
		}
	}()
	log.Warn("serving pprof profiles", "address", ln.Addr().String())
	return func() { _ = srv.Close() }, nil
}
