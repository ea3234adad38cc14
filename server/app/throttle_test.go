package app

import (
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/auth"
	"github.com/parley-xmpp/parley/server/config"
)

// The throttle follows the configuration, keeps every wait to half the
// preauthentication timeout (a slowed login must still complete), and is
// off when max_failure_delay is 0.
func TestThrottleFromConfig(t *testing.T) {
	cfg := config.Default()
	want := auth.Throttle{FreePerAccount: 5, FreePerAddress: 20, Delay: time.Second, MaxDelay: 15 * time.Second, Window: 10 * time.Minute}
	if got := throttle(cfg); got != want {
		t.Errorf("defaults: %+v, want %+v", got, want)
	}
	cfg.Limits.PreauthTimeout = 10 * time.Second
	cfg.Auth.FailureDelay = 8 * time.Second
	if got := throttle(cfg); got.MaxDelay != 5*time.Second || got.Delay != 5*time.Second {
		t.Errorf("preauth_timeout 10s: delay %v, max %v; want both 5s", got.Delay, got.MaxDelay)
	}
	cfg.Auth.MaxFailureDelay = 0
	if got := throttle(cfg); got.MaxDelay >= 0 {
		t.Errorf("max_failure_delay 0: %+v, want throttling off", got)
	}
}
