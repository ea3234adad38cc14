package app

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
)

// syncBuffer is a strings.Builder safe for the logger's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRunStopsWhenAListenerFails checks that a listener that stops
// accepting ends Run with its error, and that the stop is logged as an
// error with the reason and the uptime, rather than the server running on
// without it.
func TestRunStopsWhenAListenerFails(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Listeners = []config.Listener{{Type: config.ListenerC2S, Address: "127.0.0.1:0"}}
	var logs syncBuffer
	a, err := Open(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- a.Run(context.Background(), nil, func(*App) { close(ready) }) }()
	<-ready
	a.closeListeners() // Accept fails while the server is meant to run
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "listener 127.0.0.1:") {
			t.Fatalf("Run returned %v, want the listener's failure", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run went on after its only listener failed")
	}
	for _, want := range []string{
		`level=ERROR msg="server stopping" reason="listener 127.0.0.1:`,
		`level=ERROR msg="server stopped" reason="listener 127.0.0.1:`,
		"uptime=",
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}
