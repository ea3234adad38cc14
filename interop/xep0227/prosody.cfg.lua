-- Prosody configuration for interop/xep0227_test.go: internal storage in
-- the test's folder, hashed passwords, no network listener needed (the
-- accounts are created with prosodyctl and the data exported offline).
-- {{DIR}} is replaced by the test's folder.
pidfile = "{{DIR}}/prosody.pid"
data_path = "{{DIR}}/data"
storage = "internal"
authentication = "internal_hashed"
log = { error = "{{DIR}}/prosody.err" }
modules_enabled = { "roster"; "saslauth"; "vcard"; "private" }
c2s_ports = { }
s2s_ports = { }
VirtualHost "localhost"
