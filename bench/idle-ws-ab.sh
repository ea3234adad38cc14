#!/bin/bash
# bench/idle-ws-ab.sh BIN... — idle memory per session over TCP (STARTTLS)
# and over WebSocket (wss://, the https listener) for each parley binary
# given (TRANSPORTS="tcp ws"; add bosh for XMPP over BOSH, https://…/http-bind),
# one fresh server process per binary and transport, N sessions
# (N=2000) held for DURATION (12s) after a 5 s settle; prints one JSON
# report a line (parley bench --json, with "binary" and "transport"
# added). For comparing builds in one run: hold the bench lock,
#   bench/idle-ws-ab.sh /tmp/parley-old /tmp/parley-new
# Ports 17222 (c2s), 17280 (https) and 17260 (pprof) on 127.0.0.1. A heap
# profile and a goroutine dump of each WebSocket and BOSH run, taken 20 s
# in, are left in $OUT (/tmp/parley-idle-ws-ab).
set -euo pipefail
N=${N:-2000}
DUR=${DURATION:-12s}
OUT=${OUT:-/tmp/parley-idle-ws-ab}
rm -rf "$OUT" && mkdir -p "$OUT"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
	-keyout "$OUT/key.pem" -out "$OUT/cert.pem" 2>/dev/null
cat >"$OUT/parley.yaml" <<YAML
domains: [localhost]
data_dir: $OUT/data
listeners:
  - {type: c2s, address: "127.0.0.1:17222"}
  - {type: https, address: "127.0.0.1:17280"}
tls:
  certificates: [{cert: $OUT/cert.pem, key: $OUT/key.pem}]
auth: {scram_iterations: 4096, max_failure_delay: 0s}
registration: {enabled: true, min_password_length: 1, max_per_ip_per_hour: 0}
limits:
  preauth_timeout: 60s
  preauth_connections_per_address: 0
  rate: {bytes_per_second: 0, stanzas_per_second: 0}
  preauth_rate: {bytes_per_second: 0, stanzas_per_second: 0}
log: {level: warn}
modules: {disabled: [mam]}
YAML
created=
for bin in "$@"; do
	for t in ${TRANSPORTS:-tcp ws}; do
		"$bin" serve --config "$OUT/parley.yaml" --pprof 127.0.0.1:17260 2>>"$OUT/server.log" &
		pid=$!
		for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/17222) 2>/dev/null && break; sleep 0.1; done
		if [ -z "$created" ]; then
			"$bin" bench --create --scenario login --count "$N" --concurrency 8 --quiet --insecure --address 127.0.0.1:17222 >/dev/null
			created=1
		fi
		ws=()
		[ $t = ws ] && ws=(--websocket wss://127.0.0.1:17280/xmpp-websocket)
		[ $t = bosh ] && ws=(--bosh https://127.0.0.1:17280/http-bind)
		"$bin" bench --scenario idle --count "$N" --pid $pid --duration "$DUR" --settle 5s --insecure --quiet --json \
			--address 127.0.0.1:17222 "${ws[@]}" >"$OUT/report.json" &
		b=$!
		if [ $t != tcp ]; then
			sleep 20
			tag=$(basename "$bin")-$t
			curl -s -o "$OUT/heap-$tag.pb.gz" http://127.0.0.1:17260/debug/pprof/heap || true
			curl -s -o "$OUT/goroutines-$tag.txt" "http://127.0.0.1:17260/debug/pprof/goroutine?debug=1" || true
		fi
		wait $b
		kill $pid
		wait $pid 2>/dev/null || true
		jq -c --arg b "$bin" --arg t $t '. + {binary: $b, transport: $t}' "$OUT/report.json"
	done
done
