package extdisco_test

import (
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/mod/extdisco"
)

// Invalid settings are reported with their keys.
func TestConfigureRejects(t *testing.T) {
	for key, v := range map[string]any{
		"ttl":                 "1s",
		"relay_address":       "::1",
		"allow_peers":         []string{"10.0.0.0/33"},
		"deny_peers":          []string{"nonsense"},
		"min_port":            70000,
		"max_connections":     -1,
		"idle_timeout":        "-1s",
		"external_transports": []string{"sctp"},
		"external_port":       -5,
		"external_host":       "turn.example.net", // without external_secret
	} {
		var mods config.Modules
		mods.SetSection("extdisco", map[string]any{key: v})
		err := mods.Configure(map[string]config.SectionDecoder{"extdisco": extdisco.New(extdisco.Options{}).Configure})
		if err == nil {
			t.Errorf("%s: %v accepted", key, v)
			continue
		}
		if want := "modules.extdisco."; !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %q does not name the key", key, err)
		}
	}
	var mods config.Modules
	mods.SetSection("extdisco", map[string]any{"ttl": "1h", "relay_address": "203.0.113.7", "allow_peers": []string{"192.168.0.0/16", "10.0.0.1"},
		"min_port": 40000, "max_port": 40100, "external_host": "turn.example.net", "external_secret": "s", "external_transports": []string{"udp"}})
	if err := mods.Configure(map[string]config.SectionDecoder{"extdisco": extdisco.New(extdisco.Options{}).Configure}); err != nil {
		t.Fatalf("valid settings: %v", err)
	}
}
