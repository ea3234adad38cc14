#!/bin/sh
# The flood of issue 9: three resources of one account that never read,
# and a fourth client sending them 200 KB messages as fast as the server
# takes them for 10 s. Starts a Parley with the tree's defaults (plus
# loopback listeners and a throwaway certificate) and reports, with
# `parley bench --scenario flood`, how much the server's RSS grew.
#
#   RATES=off   also turn limits.rate off, to see the queue bound alone
#   LIMITS      one line of YAML under limits: instead, e.g.
#               "outbound_queue_bytes: 2MiB"
#   EXTRA       more YAML appended to the config (other top-level keys)
#   PARLEY_BIN  use this binary instead of building one
#   SERVER_BIN  run this binary as the server (e.g. an older Parley; the
#               generator is still PARLEY_BIN's)
#   OUT         work folder (wiped; default /tmp/parley-flood)
#   DURATION    default 10s; SIZE default 204800 (bytes per message body)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-/tmp/parley-flood}
DURATION=${DURATION:-10s}
SIZE=${SIZE:-204800}
rm -rf "$OUT"
mkdir -p "$OUT/data"
BIN=$OUT/parley
if [ -n "${PARLEY_BIN:-}" ]; then cp "$PARLEY_BIN" "$BIN"; else (cd "$ROOT" && go build -o "$BIN" ./cmd/parley); fi
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=localhost \
	-addext subjectAltName=DNS:localhost -keyout "$OUT/key.pem" -out "$OUT/cert.pem" 2>/dev/null
cat >"$OUT/parley.yaml" <<YAML
domains: [localhost]
data_dir: $OUT/data
listeners:
  - {type: c2s, address: "127.0.0.1:25222"}
tls:
  certificates: [{cert: $OUT/cert.pem, key: $OUT/key.pem}]
log: {level: warn}
YAML
LIMITS=${LIMITS:-}
if [ "${RATES:-on}" = off ]; then LIMITS="rate: {bytes_per_second: 0, stanzas_per_second: 0}"; fi
if [ -n "$LIMITS" ]; then printf 'limits:\n  %s\n' "$LIMITS" >>"$OUT/parley.yaml"; fi
if [ -n "${EXTRA:-}" ]; then printf '%s\n' "$EXTRA" >>"$OUT/parley.yaml"; fi
for u in user0 user1; do echo password | "$BIN" user add --config "$OUT/parley.yaml" "$u@localhost" >/dev/null; done
"${SERVER_BIN:-$BIN}" serve --config "$OUT/parley.yaml" 2>"$OUT/parley.log" &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do
	if (exec 3<>/dev/tcp/127.0.0.1/25222) 2>/dev/null; then break; fi
	sleep 0.1
done
"$BIN" bench --address 127.0.0.1:25222 --domain localhost --cafile "$OUT/cert.pem" --sources "" \
	--scenario flood --count 4 --first 0 --size "$SIZE" --duration "$DURATION" --pid $PID --quiet "$@"
kill $PID
wait $PID 2>/dev/null || true
grep -c 'slow consumer' "$OUT/parley.log" | sed 's/^/slow consumers closed: /'
