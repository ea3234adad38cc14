package app_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpptest"
)

// Stopping a server is not a failure of its listeners: it closes them
// before it ends their contexts, and none may report that as an error
// (the HTTP listeners did: "HTTP listener failed … use of closed network
// connection" at ERROR on every shutdown).
func TestStopLogsNoListenerError(t *testing.T) {
	var buf xmpptest.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	s := xmpptest.NewServerWithLog(t, log, func(c *config.Config) {
		c.Listeners = append(c.Listeners,
			config.Listener{Type: config.ListenerHTTP, Address: "127.0.0.1:0"},
			config.Listener{Type: config.ListenerHTTPS, Address: "127.0.0.1:0"},
			config.Listener{Type: config.ListenerProxy65, Address: "127.0.0.1:0"},
			config.Listener{Type: config.ListenerAdmin, Address: "127.0.0.1:0"},
			config.Listener{Type: config.ListenerTURN, Address: "127.0.0.1:0"},
			config.Listener{Type: config.ListenerComponent, Address: "127.0.0.1:0"})
	})
	s.App.Stop(xmpptest.Context(t, 10*time.Second))
	for _, line := range strings.Split(buf.String(), "\n") {
		if strings.Contains(line, "level=ERROR") {
			t.Errorf("at shutdown: %s", line)
		}
	}
}
