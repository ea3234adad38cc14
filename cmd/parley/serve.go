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
	"strings"
	"time"

	"github.com/parley-xmpp/parley/internal/sdnotify"
	"github.com/parley-xmpp/parley/server/app"
	"github.com/parley-xmpp/parley/server/config"
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
	opts := &slog.HandlerOptions{Level: cfg.Log.Level}
	if cfg.Log.Format == config.LogJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
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
	log := newLogger(cfg, stderr)
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
	// Under systemd (Type=notify) the service manager hears READY=1 once
	// the listeners are up and STOPPING=1 as the server begins to stop.
	notify := sdnotify.New(env("NOTIFY_SOCKET"))
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
