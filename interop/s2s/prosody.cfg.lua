-- Prosody as a federation peer for interop/s2s_test.go. {{DIR}}, {{IP}}
-- and {{DOMAIN}} are replaced by the test. It listens on {{IP}} only
-- (5222 for its users, 5269 for servers), requires TLS on both, trusts
-- only the test's CA and requires valid certificates from peers
-- (s2s_secure_auth), so that a peer authenticates with SASL EXTERNAL.
pidfile = "{{DIR}}/prosody.pid"
data_path = "{{DIR}}/data"
storage = "internal"
authentication = "internal_hashed"
log = { info = "{{DIR}}/prosody.log" }
interfaces = { "{{IP}}" }
c2s_ports = { 5222 }
s2s_ports = { 5269 }
c2s_direct_tls_ports = { }
s2s_direct_tls_ports = { }
modules_enabled = { "roster"; "saslauth"; "tls"; "dialback"; "disco"; "ping"; "presence" }
modules_disabled = { "s2s_bidi" }
c2s_require_encryption = true
s2s_require_encryption = true
s2s_secure_auth = true
ssl = {
	certificate = "{{DIR}}/server.crt";
	key = "{{DIR}}/server.key";
	cafile = "{{DIR}}/ca.pem";
}
unbound = { hoststxt = true }
VirtualHost "{{DOMAIN}}"
