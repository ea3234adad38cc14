-- Prosody as a federation peer for interop/s2s_test.go and
-- interop/federation_test.go. {{DIR}}, {{IP}}, {{DOMAIN}} and {{SECURE}}
-- are replaced by the test. It listens on {{IP}} only (5222 for its
-- users, 5269 for servers), requires TLS on both and trusts only the
-- test's CA. With {{SECURE}} true it requires valid certificates from
-- peers (s2s_secure_auth), so that a peer authenticates with SASL
-- EXTERNAL; false, it accepts any certificate with Server Dialback.
-- hoststxt: Prosody resolves names with libunbound (lua-unbound), which
-- reads /etc/hosts only when told to; unbound answers every other name
-- under .test itself (NXDOMAIN, RFC 6761), so SRV lookups fail at once
-- and Prosody falls back to the domain's address on port 5269.
pidfile = "{{DIR}}/prosody.pid"
data_path = "{{DIR}}/data"
storage = "internal"
authentication = "internal_hashed"
log = { debug = "{{DIR}}/prosody.log" }
interfaces = { "{{IP}}" }
c2s_ports = { 5222 }
s2s_ports = { 5269 }
c2s_direct_tls_ports = { }
s2s_direct_tls_ports = { }
-- s2s_bidi (XEP-0288, off in Prosody's default configuration) is on: it
-- offers bidirectional streams, which Parley does not request, and never
-- asks for one unless offered; the links stay one-way.
modules_enabled = { "roster"; "saslauth"; "tls"; "dialback"; "disco"; "ping"; "presence"; "pep"; "s2s_bidi" }
c2s_require_encryption = true
s2s_require_encryption = true
s2s_secure_auth = {{SECURE}}
ssl = {
	certificate = "{{DIR}}/server.crt";
	key = "{{DIR}}/server.key";
	cafile = "{{DIR}}/ca.pem";
}
unbound = { hoststxt = true }
VirtualHost "{{DOMAIN}}"
