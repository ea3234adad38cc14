#!/bin/bash
# bench/login-prof.sh BIN... — a login storm (TLS + SCRAM-SHA-1, fresh
# clients: full handshakes) against each Parley binary given, with the
# CPU each side spent: the server (CPU 0) and the generator (CPU 1) each
# get a CPU profile, and their CPU time per login (user + system, from
# /proc) is added to the report, so that a run says which side was
# saturated. Uses the accounts, SCRAM keys and configuration that
# bench/idle-mem.sh left in $OUT (run that first, with the same OUT and
# N ≥ COUNT); CERT=rsa (default) serves an RSA-2048 certificate instead
# of the ECDSA one. COUNT (2000) logins at CONCURRENCY (64) in flight.
# Prints one JSON line per binary (the bench report with "binary",
# "cert", "server_cpu_ms_per_login", "gen_cpu_ms_per_login"); profiles
# in $OUT/login-BIN-CERT-{server,gen}.pprof. Hold the bench lock.
set -euo pipefail
OUT=${OUT:-/tmp/parley-idle-mem}
COUNT=${COUNT:-2000}
CONCURRENCY=${CONCURRENCY:-64}
CERT=${CERT:-rsa}
SERVER_CPU=${SERVER_CPU:-0}
GEN_CPU=${GEN_CPU:-1}
[ -f "$OUT/accounts.done" ] || { echo "login-prof.sh: run bench/idle-mem.sh first (OUT=$OUT)" >&2; exit 2; }
if [ "$CERT" = rsa ] && [ ! -f "$OUT/rsa-key.pem" ]; then
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
		-keyout "$OUT/rsa-key.pem" -out "$OUT/rsa-cert.pem" 2>/dev/null
fi
cfg=$OUT/parley.yaml
if [ "$CERT" = rsa ]; then
	sed -e "s|$OUT/cert.pem|$OUT/rsa-cert.pem|; s|$OUT/key.pem|$OUT/rsa-key.pem|" "$OUT/parley.yaml" >"$OUT/parley-rsa.yaml"
	cfg=$OUT/parley-rsa.yaml
fi

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

for bin in "$@"; do
	tag=$(basename "$bin")-$CERT
	taskset -c "$SERVER_CPU" "$bin" serve --config "$cfg" --pprof 127.0.0.1:17460 >>"$OUT/server.log" 2>&1 &
	pid=$!
	for _ in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/17422) 2>/dev/null && break; sleep 0.2; done
	sleep 2
	s0=$(cpu_ticks $pid)
	curl -s -o "$OUT/login-$tag-server.pprof" "http://127.0.0.1:17460/debug/pprof/profile?seconds=${PROF_SECONDS:-8}" &
	c=$!
	/usr/bin/time -f '%U %S' -o "$OUT/gen-time" taskset -c "$GEN_CPU" "$bin" bench --address 127.0.0.1:17422 \
		--domain localhost --user 'user%d' --password benchpass --mechanism SCRAM-SHA-1 --curves x25519 \
		--tls starttls --insecure --key-file "$OUT/scram-keys.json" --scenario login --count "$COUNT" \
		--concurrency "$CONCURRENCY" --quiet --json --cpuprofile "$OUT/login-$tag-gen.pprof" >"$OUT/report.json"
	s1=$(cpu_ticks $pid)
	wait $c || true
	kill $pid
	wait $pid 2>/dev/null || true
	read -r gu gs <"$OUT/gen-time"
	jq -c --arg b "$bin" --arg cert "$CERT" --argjson st $((s1 - s0)) --argjson gu "$gu" --argjson gs "$gs" \
		'. + {binary: $b, cert: $cert,
		      server_cpu_ms_per_login: ($st * 10 / .logins),
		      gen_cpu_ms_per_login: (($gu + $gs) * 1000 / .logins)}' "$OUT/report.json"
done
