package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	modupload "github.com/parley-xmpp/parley/server/mod/upload"
	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/modules"
)

// runUpload administers the files of HTTP File Upload (XEP-0363): today
// `parley upload purge --older-than DURATION`, which deletes the files
// uploaded longer ago than that (the server also deletes them once
// modules.upload.retention has passed).
func runUpload(_ context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("parley upload purge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf commonFlags
	cf.register(fs)
	olderThan := fs.Duration("older-than", 0, "delete the files uploaded longer ago than this, e.g. 720h")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: parley upload purge --older-than DURATION [--config FILE] [--data DIR]")
		fs.PrintDefaults()
	}
	if len(args) == 0 || args[0] != "purge" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			fs.SetOutput(stdout)
			fs.Usage()
			return 0
		}
		fs.Usage()
		return 2
	}
	if code := parseFlags(fs, args[1:], stdout, stderr); code >= 0 {
		return code
	}
	if *olderThan <= 0 || fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	cfg, err := cf.load(env)
	if err != nil {
		fmt.Fprintln(stderr, "parley:", err)
		return exitCode(err)
	}
	m, err := uploadModule(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "parley:", err)
		return 2
	}
	store := m.Store()
	if err := store.Open(); err != nil {
		fmt.Fprintln(stderr, "parley:", err)
		return 1
	}
	n, err := store.Purge(time.Now().Add(-*olderThan))
	if err != nil {
		fmt.Fprintln(stderr, "parley:", err)
		return 1
	}
	fmt.Fprintf(stdout, "deleted %d uploaded files older than %s from %s\n", n, *olderThan, store.Options().Dir)
	return 0
}

// uploadModule is the upload module configured as the server would be.
func uploadModule(cfg *config.Config) (*modupload.Module, error) {
	mods := modules.Default(cfg)
	if err := cfg.Modules.Configure(module.ConfigDecoders(mods)); err != nil {
		return nil, err
	}
	for _, m := range mods {
		if u, ok := m.(*modupload.Module); ok {
			return u, nil
		}
	}
	return nil, fmt.Errorf("no upload module")
}
